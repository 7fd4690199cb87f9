"""Each notebook's reading time lives in one place, its metadata (``vlmlab.minutes``); the notebook's
header, the README's table and notebook 00's map must say the same number."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ROW = re.compile(r"^\| (\d\d) \|.*\| (\d+) \|$", re.M)  # a map row: | 03 | ... | 25 |


def minutes_in_metadata() -> dict[str, int]:
    found = {}
    for path in NOTEBOOKS:
        meta = json.loads(path.read_text())["metadata"]
        assert isinstance(meta.get("vlmlab", {}).get("minutes"), int), f"{path.name}: no metadata vlmlab.minutes"
        found[path.name[:2]] = meta["vlmlab"]["minutes"]
    return found


def test_every_notebook_has_its_minutes():
    assert len(minutes_in_metadata()) == len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_header_says_the_metadata_minutes(path):
    nb = json.loads(path.read_text())
    header = "".join(nb["cells"][0]["source"])
    said = re.findall(r"\*\*Time:\*\* about (\d+) minutes", header)
    assert said == [str(nb["metadata"]["vlmlab"]["minutes"])], f"{path.name} header says {said}"


def test_readme_table_and_notebook_00_map_agree():
    expected = minutes_in_metadata()
    readme = dict(ROW.findall((ROOT / "README.md").read_text()))
    start = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text())
    course_map = dict(ROW.findall("\n".join("".join(c["source"]) for c in start["cells"] if c["cell_type"] == "markdown")))
    as_text = {k: str(v) for k, v in expected.items()}
    assert readme == as_text, "README's notebook table"
    assert course_map == as_text, "notebook 00's map"


def test_the_korean_edition_says_the_same_minutes():
    """README.ko.md's table and the Korean notebook 00's map (the Korean headers: tests/test_translation.py)."""
    expected = {k: str(v) for k, v in minutes_in_metadata().items()}
    readme = dict(ROW.findall((ROOT / "README.ko.md").read_text()))
    start = json.loads((ROOT / "notebooks" / "ko" / "00_start_here.ipynb").read_text())
    course_map = dict(ROW.findall("\n".join("".join(c["source"]) for c in start["cells"] if c["cell_type"] == "markdown")))
    assert readme == expected, "README.ko.md's notebook table"
    assert course_map == expected, "the Korean notebook 00's map"
