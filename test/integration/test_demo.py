"""`make demo` runs examples/demo/run.py; it must work from a fresh clone
and show what it says it shows.

The demo writes its own lines ("demo: ...", "web server: ...") to stdout;
certagent's log goes to stderr, which is what the secret checks read.
"""

import importlib.util
import os
import re
import signal
import subprocess
import threading
import time

from conftest import BIN, ROOT

RUN = ROOT / "examples" / "demo" / "run.py"


def demo_secrets():
    """Every kv value the demo writes into vaultsim (from run.py itself)."""
    spec = importlib.util.spec_from_file_location("demo_run", RUN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    values = [mod.NEW_API_KEY]
    for data in mod.SECRETS.values():
        values += [str(v) for v in data.values() if isinstance(v, str)]
    return values


def assert_no_secret_in_agent_log(agent_log):
    for value in demo_secrets():
        assert value not in agent_log, "secret value %r in certagent's log" % value


def assert_gone(pids):
    deadline = time.time() + 5
    while time.time() < deadline and any(os.path.exists("/proc/%d" % p) for p in pids):
        time.sleep(0.1)
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        assert state == "Z", "pid %d still running after the demo ended" % p


def check_start(out, log):
    """What the first seconds must show (stdout OUT, certagent's log LOG)."""
    assert "logged in with approle at auth/approle" in log
    assert "removed" in log and "secret-id after reading it" in log
    assert "demo-web: wrote 4 files from one issuance" in log
    issued = re.search(r"demo-web: issued serial ([0-9a-f:]+)", log).group(1)
    assert re.search(r"templates: templates\[\d\]: rendered \S+/app\.env", log), log
    assert re.search(r"templates: templates\[\d\]: rendered \S+/flags\.json", log), log
    assert "every file is in place: 1 certificate, 2 templates" in log

    assert "certificate on disk: serial %s" % issued in out
    assert "web.key (600)" in out and "web.crt (644)" in out
    assert "app.env rendered (mode 600): DB_USER, DB_PASSWORD, API_KEY" in out
    assert "flags.json rendered (mode 644)" in out
    assert re.search(r"readyz -> 200 ready", out), out
    web_pid = int(re.search(r"web server: pid (\d+), https://127\.0\.0\.1:\d+/, "
                            r"certificate serial %s" % issued, out).group(1))
    # The probe, a client that trusts only ca.pem, saw the first certificate.
    assert "web server now serves serial %s" % issued in out
    agent_pid = int(re.search(r"certagent \(pid (\d+)\)", out).group(1))
    return issued, [web_pid, agent_pid]


def test_demo_first_seconds_and_clean_stop():
    t = time.time()
    r = subprocess.run(["/usr/bin/python3", str(RUN), "--seconds", "8", "--binary", BIN],
                       capture_output=True, text=True, timeout=60)
    out, log = r.stdout, r.stderr
    assert r.returncode == 0, out + log
    issued, pids = check_start(out, log)
    web_pid = pids[0]
    # The first issuance is a change too: both hooks ran once.
    assert re.search(r"hooks: web-server: sent SIGHUP to pid %d \(from \S+/web\.pid\) "
                     r"for 4 changed files" % web_pid, log), log
    assert re.search(r"hooks: app: stdout: app config changed: \S+(app\.env|flags\.json) "
                     r"\S+(app\.env|flags\.json)", log), log
    assert "from /metrics: certagent_issuances_total 1;" in out
    assert "agent: SIGTERM: stopping" in log
    assert "certagent exited with 0; token sink" in out and "was mode 600" in out
    assert "key file mode 600" in out
    assert "web server: stopped" in out
    assert_no_secret_in_agent_log(log)
    assert_gone(pids)
    assert time.time() - t < 30


def test_demo_rotation_kv_change_and_ctrl_c():
    """Run until the web server serves a renewed certificate (about 65 s),
    then press Ctrl-C: SIGINT to the demo's whole process group, as a
    terminal does."""
    p = subprocess.Popen(["/usr/bin/python3", str(RUN), "--binary", BIN],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    out_lines, log_lines = [], []

    def pump(stream, into):
        for line in stream:
            into.append(line)

    readers = [threading.Thread(target=pump, args=(p.stdout, out_lines), daemon=True),
               threading.Thread(target=pump, args=(p.stderr, log_lines), daemon=True)]
    for th in readers:
        th.start()
    served = []
    deadline = time.time() + 85
    try:
        while time.time() < deadline and len(served) < 2 and p.poll() is None:
            time.sleep(0.5)
            served = re.findall(r"web server now serves serial ([0-9a-f:]+)",
                                "".join(out_lines))
    finally:
        os.killpg(p.pid, signal.SIGINT)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        for th in readers:
            th.join(5)
    out, log = "".join(out_lines), "".join(log_lines)
    assert len(served) == 2, out + log
    first, pids = check_start(out, log)
    web_pid = pids[0]

    # The token revoked at 25 s: certagent noticed and logged in again.
    assert "revoking certagent's token in Vault now" in out
    assert "dropping the Vault token: Vault rejected it" in log
    assert log.count("logged in with approle at auth/approle") >= 2

    # The API key changed at 35 s: app.env re-rendered, the app hook ran
    # again for it alone; flags.json was left alone.
    assert "rotated the API key" in out
    assert "app.env re-rendered: API_KEY changed (values not shown)" in out
    assert re.search(r"hooks: app: stdout: app config changed: \S+/app\.env\n", log), log
    assert "flags.json re-rendered" not in out

    # A renewal a minute after the first issuance, the hook, the reload,
    # and a client that sees the new certificate.
    issued = re.findall(r"demo-web: issued serial ([0-9a-f:]+)", log)
    assert len(issued) >= 2 and issued[0] == first and served == issued[:2], log
    assert "web server: reloaded certificate serial %s" % issued[1] in out
    assert re.search(r"hooks: web-server: sent SIGHUP to pid %d .* for \d changed files"
                     % web_pid, log), log

    # Ctrl-C: everything stopped, cleanly.
    assert p.returncode == 0, out + log
    assert "agent: SIGINT: stopping" in log and "agent: stopped" in log
    assert "interrupted; stopping certagent, the web server and vaultsim" in out
    assert "certagent exited with 0" in out
    assert "web server: stopped" in out
    assert_no_secret_in_agent_log(log)
    assert_gone(pids)
