"""The Korean edition: ``notebooks/ko/`` mirrors ``notebooks/`` cell by cell, and says when it falls behind.

The English notebook is the source of truth for code and structure. Its Korean
counterpart has the same file name under ``notebooks/ko/`` and the same cells
in the same order, with the same ids:

- code cells are *copies* of the English ones: source, checked outputs and
  metadata (so the Korean notebook prints and checks exactly what the English
  one does);
- markdown cells are translations. Each records, in its metadata, a hash of the
  English text it translates (``metadata.vlmlab.translates``). When the English
  cell changes, the hash no longer matches and the translation is *stale*.

The commands (``make ko-sync`` runs the first)::

    python -m vlmlab.translation sync    # copy code cells over, add new cells, list what needs translating
    python -m vlmlab.translation check   # the same list, exit status 1 when anything is out of step
    python -m vlmlab.translation apply notebooks/ko/03_position_embeddings.ipynb new.json
                                          # put translations in ({cell id: Korean markdown}), mark them current
    python -m vlmlab.translation done notebooks/ko/03_position_embeddings.ipynb 1a2b3c4d
                                          # the Korean text of these cells still holds: mark them current

Changing English prose therefore means updating its Korean cell in the same
change; ``tests/test_translation.py`` fails otherwise, naming the notebook, the
cell and the command to run.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from vlmlab import nbtools

EDITION = "ko"
REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
_HANGUL = re.compile("[\uac00-\ud7a3]")
# What a markdown cell holds besides prose: code, maths, links' targets, HTML tags.
_NOT_PROSE = re.compile(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|\]\([^)]*\)|<[^>]+>", re.S)


def korean_path(english) -> Path:
    """``notebooks/03_x.ipynb`` -> ``notebooks/ko/03_x.ipynb``."""
    english = Path(english)
    return english.parent / EDITION / english.name


def english_path(korean) -> Path:
    """``notebooks/ko/03_x.ipynb`` -> ``notebooks/03_x.ipynb``."""
    korean = Path(korean)
    if korean.parent.name != EDITION:
        raise ValueError(f"korean={str(korean)!r} is not in a {EDITION!r} folder beside its English notebook")
    return korean.parent.parent / korean.name


def _shown(path: Path) -> str:
    """``path`` as a command typed in the repository would name it: relative to the current folder when inside it."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def edition_of(path) -> str:
    """"ko" for a notebook of the Korean edition (in a ``ko`` folder), else "en"."""
    return EDITION if Path(path).resolve().parent.name == EDITION else "en"


def counterpart(path) -> Path | None:
    """The same notebook in the other edition (``notebooks/ko/x.ipynb`` <-> ``notebooks/x.ipynb``), if it exists."""
    path = Path(path).resolve()
    other = english_path(path) if edition_of(path) == EDITION else korean_path(path)
    return other if other.exists() else None


def english_notebooks(folder=NOTEBOOKS) -> list[Path]:
    return sorted(Path(folder).glob("*.ipynb"))


