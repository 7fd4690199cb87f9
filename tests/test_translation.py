"""The Korean edition follows the English one: code identical, every markdown cell translated and current,
terms as the glossary says. The first tests check the machinery on small notebooks; the rest check the
real edition, and fail naming the notebook, the cell and the command to run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from vlmlab import glossary, nbtools, translation

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = sorted((ROOT / "notebooks").glob("*.ipynb"))
KOREAN = sorted((ROOT / "notebooks" / "ko").glob("*.ipynb"))


def _md(cell_id, text, **meta):
    return {"cell_type": "markdown", "id": cell_id, "metadata": meta, "source": text}


def _code(cell_id, text):
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "source": text, "outputs": [], "execution_count": None}


def _nb(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


ENGLISH_INTRO = "A ViT reads an image as a sequence of patches."
KOREAN_INTRO = "ViT는 이미지를 패치의 시퀀스로 읽습니다."


def _translated_pair():
    english = _nb(_md("a", ENGLISH_INTRO), _code("b", "x = 1"))
    korean = translation.synced(english, None)
    korean["cells"][0]["source"] = KOREAN_INTRO
    korean["cells"][0]["metadata"]["vlmlab"] = {"translates": translation.text_hash(ENGLISH_INTRO)}
    return english, korean


def test_sync_copies_code_and_brings_new_markdown_in_english_unmarked():
    english = _nb(_md("a", ENGLISH_INTRO), _code("b", "x = 1"))
    korean = translation.synced(english, None)
    assert korean["cells"][1] == english["cells"][1]
    assert [lag.kind for lag in translation.lags(english, korean)] == ["untranslated"]


def test_a_current_translation_has_no_lag_and_survives_a_code_change():
    english, korean = _translated_pair()
    assert translation.lags(english, korean) == []
    english["cells"][1]["source"] = "x = 2"
    assert [(lag.kind, lag.cell_id) for lag in translation.lags(english, korean)] == [("code", "b")]
    again = translation.synced(english, korean)
    assert again["cells"][0]["source"] == KOREAN_INTRO and again["cells"][1]["source"] == "x = 2"
    assert translation.lags(english, again) == []


def test_editing_english_prose_makes_its_translation_stale():
    english, korean = _translated_pair()
    english["cells"][0]["source"] = ENGLISH_INTRO + " Each patch becomes one token."
    (lag,) = translation.lags(english, korean)
    assert (lag.index, lag.cell_id, lag.kind) == (0, "a", "stale")
    sentence = lag.sentence(Path("notebooks/ko/01_x.ipynb"))
    assert "notebooks/ko/01_x.ipynb" in sentence and "cell 0 (id a)" in sentence
    assert "python -m vlmlab.translation done notebooks/ko/01_x.ipynb a" in sentence


def test_a_cell_marked_translated_but_still_english_is_untranslated():
    english, korean = _translated_pair()
    korean["cells"][0]["source"] = ENGLISH_INTRO  # marked current, never translated
    assert [lag.kind for lag in translation.lags(english, korean)] == ["untranslated"]


def test_a_formula_only_cell_may_stay_as_it_is():
    english = _nb(_md("a", "$$N = (H/P)(W/P)$$"))
    korean = translation.synced(english, None)
    korean["cells"][0]["metadata"]["vlmlab"] = {"translates": translation.text_hash("$$N = (H/P)(W/P)$$")}
    assert translation.lags(english, korean) == []


def test_cells_out_of_order_are_a_structure_lag():
    english, korean = _translated_pair()
    korean["cells"].reverse()
    assert [lag.kind for lag in translation.lags(english, korean)] == ["structure"]
    assert translation.lags(english, translation.synced(english, korean)) == []


def test_sync_drops_cells_the_english_notebook_no_longer_has():
    english, korean = _translated_pair()
    korean["cells"].append(_md("gone", "사라진 셀"))
    assert [c["id"] for c in translation.synced(english, korean)["cells"]] == ["a", "b"]


def test_apply_and_done_mark_cells_current(tmp_path):
    english = _nb(_md("a", ENGLISH_INTRO), _code("b", "x = 1"), _md("c", "The end of the notebook is here."))
    (tmp_path / "ko").mkdir()
    en_path, ko_path = tmp_path / "01_x.ipynb", tmp_path / "ko" / "01_x.ipynb"
    en_path.write_text(nbtools.dumps(english))
    assert len(translation.sync(en_path)) == 2 and ko_path.exists()
    translation.apply(ko_path, {"a": KOREAN_INTRO})
    assert [lag.cell_id for lag in translation.lags(translation.read(en_path), translation.read(ko_path))] == ["c"]
    translation.apply(ko_path, {"c": "노트북의 끝입니다."})
    assert translation.check(en_path) == []
    # The English changes; the translation still holds (say so with `done`).
    english["cells"][2]["source"] = "The end of the notebook is here!"
    en_path.write_text(nbtools.dumps(english))
    assert len(translation.check(en_path)) == 1
    translation.done(ko_path, ["c"])
    assert translation.check(en_path) == []
    with pytest.raises(ValueError, match="'b' is a code cell"):
        translation.done(ko_path, ["b"])
    with pytest.raises(ValueError, match="cell id 'zz' is not in this notebook"):
        translation.apply(ko_path, {"zz": "없음"})


def test_paths_between_editions():
    assert translation.korean_path("notebooks/03_x.ipynb") == Path("notebooks/ko/03_x.ipynb")
    assert translation.english_path("notebooks/ko/03_x.ipynb") == Path("notebooks/03_x.ipynb")
    with pytest.raises(ValueError, match="not in a 'ko' folder"):
        translation.english_path("notebooks/03_x.ipynb")


# The real edition.

def test_every_english_notebook_has_a_korean_one():
    assert [p.name for p in KOREAN] == [p.name for p in ENGLISH]


@pytest.mark.parametrize("path", ENGLISH, ids=[p.name for p in ENGLISH])
def test_korean_notebook_is_in_step(path):
    found = translation.check(path)
    assert found == [], "the Korean edition is behind:\n" + "\n".join(found)


def test_the_test_fails_when_english_prose_changes_alone():
    """Edit one English markdown cell (in memory) and the real Korean notebook is reported stale at that cell."""
    english = translation.read(ENGLISH[1])
    korean = translation.read(translation.korean_path(ENGLISH[1]))
    index = next(i for i, c in enumerate(english["cells"]) if c["cell_type"] == "markdown")
    english["cells"][index]["source"] = "".join(english["cells"][index]["source"]) + "\nOne more sentence."
    assert [(lag.index, lag.kind) for lag in translation.lags(english, korean)] == [(index, "stale")]


def _markdown(path) -> str:
    return "\n".join("".join(c["source"]) for c in translation.read(path)["cells"] if c["cell_type"] == "markdown")


@pytest.mark.parametrize("edition", ["en", "ko"])
def test_notebook_00_shows_the_glossary(edition):
    path = ROOT / "notebooks" / ("ko/" if edition == "ko" else "") / "00_start_here.ipynb"
    assert glossary.markdown(edition) in _markdown(path), f"{path.name} ({edition}): paste vlmlab.glossary.markdown({edition!r})"


@pytest.mark.parametrize("path", ENGLISH, ids=[p.name for p in ENGLISH])
def test_korean_prose_uses_the_glossary_terms(path):
    english, korean = _markdown(path), _markdown(translation.korean_path(path))
    missing = [f"{t.english} -> {t.korean}" for t in glossary.TERMS
               if re.search(rf"(?<![\w-]){re.escape(t.english)}", english, re.I) and t.korean not in korean]
    avoided = [f"{word} (say {t.korean})" for t in glossary.TERMS for word in t.avoid if word in korean]
    assert missing == [], f"ko/{path.name} never uses the glossary's word for: {missing}"
    assert avoided == [], f"ko/{path.name} uses words the glossary replaces: {avoided}"


@pytest.mark.parametrize("path", KOREAN, ids=[p.name for p in KOREAN])
def test_korean_header_lists_the_same_objectives(path):
    """Under **배울 내용**, as the book's course map reads them (nbtools.learning_objectives)."""
    english = nbtools.learning_objectives(translation.read(translation.english_path(path)))
    korean = nbtools.learning_objectives(translation.read(path))
    assert len(korean) == len(english) > 0, f"ko/{path.name}: {len(korean)} objectives under **배울 내용**, English has {len(english)}"


