"""certagent exec: the application starts after the first full render,
hears of changes, gets SIGTERM passed on, and lends its exit code."""

import os
import signal
import subprocess
import time

from conftest import BIN
from test_certs import serial_of
from test_rotation import one_cert, pki  # noqa: F401  (fixture)
from test_certs import cert_config


APP = r"""
trap 'echo hup >> "$OUT"' HUP
trap 'echo term >> "$OUT"; exit ${TERM_CODE:-0}' TERM
if [ -s "$CRT" ]; then echo "started with cert $$" >> "$OUT"; else echo "started WITHOUT cert" >> "$OUT"; fi
while :; do sleep 0.05; done
"""


def start_exec(env, config, out, crt, extra_env=None, args=None):
    cfg = env.tmp / "exec.yaml"
    cfg.write_text(config)
    log = open(env.tmp / "exec.log", "ab")
    e = dict(os.environ, OUT=str(out), CRT=str(crt))
    e.update(extra_env or {})
    argv = [BIN, "exec", "-c", str(cfg), "--"] + (args or ["/bin/sh", "-c", APP])
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=e), env.tmp / "exec.log"


def wait_lines(path, want, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists():
            lines = path.read_text().splitlines()
            if all(any(l.startswith(w) for l in lines) for w in want):
                return lines
        time.sleep(0.05)
    raise AssertionError("%s: %r not all seen in %r" % (
        path, want, path.read_text() if path.exists() else None))


def test_exec_starts_the_application_after_the_first_render_and_signals_it(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    out = env.tmp / "app.out"
    cfg = cert_config(env, rid, sid, one_cert(d, "web", "1h", "wait: {min: 100ms, max: 1s}"))
    p, log = start_exec(env, cfg, out, d / "web.crt")
    lines = wait_lines(out, ["started with cert"])
    assert "started WITHOUT cert" not in lines
    first = serial_of(d / "web.crt")
    p.send_signal(signal.SIGUSR1)   # renew now: the application hears of it
    wait_lines(out, ["hup"])
    assert serial_of(d / "web.crt") != first
    assert out.read_text().count("started") == 1   # signalled, not restarted
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0
    assert out.read_text().splitlines()[-1] == "term"


def test_exec_restart_mode_starts_a_new_process(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    out = env.tmp / "app.out"
    cfg = cert_config(env, rid, sid, one_cert(d, "web", "1h", "wait: {min: 100ms, max: 1s}"))
    cfg += "exec: {on_change: restart, kill_timeout: 2s}\n"
    p, log = start_exec(env, cfg, out, d / "web.crt")
    wait_lines(out, ["started with cert"])
    pid1 = out.read_text().split()[-1]
    p.send_signal(signal.SIGUSR1)
    deadline = time.time() + 20
    while out.read_text().count("started with cert") < 2 and time.time() < deadline:
        time.sleep(0.05)
    starts = [l for l in out.read_text().splitlines() if l.startswith("started")]
    assert len(starts) == 2 and starts[1].split()[-1] != pid1
    assert "term" in out.read_text().splitlines()   # the old one was asked to stop
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0


def test_exec_exits_with_the_applications_exit_code(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    out = env.tmp / "app.out"
    cfg = cert_config(env, rid, sid, one_cert(d))
    p, log = start_exec(env, cfg, out, d / "web.crt",
                        args=["/bin/sh", "-c", 'echo ran > "$OUT"; exit 3'])
    assert p.wait(timeout=30) == 3
    assert out.read_text() == "ran\n"
    # SIGTERM passed on: the application's own code for it comes back.
    out2 = env.tmp / "app2.out"
    p, log = start_exec(env, cfg, out2, d / "web.crt", extra_env={"TERM_CODE": "42"})
    wait_lines(out2, ["started with cert"])
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 42


def test_exec_without_a_command_is_an_error(env, pki, tmp_path):
    rid, sid = pki
    cfg = tmp_path / "x.yaml"
    cfg.write_text(cert_config(env, rid, sid, one_cert(tmp_path)))
    r = subprocess.run([BIN, "exec", "-c", str(cfg)], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1
    assert "exec: no command: give one after -- or set exec.command" in r.stderr


def test_exec_keeps_the_agents_own_thread_pool_size_from_the_application(env, pki,
                                                                         monkeypatch):
    """The agent sizes libuv's thread pool through UV_THREADPOOL_SIZE when
    the user did not; the application (a Node.js one reads that variable
    too) gets the environment the agent was given, not that one."""
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    cfg = cert_config(env, rid, sid, one_cert(d))
    show = ["/bin/sh", "-c", 'echo "pool=${UV_THREADPOOL_SIZE-unset}" > "$OUT"']
    monkeypatch.delenv("UV_THREADPOOL_SIZE", raising=False)
    out = env.tmp / "app.out"
    p, log = start_exec(env, cfg, out, d / "web.crt", args=show)
    assert p.wait(timeout=30) == 0
    assert out.read_text() == "pool=unset\n"
    # Set by the user: the user's value, for the agent and the application.
    out2 = env.tmp / "app2.out"
    p, log = start_exec(env, cfg, out2, d / "web.crt", args=show,
                        extra_env={"UV_THREADPOOL_SIZE": "3"})
    assert p.wait(timeout=30) == 0
    assert out2.read_text() == "pool=3\n"
