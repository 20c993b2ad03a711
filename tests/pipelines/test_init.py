import pkgutil
import subprocess
import sys

import pipelines

# Modules that need neither TensorFlow nor Keras at import time: everything
# but the windowing, which builds `tf.data` pipelines.
LIGHT = ("pipelines", "pipelines.validation", "pipelines.data", "pipelines.tables", "pipelines.splits",
         "pipelines.weather", "pipelines.lm")
ALL = ["pipelines"] + [f"pipelines.{m.name}" for m in pkgutil.iter_modules(pipelines.__path__)]


def loaded_after(modules, prefixes):
    """Imports `modules` in a fresh interpreter; returns the loaded modules
    whose top-level package is in `prefixes`."""
    code = (
        "import importlib, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {tuple(prefixes)!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_import_is_cheap():
    # Names load on first use, so `import pipelines` costs neither TF nor pandas.
    code = "import sys, pipelines; print('tensorflow' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_light_modules_load_no_kerasseq_tensorflow_or_keras():
    # kerasseq's __init__ starts TensorFlow and registers layers: reading a
    # CSV must cost neither.
    assert loaded_after(LIGHT, ("kerasseq", "tensorflow", "keras", "tf_keras")) == "[]"


def test_no_pipelines_module_imports_kerasseq():
    # pipelines is the lower layer: kerasseq may import it, never the reverse.
    assert "pipelines.windows" in ALL and "pipelines.validation" in ALL, ALL
    assert loaded_after(ALL, ("kerasseq",)) == "[]"


def test_exports_resolve():
    for name in pipelines.__all__:
        assert callable(getattr(pipelines, name)), name
    assert "forecast_dataset" in dir(pipelines)