@pytest.mark.parametrize("path", KOREAN, ids=[p.name for p in KOREAN])
def test_korean_header_says_the_minutes(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    header = "".join(nb["cells"][0]["source"])
    assert re.findall(r"\*\*시간:\*\* 약 (\d+)분", header) == [str(nb["metadata"]["vlmlab"]["minutes"])]


def test_make_lab_ko_opens_the_first_korean_notebook():
    if shutil.which("make") is None:
        pytest.skip("needs make")
    shown = subprocess.run(["make", "-n", "lab-ko"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "--LabApp.default_url=/lab/tree/notebooks/ko/00_start_here.ipynb" in shown.stdout, shown.stdout + shown.stderr


def test_the_readmes_link_both_ways():
    assert "[README.ko.md](README.ko.md)" in (ROOT / "README.md").read_text(encoding="utf-8").split("\n## ")[0]
    assert "[README.md](README.md)" in (ROOT / "README.ko.md").read_text(encoding="utf-8").split("\n## ")[0]


def test_the_command_line_says_what_is_behind_and_fails_check(tmp_path, capsys):
    english = _nb(_md("a", ENGLISH_INTRO), _code("b", "x = 1"))
    en_path = tmp_path / "01_x.ipynb"
    en_path.write_text(nbtools.dumps(english))
    assert translation.main(["sync", str(en_path)]) == 0          # sync writes and lists, and does not fail
    assert "(id a) is not translated yet" in capsys.readouterr().out
    assert translation.main(["check", str(en_path)]) == 1         # check fails while anything is behind
    (tmp_path / "new.json").write_text(json.dumps({"a": KOREAN_INTRO}, ensure_ascii=False))
    assert translation.main(["apply", str(tmp_path / "ko" / "01_x.ipynb"), str(tmp_path / "new.json")]) == 0
    assert translation.main(["check", str(en_path)]) == 0
    assert "in step with 1 English notebooks" in capsys.readouterr().out
