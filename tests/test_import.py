"""Import cost (STYLE section 10): `import kerasseq` and the CLI load no
pandas, KerasTuner, matplotlib or dataset code of their own."""

import subprocess
import sys

HEAVY = ("pandas", "keras_tuner", "matplotlib", "pipelines")

# Keras itself imports pandas and matplotlib when they are installed (for its
# data adapters and plotting utilities), so their presence in sys.modules
# says nothing about kerasseq. Blocking them instead (a None entry makes
# `import pandas` raise ImportError, which Keras tolerates) fails the import
# of any kerasseq module that needs them at import time.
SCRIPT = f"""
import sys
for name in {HEAVY!r}:
    sys.modules[name] = None
import kerasseq
import kerasseq.cli
kerasseq.cli.build_parser()
loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in {HEAVY!r} and sys.modules[m] is not None)
assert not loaded, loaded
"""

# KerasTuner and the pipelines are not Keras dependencies: not even loaded.
UNBLOCKED = """
import sys
import kerasseq
import kerasseq.cli
kerasseq.cli.build_parser()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("keras_tuner", "pipelines"))
assert not loaded, loaded
"""


def run(script):
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_import_needs_no_heavy_modules():
    run(SCRIPT)


def test_import_loads_no_tuner_or_pipelines():
    run(UNBLOCKED)
