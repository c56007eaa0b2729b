"""Signals at any moment: one in the first milliseconds after exec (when
systemd, a kubelet pre-stop hook or a sibling container sends it) and a
storm of them during the first issuance leave the agent running, and
every file complete."""

import random
import signal
import subprocess
import textwrap
import threading
import time

import pytest

from conftest import BIN
from test_certs import cert_config, pubkey_of_cert, pubkey_of_key


@pytest.fixture
def world(env):
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="24h", key_type="ec", key_bits=256)
    env.vs.policy("pki", """
        path "pki_int/issue/*" { capabilities = ["create", "update"] }
        path "secret/data/*" { capabilities = ["read"] }
    """)
    env.vs.kv_put("app", {"user": "u1"})
    return env.approle_files(token_policies=["default", "pki"])


def many(d, n_certs, n_templates):
    certs = "".join("""
        - name: c%(i)d
          path: pki_int/issue/web
          common_name: c%(i)d.example.test
          files:
            cert: {path: %(d)s/c%(i)d.crt}
            key: {path: %(d)s/c%(i)d.key}
        """ % {"i": i, "d": d} for i in range(n_certs))
    tmpl = "templates:\n" + "".join(
        "  - destination: %s/t%d.conf\n"
        "    contents: '{{ with secret \"secret/data/app\" }}user={{ .Data.data.user }}{{ end }}'\n"
        % (d, i) for i in range(n_templates))
    return certs, tmpl


HELD = (1 << (signal.SIGHUP - 1)) | (1 << (signal.SIGINT - 1)) | \
    (1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGTERM - 1))


def wait_first_instruction(pid, timeout=5.0):
    """Until the agent runs code of its own: its first act is to hold the
    signals it handles, which /proc shows as SigBlk.  Before that, the
    dynamic loader maps its shared libraries (Debian's libcurl brings 35;
    about 20 ms here) and no program can catch a signal yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    # Held, or already caught by the loop's handlers.
                    if (line.startswith("SigBlk:") or line.startswith("SigCgt:")) and \
                            int(line.split()[1], 16) & HELD == HELD:
                        return time.monotonic()
        except FileNotFoundError:
            break
    raise AssertionError("the agent never held its signals")


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGUSR1])
@pytest.mark.parametrize("delay_ms", [0, 1, 5, 20])
def test_a_signal_at_the_start_leaves_the_agent_running(env, world, sig, delay_ms):
    """Before its handlers exist (config load, TLS set-up, ~20 ms, 50 ms
    under ASan) a signal used to kill the agent with its default action."""
    rid, sid = world
    d = env.tmp / "tls"
    d.mkdir()
    certs, _t = many(d, 1, 0)
    a = env.agent(cert_config(env, rid, sid, certs))
    a._logf = open(a.log_path, "ab")
    proc = subprocess.Popen([BIN, "run", "-c", str(a.config)], stdout=a._logf,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    a.proc = proc
    t0 = wait_first_instruction(proc.pid)
    while time.monotonic() < t0 + delay_ms / 1000.0:
        pass
    proc.send_signal(sig)
    a.wait_for(r"c0: wrote 2 files", timeout=20)
    time.sleep(0.3)
    assert proc.poll() is None, "killed by %s at %d ms:\n%s" % (sig.name, delay_ms, a.log())
    if sig == signal.SIGHUP:
        assert "SIGHUP during start-up" in a.log() or "configuration reloaded" in a.log()
    assert a.stop() == 0


def storm(proc, stop, seed):
    rng = random.Random(seed)
    while not stop.is_set() and proc.poll() is None:
        try:
            proc.send_signal(rng.choice([signal.SIGHUP, signal.SIGUSR1]))
        except ProcessLookupError:
            return
        time.sleep(rng.uniform(0.002, 0.050))


def assert_complete(d, n_certs, n_templates):
    for i in range(n_certs):
        assert pubkey_of_cert(d / ("c%d.crt" % i)) == pubkey_of_key(d / ("c%d.key" % i)), i
    for i in range(n_templates):
        assert (d / ("t%d.conf" % i)).read_text() == "user=u1"


@pytest.mark.parametrize("once", [False, True], ids=["run", "once"])
def test_a_storm_of_signals_during_the_first_issuance_loses_nothing(env, world, once):
    rid, sid = world
    d = env.tmp / "tls"
    d.mkdir()
    certs, tmpl = many(d, 40, 10)
    cfg = env.tmp / "storm.yaml"
    cfg.write_text(cert_config(env, rid, sid, certs) + tmpl)
    log = env.tmp / "storm.log"
    args = [BIN, "run", "-c", str(cfg)] + (["--once"] if once else [])
    proc = subprocess.Popen(args, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    wait_first_instruction(proc.pid)
    stop = threading.Event()
    seed = random.SystemRandom().randrange(2**32)
    t = threading.Thread(target=storm, args=(proc, stop, seed))
    t.start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            text = log.read_text(errors="replace")
            if "every file is in place" in text:
                break
            time.sleep(0.05)
        if not once:
            time.sleep(0.5)   # more signals on a running agent
    finally:
        stop.set()
        t.join()
    if not once:
        assert proc.poll() is None, log.read_text()
        proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert rc == 0, "seed %d:\n%s" % (seed, text[-4000:])
    assert "every file is in place: 40 certificates, 10 templates" in text, text[-4000:]
    assert_complete(d, 40, 10)
