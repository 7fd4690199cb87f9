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


# A test may skip only for something this machine lacks (a browser, a GPU), and must say so:
# its reason starts with "needs ". Any other skip fails, so that a guard such as
# `importorskip("vlmlab.x")` or `if not hasattr(vlmlab.x, "f"): skip(...)` can't hide a
# missing or renamed part of the package, and a dev dependency that is not installed
# (`pip install -e .[dev]` installs them all) is an error, not a silent pass.
SKIP_REASON_PREFIX = "needs "


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _refuse_silent_skip(report) -> None:
    if not report.skipped or getattr(report, "wasxfail", None) is not None:
        return
    reason = _skip_reason(report)
    if not reason.startswith(SKIP_REASON_PREFIX):
        report.outcome = "failed"
        report.longrepr = (f"{report.nodeid} skipped with reason {reason!r}. Tests may skip only for what the "
                           f"machine lacks, with a reason that starts with {SKIP_REASON_PREFIX!r} (see tests/conftest.py).")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _refuse_silent_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _refuse_silent_skip(outcome.get_result())  # a module-level importorskip skips the whole file


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    import vlmlab

    vlmlab.set_seed(0)
    yield
