import subprocess
import sys

import pipelines


def test_import_is_cheap():
    # Names load on first use, so `import pipelines` costs neither TF nor pandas.
    code = "import sys, pipelines; print('tensorflow' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_exports_resolve():
    for name in pipelines.__all__:
        assert callable(getattr(pipelines, name)), name
    assert "forecast_dataset" in dir(pipelines)
