"""The package installs with pip into a virtual environment made from Debian's python3 with
--system-site-packages (numpy, scikit-learn from Debian; no index), and imports there.

pip builds in the folder it is given, so it is given a copy of the package (the source
tree stays clean)."""

import os
import shutil
import subprocess
import sys

import autoenc
from conftest import PACKAGE_ROOT

CHECK = r"""
import os, sys
import numpy as np
import autoenc
assert os.path.realpath(autoenc.__file__).startswith(os.path.realpath(sys.prefix)), autoenc.__file__
assert os.path.exists(os.path.join(os.path.dirname(autoenc.__file__), "py.typed"))
from importlib.metadata import version
assert version("autoenc") == autoenc.__version__, version("autoenc")
x = np.random.default_rng(0).random((100, 8), dtype=np.float32)
est = autoenc.Autoencoder(epochs=2, random_state=0).fit(x)
print(autoenc.__version__, autoenc.version_string(), est.transform(x).shape)
"""


def test_pip_installs_into_a_venv_and_the_package_imports(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(PACKAGE_ROOT, source, ignore=shutil.ignore_patterns(
        "tests", "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    venv = tmp_path / "venv"
    base = sys.executable if sys.prefix == sys.base_prefix else "/usr/bin/python3"
    subprocess.run([base, "-m", "venv", "--system-site-packages", str(venv)], check=True,
                   timeout=300, capture_output=True)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    install = subprocess.run([python, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                              str(source)], capture_output=True, text=True, env=env, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    env["AUTOENC_LIBRARY"] = autoenc.library_path
    run = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, env=env,
                         cwd=str(tmp_path), timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] == autoenc.__version__
