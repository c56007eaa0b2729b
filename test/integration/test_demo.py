"""`make demo` runs its script; the script must work from a fresh clone."""

import pathlib
import subprocess

from conftest import BIN, ROOT


def test_demo_logs_in_issues_a_certificate_and_stops_cleanly():
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "examples" / "demo" / "run.py"),
                        "--seconds", "4", "--binary", BIN],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "logged in with approle at auth/approle" in out
    assert "removed" in out and "secret-id after reading it" in out
    assert "demo-web: wrote 4 files from one issuance" in out
    assert "certificate on disk: serial=" in out and "web.key (600)" in out
    assert "certagent exited with 0; token sink" in out and "was mode 600" in out
