"""The short leak soak under valgrind, as part of `make check`.

test/soak/soak.py runs 200 rotations with hooks and 50 SIGHUPs against
vaultsim with the agent under valgrind memcheck (--leak-check=full): an
error or a definite or indirect leak makes the agent's exit status
nonzero, and a file descriptor open at the end that was not at the start
fails it too.  The release build is used whatever CERTAGENT_BIN is: an
ASan build cannot run under valgrind (`make integration` always builds
build/rel/certagent for the image).  `make soak` is the long run.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
REL_BIN = ROOT / "build" / "rel" / "certagent"


def test_a_short_soak_under_valgrind_leaks_nothing():
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed (make deps)")
    if not os.access(REL_BIN, os.X_OK):
        pytest.skip("%s not built (make integration builds it)" % REL_BIN)
    r = subprocess.run([sys.executable, str(ROOT / "test" / "soak" / "soak.py"),
                        "--binary", str(REL_BIN), "--rotations", "200", "--hups", "50",
                        "--valgrind"],
                       capture_output=True, text=True, timeout=900)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "soak: ok" in r.stdout
