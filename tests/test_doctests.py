"""The examples in the package's docstrings run, and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import vlmlab

# python -m entry points: importing them is harmless (their main() runs only under __main__)
MODULES = ["vlmlab"] + sorted(m.name for m in pkgutil.walk_packages(vlmlab.__path__, "vlmlab."))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _doctests(module_name):
    module = importlib.import_module(module_name)
    return [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, module_name) if t.examples]


WITH_EXAMPLES = [name for name in MODULES if _doctests(name)]


def test_the_package_has_examples_to_run():
    # The module list comes from the package itself: a module that gains an example joins automatically.
    assert {"vlmlab", "vlmlab.data", "vlmlab.patches", "vlmlab.tiling"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("module_name", WITH_EXAMPLES)
def test_docstring_examples(module_name):
    import io

    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _doctests(module_name):
        runner.run(test, out=report.write)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, report.getvalue()
