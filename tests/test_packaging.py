"""A wheel of vlmlab carries its data: built, installed outside the repository, it loads a toy model and a sample.

The wheel is built from a copy of the sources (so nothing is written into the
working tree), with the setuptools already installed (``--no-build-isolation``,
offline). It is installed with ``--no-deps`` into a fresh virtual environment
whose ``.pth`` file lists this environment's ``site-packages``: torch and
transformers import from there, while that folder's own ``.pth`` files, among
them the editable install's finder, are not run (Python runs the ``.pth``
files of its site folders only). The check runs from a temporary folder, so
the repository is not importable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "vlmlab", "data")
SHARED = re.compile(r"^vlmlab-[^/]+\.data/data/share/vlmlab/data/(.+)$")


def _copy_sources(to: Path) -> Path:
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, to / name, ignore=shutil.ignore_patterns("__pycache__", ".*", "*.egg-info"))
        else:
            shutil.copy2(source, to / name)
    return to


def _data_files() -> set[str]:
    """The files of data/ that a wheel must carry, relative to data/ (a training run's staging folders left out)."""
    data = REPO / "data"

    def kept(parts) -> bool:
        return not any(part.startswith(".") or part == "__pycache__" or part.endswith(".running") for part in parts)

    return {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file() and kept(p.relative_to(data).parts)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = _copy_sources(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "--wheel-dir", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (built,) = out.glob("vlmlab-*.whl")
    return built


def test_the_wheel_carries_every_file_of_data(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    # a wheel's data files sit under <name>-<version>.data/data/, which pip installs at the environment's data root
    shipped = {m[1] for m in map(SHARED.match, names) if m}
    assert shipped, "the wheel has no share/vlmlab/data: pyproject.toml's [tool.setuptools.data-files] is missing"
    assert shipped == _data_files(), (f"in data/ but not in the wheel: {sorted(_data_files() - shipped)}; "
                                      f"in the wheel only: {sorted(shipped - _data_files())}")
    assert "vlmlab/training/templates/toyclip_card.md" in names


def test_the_installed_wheel_loads_a_toy_model_and_a_sample_outside_the_repository(wheel, tmp_path):
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # torch, transformers, ... from this environment, without running its .pth files (the editable finder)
    (purelib / "vlmlab_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    check = (
        "import json, sys\n"
        "import vlmlab, vlmlab.clip, vlmlab.data\n"
        "model, processor = vlmlab.clip.load_clip()\n"
        "image = vlmlab.data.load_sample('chart')\n"
        "pixels = processor(images=image, return_tensors='pt').pixel_values\n"
        "print(json.dumps({'vlmlab': vlmlab.__file__, 'data': str(vlmlab.data.data_dir()),\n"
        "                  'size': [image.height, image.width], 'pixels': list(pixels.shape),\n"
        "                  'toy': vlmlab.clip.is_toy_clip(model), 'editable': any('editable' in str(type(f)).lower()\n"
        "                  or '__editable__' in type(f).__module__ for f in sys.meta_path),\n"
        "                  'repo_on_path': any(p.rstrip('/') == %r for p in sys.path)}))\n" % str(REPO)
    )
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VLMLAB_DATA", "VLMLAB_CLIP")}
    run = subprocess.run([str(python), "-c", check], cwd=tmp_path, env=clean_env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(got["vlmlab"]).is_relative_to(env) and not got["editable"] and not got["repo_on_path"], got
    assert Path(got["data"]) == env / "share" / "vlmlab" / "data", got
    assert got["size"] == [700, 2400] and got["pixels"] == [1, 3, 64, 64] and got["toy"], got