def text_hash(text: str) -> str:
    """A short, stable fingerprint of an English markdown cell's text (16 hex digits of SHA-256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def translated_hash(cell: dict) -> str | None:
    """The hash of the English text this Korean cell translates, or None if it was never marked translated."""
    return cell.get("metadata", {}).get("vlmlab", {}).get("translates")


def _mark(cell: dict, english_text: str) -> None:
    cell.setdefault("metadata", {}).setdefault("vlmlab", {})["translates"] = text_hash(english_text)


def has_english_prose(text: str, words: int = 4) -> bool:
    """Whether ``text`` has at least ``words`` English words outside code, maths, link targets and tags."""
    return len(re.findall(r"[A-Za-z]{2,}", _NOT_PROSE.sub(" ", text))) >= words


def read(path) -> dict:
    """A notebook as it would be committed (:func:`vlmlab.nbtools.strip_notebook`): outputs a run left are ignored."""
    return nbtools.strip_notebook(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Lag:
    """One way a Korean cell is behind its English cell."""

    index: int        # the cell's place in the notebook, from 0
    cell_id: str
    kind: str         # "untranslated", "stale", "code", "structure"

    def sentence(self, korean: Path) -> str:
        name = _shown(korean)
        where = f"{name}: cell {self.index} (id {self.cell_id})"
        if self.kind == "code":
            return f"{where} is not the English code cell: run `python -m vlmlab.translation sync`"
        if self.kind == "structure":
            return (f"{where}: the cells do not follow the English notebook's (ids, order, types): "
                    "run `python -m vlmlab.translation sync`")
        if self.kind == "untranslated":
            return (f"{where} is not translated yet: write it in Korean, then "
                    f"`python -m vlmlab.translation done {name} {self.cell_id}`")
        return (f"{where} is stale: its English text changed since it was translated. Update the Korean, then "
                f"`python -m vlmlab.translation done {name} {self.cell_id}`")


def lags(english: dict, korean: dict) -> list[Lag]:
    """Every way ``korean`` is out of step with ``english`` (both in committed form), in cell order."""
    found = []
    en_cells, ko_cells = english["cells"], korean["cells"]
    if [(c.get("id"), c["cell_type"]) for c in en_cells] != [(c.get("id"), c["cell_type"]) for c in ko_cells]:
        first = next((i for i, (e, k) in enumerate(zip(en_cells, ko_cells))
                      if (e.get("id"), e["cell_type"]) != (k.get("id"), k["cell_type"])), min(len(en_cells), len(ko_cells)))
        cell_id = (ko_cells[first] if first < len(ko_cells) else en_cells[first]).get("id", "?")
        return [Lag(first, cell_id, "structure")]
    for i, (en, ko) in enumerate(zip(en_cells, ko_cells)):
        if en["cell_type"] != "markdown":
            if en != ko:
                found.append(Lag(i, en.get("id", "?"), "code"))
            continue
        english_text, korean_text = nbtools._source(en), nbtools._source(ko)
        marked = translated_hash(ko)
        if marked is None or (has_english_prose(english_text) and not _HANGUL.search(korean_text)):
            found.append(Lag(i, en.get("id", "?"), "untranslated"))
        elif marked != text_hash(english_text):
            found.append(Lag(i, en.get("id", "?"), "stale"))
    return found


def synced(english: dict, korean: dict | None) -> dict:
    """The Korean notebook brought into step with ``english``: its structure, code cells and notebook metadata.

    Markdown cells keep their Korean text and their ``translates`` mark, matched
    by cell id; a new English markdown cell arrives in English, unmarked
    (untranslated). Korean cells whose id the English notebook no longer has are dropped.
    """
    by_id = {c.get("id"): c for c in (korean or {}).get("cells", []) if c["cell_type"] == "markdown"}
    cells = []
    for en in english["cells"]:
        if en["cell_type"] == "markdown" and en.get("id") in by_id:
            ko = copy.deepcopy(by_id[en.get("id")])
            ko["metadata"] = {**copy.deepcopy(en.get("metadata", {})), "vlmlab": ko.get("metadata", {}).get("vlmlab", {})}
            if not ko["metadata"]["vlmlab"]:
                del ko["metadata"]["vlmlab"]
            cells.append(ko)
        else:
            cells.append(copy.deepcopy(en))
    out = copy.deepcopy(english)
    out["cells"] = cells
    return out


def sync(english_path_: Path) -> list[str]:
    """Write the Korean counterpart of ``english_path_`` in step with it; return what still needs translating."""
    english_path_ = Path(english_path_)
    target = korean_path(english_path_)
    korean = read(target) if target.exists() else None
    new = synced(read(english_path_), korean)
    if korean != new:
        target.parent.mkdir(exist_ok=True)
        target.write_text(nbtools.dumps(new), encoding="utf-8")
    return [lag.sentence(target) for lag in lags(read(english_path_), new)]


def check(english_path_: Path) -> list[str]:
    """What is out of step between an English notebook and its Korean counterpart, as sentences."""
    english_path_ = Path(english_path_)
    target = korean_path(english_path_)
    if not target.exists():
        return [f"{_shown(target)} does not exist: run `python -m vlmlab.translation sync`"]
    return [lag.sentence(target) for lag in lags(read(english_path_), read(target))]


def _cells_by_id(korean: dict, ids) -> dict[str, dict]:
    cells = {c.get("id"): c for c in korean["cells"]}
    for cell_id in ids:
        if cell_id not in cells:
            raise ValueError(f"cell id {cell_id!r} is not in this notebook; its ids: {sorted(map(str, cells))}")
        if cells[cell_id]["cell_type"] != "markdown":
            raise ValueError(f"cell {cell_id!r} is a {cells[cell_id]['cell_type']} cell: only markdown is translated")
    return cells


def apply(korean_path_: Path, translations: dict[str, str]) -> None:
    """Put Korean text into the markdown cells named by id, and mark each as translating the English text of now."""
    korean_path_ = Path(korean_path_)
    english = {c.get("id"): nbtools._source(c) for c in read(english_path(korean_path_))["cells"]}
    korean = read(korean_path_)
    cells = _cells_by_id(korean, translations)
    for cell_id, text in translations.items():
        cells[cell_id]["source"] = text
        _mark(cells[cell_id], english[cell_id])
    korean_path_.write_text(nbtools.dumps(korean), encoding="utf-8")


def done(korean_path_: Path, ids) -> None:
    """Mark the named Korean cells as translating their English cells' current text (after updating them)."""
    korean = {c.get("id"): nbtools._source(c) for c in read(korean_path_)["cells"]}
    apply(korean_path_, {cell_id: korean.get(cell_id) for cell_id in ids})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vlmlab.translation", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("sync", "check"):
        p = sub.add_parser(name)
        p.add_argument("notebooks", nargs="*", help="English notebooks (default: all of notebooks/)")
    p = sub.add_parser("apply")
    p.add_argument("korean")
    p.add_argument("translations", help="a JSON file: {cell id: Korean markdown}")
    p = sub.add_parser("done")
    p.add_argument("korean")
    p.add_argument("ids", nargs="+")
    args = parser.parse_args(argv)
    if args.command in ("sync", "check"):
        paths = [Path(p) for p in args.notebooks] or english_notebooks()
        found = [line for p in paths for line in (sync(p) if args.command == "sync" else check(p))]
        print("\n".join(found) if found else f"the {EDITION} edition is in step with {len(paths)} English notebooks")
        return 1 if found and args.command == "check" else 0
    if args.command == "apply":
        apply(Path(args.korean), json.loads(Path(args.translations).read_text(encoding="utf-8")))
    else:
        done(Path(args.korean), args.ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
