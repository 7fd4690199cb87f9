"""Shared fixtures, and the rule that running the tests leaves the repo as it was."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Tests never download: fail fast instead of waiting on a hub that isn't there.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def _git_status() -> str | None:
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=REPO, capture_output=True, text=True, timeout=30, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # not a git checkout (e.g. an sdist): nothing to compare
    return out.stdout


def pytest_sessionstart(session):
    session.config._vlmlab_git_status = _git_status()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_vlmlab_git_status", None)
    after = _git_status()
    if before is None or after is None or before == after:
        return
    changed = sorted(set(after.splitlines()) ^ set(before.splitlines()))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "the test run changed files in the repository (tests must write only to temporary folders):\n  " + "\n  ".join(changed)
    if reporter is not None:
        reporter.write_sep("=", "working tree changed", red=True)
        reporter.write_line(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    import vlmlab

    vlmlab.set_seed(0)
    yield
