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


@pytest.mark.parametrize("readme, start", [("README.md", "notebooks/00_start_here.ipynb"),
                                           ("README.ko.md", "notebooks/ko/00_start_here.ipynb")])
def test_readme_table_and_notebook_00_map_agree(readme, start):
    """Each edition's README table and notebook 00 map (the Korean headers: tests/test_translation.py)."""
    expected = {k: str(v) for k, v in minutes_in_metadata().items()}
    table = dict(ROW.findall((ROOT / readme).read_text()))
    nb = json.loads((ROOT / start).read_text())
    course_map = dict(ROW.findall("\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")))
    assert table == expected, f"{readme}'s notebook table"
    assert course_map == expected, f"{start}'s map"
