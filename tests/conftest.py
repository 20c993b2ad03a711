"""Shared fixtures: locating the real data files of KERASSEQ_DATA_DIR."""

import os
from pathlib import Path

import pytest


def _require_data():
    # CI must run every data test: a missing file there is a failure, not a skip.
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("KERASSEQ_REQUIRE_DATA") == "1"


@pytest.fixture
def data_file():
    """Returns `find(name)`: the path of `name` in KERASSEQ_DATA_DIR, or skips.

    `name` is a path relative to the data directory, as in its README, e.g.
    `"jena/jena_climate_2009_2016.hourly-6cols.csv.gz"`. Under CI
    (`CI=true` or `KERASSEQ_REQUIRE_DATA=1`) a missing file fails the test.
    """
    root = os.environ.get("KERASSEQ_DATA_DIR")

    def find(name):
        path = Path(root or "") / name
        if not root or not path.is_file():
            message = f"{name} not found in KERASSEQ_DATA_DIR={root!r}"
            if _require_data():
                pytest.fail(message + " (CI requires the shared data)")
            pytest.skip(message)
        return path

    return find
