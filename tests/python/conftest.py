"""pytest set-up for the Python module's tests (tests/python/, run by scripts/test.sh):

    PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python

FF_BUILD (default build) is where the module and the command are; FF_DEMO_OUT, when set, a
`faceforge demo --quick` output folder to reuse (else the `demo` fixture makes one, ~1 minute)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("FF_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))
sys.path.insert(0, os.path.join(ROOT, "tools"))  # torch_models, convert_torch


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A `faceforge demo --quick` folder: synthetic faces and the three trained networks."""
    out = os.environ.get("FF_DEMO_OUT")
    if out and os.path.isfile(os.path.join(out, "faceforge_demo.txt")):
        return out
    out = out or str(tmp_path_factory.mktemp("demo"))
    subprocess.run([os.path.join(BUILD, "faceforge"), "demo", "--quick", "--out", out], check=True,
                   stdout=subprocess.DEVNULL)
    return out
