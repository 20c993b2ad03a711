"""Runs the `Example:` of every docstring in `kerasseq`, `pipelines` and `tuning`.

One case per module, as keras-hub's `docstring_test.py` does: a broken
example fails its module's case. Examples see the globals of their module
plus `np` and `keras`, the two imports Keras' own examples assume. An
example that needs a dataset or the network is marked `# doctest: +SKIP`.
"""

import doctest
import importlib
import importlib.util
import pkgutil
import types

import keras
import numpy as np
import pytest

PACKAGES = ["kerasseq", "pipelines", "tuning"]
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names():
    # Found without importing the top packages, so that one that fails to
    # import is a failing case of its own, not an error of the collection.
    names = []
    for package_name in PACKAGES:
        locations = importlib.util.find_spec(package_name).submodule_search_locations
        names.append(package_name)
        names.extend(
            info.name for info in pkgutil.walk_packages(locations, prefix=f"{package_name}.")
        )
    return sorted(names)


def run_examples(module):
    """Runs `module`'s doctests; returns `(attempted, failure reports)`."""
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    reports = []
    for test in finder.find(module, extraglobs={"np": np, "keras": keras}):
        # The runner prints failures; collect them for the assertion message.
        runner.run(test, out=reports.append)
    return runner.tries, reports


@pytest.mark.parametrize("module_name", _module_names())
def test_docstring_examples(module_name):
    attempted, reports = run_examples(importlib.import_module(module_name))
    assert not reports, "".join(reports)


BROKEN = '''
def add(a, b):
    """Adds.

    Example:
    >>> add(1, 2)
    4
    """
    return a + b
'''


def test_a_broken_example_fails():
    # No test that cannot fail: the runner above must report a wrong output.
    module = types.ModuleType("broken_example")
    module.__file__ = "broken_example.py"
    exec(BROKEN, module.__dict__)
    attempted, reports = run_examples(module)
    assert attempted == 1
    assert reports and "Expected:\n    4\nGot:\n    3" in "".join(reports)


def test_walk_finds_the_layers():
    assert {"kerasseq.layers.elman", "kerasseq.layers.gru", "kerasseq.layers.lstm"} <= set(
        _module_names()
    )
