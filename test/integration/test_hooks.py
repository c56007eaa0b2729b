"""Reload hooks: commands and pid-file signals, run once per change."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import BIN

POLICY = """
    path "secret/data/*" { capabilities = ["read"] }
    path "pki_int/issue/*" { capabilities = ["create", "update"] }
"""

WAIT = "wait: {min: 200ms, max: 1s}"


@pytest.fixture
def world(env):
    env.vs.policy("app", POLICY)
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    # Short-lived certificates without the 30 s backdate: a 9 s TTL renews
    # about 6 s after issuance.
    env.vs.pki_role("short", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256, not_before_duration="1s")
    env.vs.kv_put("app", {"user": "app"})
    return env.approle_files(token_policies=["default", "app"])


def yaml_argv(argv):
    """A command as a YAML flow list; '$' doubled for ${ENV} expansion."""
    return json.dumps(argv).replace("$", "$$")


def config(env, rid, sid, hooks, certs="", templates="", top=""):
    text = env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false",
                              top=top)
    text += "hooks:\n" + textwrap.indent(textwrap.dedent(hooks).strip("\n"), "  ") + "\n"
    if certs:
        text += "certificates:\n" + \
            textwrap.indent(textwrap.dedent(certs).strip("\n"), "  ") + "\n"
    if templates:
        text += "templates:\n" + \
            textwrap.indent(textwrap.dedent(templates).strip("\n"), "  ") + "\n"
    return text


def cert_set(d, role="web", ttl="30m"):
    return """
        - name: web
          path: pki_int/issue/%(role)s
          common_name: www.example.test
          ttl: %(ttl)s
          files:
            cert: {path: %(d)s/web.crt}
            key: {path: %(d)s/web.key}
            chain: {path: %(d)s/chain.pem}
            ca: {path: %(d)s/ca.pem}
            bundle: {path: %(d)s/web.pem, parts: [cert, chain, key]}
          on_change: [app]
          %(wait)s
        """ % {"d": d, "role": role, "ttl": ttl, "wait": WAIT}


def lines(path):
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def colon_hex(openssl_serial):
    """openssl's "serial=0A1B..." as Vault writes serials: "0a:1b:..."."""
    hexs = openssl_serial.strip().split("=", 1)[1].lower()
    if len(hexs) % 2:
        hexs = "0" + hexs
    return ":".join(hexs[i:i + 2] for i in range(0, len(hexs), 2))


def serial_of(path):
    r = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return colon_hex(r.stdout)


def test_a_certificate_runs_its_command_hook_once_per_issuance(env, world):
    rid, sid = world
    d = env.tmp / "tls"
    d.mkdir()
    out = env.tmp / "hook.out"
    # The hook reads the certificate and the bundle back: both must be
    # the new ones when it runs, i.e. every file of the set is in place.
    script = ('echo "$CERTAGENT_CERT_SERIAL $(openssl x509 -noout -serial -in "$1")'
              ' $(openssl x509 -noout -serial -in "$2")'
              ' $(printf "%s\\n" "$CERTAGENT_CHANGED_FILES" | wc -l)'
              ' $CERTAGENT_CERT_NOT_AFTER" >> "$0"')
    argv = ["/bin/sh", "-c", script, str(out), str(d / "web.crt"), str(d / "web.pem")]
    a = env.agent(config(env, rid, sid, "app: {command: %s}" % yaml_argv(argv),
                         certs=cert_set(d, role="short", ttl="9s"))).start()
    a.wait_for(r"web: issued serial", count=2, timeout=30)
    a.wait_for(r"hooks: app: exited 0", count=2, timeout=10)
    assert a.stop() == 0
    issued = a.count(r"web: issued serial")
    got = lines(out)
    assert len(got) == issued == a.count(r"hooks: app: exited 0"), got
    serials = []
    for i, line in enumerate(got):
        env_serial, crt, pem, nfiles, not_after = line.split()
        assert colon_hex(crt) == env_serial, line
        assert colon_hex(pem) == env_serial, line
        assert not_after.endswith("Z") and "T" in not_after, line
        if i == 0:
            assert nfiles == "5", line   # every file of the first set is new
        serials.append(env_serial)
    assert len(set(serials)) == len(serials)
    assert serials[-1] == serial_of(d / "web.crt")


def test_a_restart_that_keeps_the_files_runs_no_hook(env, world):
    rid, sid = world
    d = env.tmp / "tls"
    d.mkdir()
    out = env.tmp / "hook.out"
    argv = ["/bin/sh", "-c", 'echo "$CERTAGENT_CERT_SERIAL" >> "$0"', str(out)]
    cfg = config(env, rid, sid, "app: {command: %s}" % yaml_argv(argv), certs=cert_set(d))
    a = env.agent(cfg).start()
    a.wait_for(r"hooks: app: exited 0")
    assert a.stop() == 0
    assert lines(out) == [serial_of(d / "web.crt")]
    b = env.agent(cfg, name="second").start()
    b.wait_for(r"web: kept the certificate on disk")
    time.sleep(2.0)   # well past wait.max: a run would have started by now
    assert b.stop() == 0
    assert "hooks: app:" not in b.log()
    assert lines(out) == [serial_of(d / "web.crt")]


