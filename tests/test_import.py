"""Import cost (STYLE section 10): `import kerasseq` and the CLI load no
pandas, KerasTuner, matplotlib or dataset code of their own.

kerasseq takes its argument checks from `pipelines.validation` (pure
Python) and registers the text preprocessing that saved models contain
(`pipelines.preprocessing`, Keras objects only), so `pipelines` and those
two modules may load; no other pipelines module.
"""

import pkgutil
import subprocess
import sys

import pipelines

HEAVY = ("pandas", "keras_tuner", "matplotlib")
# Listed from the package directory, so a new pipelines module is covered.
ALLOWED_PIPELINES = ("pipelines", "pipelines.validation", "pipelines.preprocessing")
DATASET_CODE = tuple(
    f"pipelines.{m.name}" for m in pkgutil.iter_modules(pipelines.__path__)
    if f"pipelines.{m.name}" not in ALLOWED_PIPELINES
)

# Keras itself imports pandas and matplotlib when they are installed (for its
# data adapters and plotting utilities), so their presence in sys.modules
# says nothing about kerasseq. Blocking them instead (a None entry makes
# `import pandas` raise ImportError, which Keras tolerates) fails the import
# of any kerasseq module that needs them at import time. The pipelines
# dataset modules are blocked the same way.
SCRIPT = f"""
import sys
for name in {HEAVY + DATASET_CODE!r}:
    sys.modules[name] = None
import kerasseq
import kerasseq.cli
kerasseq.cli.build_parser()
loaded = sorted(m for m in sys.modules
                if (m.split(".")[0] in {HEAVY!r} or m in {DATASET_CODE!r}) and sys.modules[m] is not None)
assert not loaded, loaded
"""

# KerasTuner and the pipelines' dataset code are not Keras dependencies: not
# even loaded.
UNBLOCKED = f"""
import sys
import kerasseq
import kerasseq.cli
kerasseq.cli.build_parser()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("keras_tuner", "pipelines"))
assert set(loaded) <= set({ALLOWED_PIPELINES!r}), loaded
"""


def run(script):
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_dataset_code_is_listed():
    assert {"pipelines.data", "pipelines.tables", "pipelines.weather", "pipelines.windows"} <= set(DATASET_CODE)


def test_import_needs_no_heavy_modules():
    run(SCRIPT)


def test_import_loads_no_tuner_or_pipelines_dataset_code():
    run(UNBLOCKED)