def test_a_template_whose_data_did_not_change_runs_no_hook(env, world):
    rid, sid = world
    dest = env.tmp / "user.txt"
    out = env.tmp / "hook.out"
    argv = ["/bin/sh", "-c", 'echo "$CERTAGENT_CHANGED_FILES" >> "$0"', str(out)]
    a = env.agent(config(env, rid, sid, "app: {command: %s}" % yaml_argv(argv),
                         templates="""
        - contents: '{{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ end }}'
          destination: %s
          on_change: [app]
          %s
        """ % (dest, WAIT),
                         top="template_config: {static_secret_render_interval: 1s}")).start()
    a.wait_for(r"hooks: app: exited 0")
    # Read again three times, unchanged: nothing written, no hook.
    a.wait_for(r"secret/data/app: unchanged", count=3, timeout=15)
    assert a.count(r"hooks: app: started") == 1
    assert lines(out) == [str(dest)]
    # A reload re-renders the same bytes: no hook either.
    a.send(signal.SIGHUP)
    a.wait_for(r"configuration reloaded")
    a.wait_for(r"secret/data/app: unchanged", count=5, timeout=15)
    assert a.count(r"hooks: app: started") == 1
    env.vs.kv_put("app", {"user": "app2"})
    a.wait_for(r"hooks: app: exited 0", count=2, timeout=15)
    assert dest.read_text() == "app2"
    assert lines(out) == [str(dest), str(dest)]
    assert a.stop() == 0


SERVICE = r"""
import os, signal, sys
out, pid_file = sys.argv[1], sys.argv[2]
def on_hup(signum, frame):
    with open(out, "a") as f:
        f.write("%d\n" % os.getpid())
signal.signal(signal.SIGHUP, on_hup)
with open(pid_file + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(pid_file + ".tmp", pid_file)
while True:
    signal.pause()
"""


def start_service(out, pid_file):
    if pid_file.exists():
        pid_file.unlink()
    p = subprocess.Popen([sys.executable, "-c", SERVICE, str(out), str(pid_file)])
    deadline = time.time() + 10
    while not pid_file.exists():
        assert time.time() < deadline, "the service did not write its pid file"
        time.sleep(0.02)
    return p


def wait_lines(path, n, timeout=10):
    deadline = time.time() + timeout
    while len(lines(path)) < n and time.time() < deadline:
        time.sleep(0.05)
    return lines(path)


def test_a_pid_file_hook_signals_the_service_once_per_change(env, world):
    rid, sid = world
    dest = env.tmp / "user.txt"
    got = env.tmp / "hups"
    pid_file = env.tmp / "svc.pid"
    svc = start_service(got, pid_file)
    svc2 = None
    try:
        a = env.agent(config(env, rid, sid,
                             "svc: {signal: SIGHUP, pid_file: %s}" % pid_file,
                             templates="""
            - contents: '{{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ end }}'
              destination: %s
              on_change: [svc]
              %s
            """ % (dest, WAIT),
                             top="template_config: {static_secret_render_interval: 1s}")).start()
        a.wait_for(r"hooks: svc: sent SIGHUP to pid %d \(from %s\)" % (svc.pid, pid_file))
        assert wait_lines(got, 1) == [str(svc.pid)]
        env.vs.kv_put("app", {"user": "app2"})
        a.wait_for(r"hooks: svc: sent SIGHUP", count=2, timeout=15)
        assert wait_lines(got, 2) == [str(svc.pid)] * 2
        # Unchanged re-reads signal nobody.
        a.wait_for(r"secret/data/app: unchanged", count=2, timeout=15)
        time.sleep(1.5)   # past wait.max
        assert lines(got) == [str(svc.pid)] * 2
        # The service restarts with a new pid: the next change reaches it
        # there, because the pid file is read when the signal is sent.
        svc.terminate()
        svc.wait(10)
        svc2 = start_service(got, pid_file)
        env.vs.kv_put("app", {"user": "app3"})
        a.wait_for(r"hooks: svc: sent SIGHUP to pid %d" % svc2.pid, timeout=15)
        assert wait_lines(got, 3) == [str(svc.pid)] * 2 + [str(svc2.pid)]
        assert a.stop() == 0
        assert a.count(r"hooks: svc: sent SIGHUP") == 3
    finally:
        for p in (svc, svc2):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def test_a_stale_pid_file_signals_nobody_and_is_retried(env, world):
    rid, sid = world
    dest = env.tmp / "user.txt"
    pid_file = env.tmp / "gone.pid"
    # Above the kernel's pid_max: certainly no such process.
    gone = int(open("/proc/sys/kernel/pid_max").read()) + 1
    pid_file.write_text("%d\n" % gone)
    a = env.agent(config(env, rid, sid,
                         "svc: {signal: SIGHUP, pid_file: %s}" % pid_file,
                         templates="""
        - contents: '{{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ end }}'
          destination: %s
          on_change: [svc]
          %s
        """ % (dest, WAIT))).start()
    a.wait_for(r"hooks: svc: stale pid file %s: no process %d; nothing signalled; "
               r"failure 1, next try in" % (pid_file, gone))
    a.wait_for(r"hooks: svc: stale pid file .*failure 2, next try in", timeout=10)
    assert a.stop() == 0
    assert "sent SIGHUP" not in a.log()
    # A failing hook never causes another render or issuance.
    assert a.count(r"rendered %s" % dest) == 1


def test_an_unknown_hook_name_is_an_error_at_its_position(tmp_path):
    p = tmp_path / "agent.yaml"
    p.write_text(textwrap.dedent("""\
        vault: {address: https://127.0.0.1:8200}
        auth: {method: token, token_file: /run/token}
        hooks:
          nginx: {signal: SIGHUP, pid_file: /run/nginx.pid}
        templates:
          - contents: x
            destination: /tmp/x
            on_change: [nginx, ngnix]
        """))
    r = subprocess.run([BIN, "check", "-c", str(p)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0
    assert ("%s:8:24: templates[0].on_change[1]: 'ngnix' is not a hook; "
            "did you mean 'nginx'?" % p) in r.stderr, r.stderr
