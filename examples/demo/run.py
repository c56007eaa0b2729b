#!/usr/bin/python3
"""make demo: a local Vault API server (vaultsim), certagent and a small
HTTPS server, narrated.

What runs:
  - vaultsim (test/vaultsim) on 127.0.0.1: a PKI role, three kv v2 secrets,
    a policy and an AppRole whose tokens live 15 s and at most 40 s;
  - certagent with examples/demo/agent.yaml: it logs in, keeps its token
    alive, keeps the certificate web.demo.test current (a new one every
    minute), renders app.env and flags.json from the kv secrets, and runs
    the hooks (SIGHUP to the web server, a command for the app);
  - examples/demo/webserver.py, started once the first certificate is on
    disk: it serves HTTPS with it and reloads it on SIGHUP.

The demo probes the web server every 5 s and says when the certificate it
serves changes, revokes certagent's token at 25 s and rotates the API key
in secret/demo/api at 35 s.  Lines from the demo start with "demo:", lines
from the web server with "web server:"; the others are certagent's log.

--seconds N stops by itself after N seconds (used by the test suite).
Ctrl-C stops everything (certagent, the web server and vaultsim).
"""

import argparse
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "vaultsim"))
sys.path.insert(0, str(HERE))
from harness import Vaultsim  # noqa: E402
from webserver import cert_facts, colon_hex  # noqa: E402

# The demo's secrets (made up).  test/integration/test_demo.py checks that
# none of these values reaches certagent's log.
SECRETS = {
    "demo/db": {"username": "demo_app", "password": "demo-db-pass-7Hq2xV"},
    "demo/api": {"key": "demo-api-key-1-Zr8kWp"},
    "demo/flags": {"new_checkout": True, "banner": "demo-banner-Lm4sQe"},
}
NEW_API_KEY = "demo-api-key-2-Yb3nTc"

REVOKE_AT = 25          # s after certagent starts
KV_CHANGE_AT = 35
PROBE_EVERY = 5
START = [time.monotonic()]  # reset when certagent starts: "[ 25s]" = 25 s after


def say(msg):
    stamp = "[%3.0fs]" % (time.monotonic() - START[0])
    if sys.stdout.isatty():
        print("\033[1;36mdemo:\033[0m %s %s" % (stamp, msg), flush=True)
    else:
        print("demo: %s %s" % (stamp, msg), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """preexec_fn: SIGTERM this child if the demo itself dies (Linux)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def mode(path):
    return "%o" % (path.stat().st_mode & 0o777)


def http_get(addr, path):
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=3)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def probe(port, ca):
    """Connect to the web server as a client that trusts only the demo's
    root (ca.pem, written by certagent); return (serial, notAfter)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            c = tls.getpeercert()
            tls.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            tls.recv(4096)
    return colon_hex(c["serialNumber"]), c["notAfter"]


def env_keys(path):
    """{name: value} of a KEY=VALUE file."""
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


class Watch:
    """Says when a file appears or changes on disk."""

    def __init__(self, path, show):
        self.path, self.show, self.seen, self.data = path, show, None, None
        self.when = None

    def poll(self):
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return False
        if (st.st_ino, st.st_mtime_ns) == self.seen:
            return False
        self.seen = (st.st_ino, st.st_mtime_ns)
        self.show(self)
        return True


def show_cert(w):
    serial, not_after = cert_facts(str(w.path))
    tls = w.path.parent
    files = ", ".join("%s (%s)" % (p.name, mode(p)) for p in sorted(tls.iterdir()))
    now = time.monotonic()
    if w.data is None:
        say("certificate on disk: serial %s, expires %s; %s" % (serial, not_after, files))
    else:
        say("certificate renewed on disk, %.0f s after the previous one: serial %s, "
            "expires %s; %s" % (now - w.when, serial, not_after, files))
    w.data, w.when = serial, now


def show_env(w):
    new = env_keys(w.path)
    if w.data is None:
        say("%s rendered (mode %s): %s (values not shown)" % (
            w.path.name, mode(w.path), ", ".join(new)))
    else:
        changed = [k for k in new if w.data.get(k) != new[k]]
        say("%s re-rendered: %s changed (values not shown)" % (
            w.path.name, ", ".join(changed) or "nothing"))
    w.data = new


def show_json(w):
    text = w.path.read_text()
    say("%s %s (mode %s): %s" % (w.path.name, "rendered" if w.data is None else
                                 "re-rendered", mode(w.path),
                                 json.dumps(json.loads(text), sort_keys=True)))
    w.data = text


def setup_vault(vs):
    vs.pki_role("demo", allowed_domains="demo.test", allow_subdomains=True,
                allow_localhost=True, max_ttl="5m")
    for path, data in SECRETS.items():
        vs.kv_put(path, data)
    vs.policy("demo", 'path "pki_int/issue/demo" { capabilities = ["update"] }\n'
                      'path "secret/data/demo/*" { capabilities = ["read"] }\n')
    return vs.approle("demo", token_ttl="15s", token_max_ttl="40s",
                      token_policies=["default", "demo"])


def intro(vs, work, binary, agent_pid, listen, web_port):
    say("vaultsim, a Vault API server for tests, listens on %s" % vs.https_addr)
    say("  in it: PKI role pki_int/roles/demo (*.demo.test, at most 5 min),")
    say("  kv v2 secrets secret/demo/db, secret/demo/api, secret/demo/flags,")
    say("  policy 'demo' (issue from pki_int/issue/demo, read secret/data/demo/*)")
    say("  and AppRole 'demo' (tokens live 15 s, at most 40 s).")
    say("certagent (pid %d) runs examples/demo/agent.yaml; its files go to %s" % (
        agent_pid, work))
    say("what to watch:")
    say("  now    certagent logs in, issues web.demo.test (a 3-minute certificate)")
    say("         and renders app.env and flags.json; the demo then starts")
    say("         examples/demo/webserver.py on https://127.0.0.1:%d with it" % web_port)
    say("  every 60 s  certagent renews the certificate and, once the files are in")
    say("         place, sends SIGHUP to the web server, which then serves the new one")
    say("  %2d s   the demo revokes certagent's token; certagent logs in again" % REVOKE_AT)
    say("  %2d s   the demo rotates the API key in secret/demo/api; certagent reads"
        % KV_CHANGE_AT)
    say("         kv again every 20 s, re-renders app.env, runs the 'app' hook")
    say("  'auth:' lines: the token renewed every ~10 s, a new login when its 40 s")
    say("         max TTL would cut a renewal short")
    say("certagent's listener: curl http://%s/readyz ; curl http://%s/metrics" % (
        listen, listen))
    say("renew now:  %s rotate demo-web --socket %s/certagent.sock" % (binary, work))
    say("every %d s the demo connects to the web server. Ctrl-C stops everything."
        % PROBE_EVERY)


def stop(proc, sig=signal.SIGTERM, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def summary(listen):
    """A few counters from /metrics, before the agent stops."""
    try:
        st, text = http_get(listen, "/metrics")
    except OSError as e:
        say("GET /metrics failed: %s" % e)
        return
    want = ("certagent_issuances_total", "certagent_template_writes_total",
            "certagent_auth_logins_total", "certagent_hook_runs_total",
            "certagent_hook_failures_total")
    got = [ln for ln in text.splitlines()
           if ln.split("{")[0].split(" ")[0] in want and not ln.startswith("#")]
    say("from /metrics: %s" % "; ".join(got))


def run(args, work, vs, state):
    role_id, secret_id = setup_vault(vs)
    (work / "tls").mkdir()
    (work / "role-id").write_text(role_id + "\n")
    sid = work / "secret-id"
    sid.write_text(secret_id + "\n")
    os.chmod(sid, 0o600)

    listen = "127.0.0.1:%d" % free_port()
    web_port = free_port()
    env = dict(os.environ, DEMO_VAULT_ADDR=vs.https_addr, DEMO_DIR=str(work),
               DEMO_LISTEN=listen)
    START[0] = time.monotonic()
    state["agent"] = agent = subprocess.Popen(
        [args.binary, "run", "-c", str(HERE / "agent.yaml")], env=env,
        stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
    intro(vs, work, args.binary, agent.pid, listen, web_port)
    print(flush=True)

    tls = work / "tls"
    cert = Watch(tls / "web.crt", show_cert)
    files = [cert, Watch(work / "app.env", show_env), Watch(work / "flags.json", show_json)]
    served = None
    next_probe = next_ready = 0
    ready_said = revoked = kv_changed = False
    while True:
        now = time.monotonic() - START[0]
        if args.seconds and now >= args.seconds:
            break
        if agent.poll() is not None:
            say("certagent stopped by itself")
            break
        for w in files:
            w.poll()

        web = state.get("web")
        if web is None and cert.data and (tls / "web.key").exists():
            say("starting the web server: examples/demo/webserver.py")
            state["web"] = web = subprocess.Popen(
                [sys.executable, str(HERE / "webserver.py"), "--port", str(web_port),
                 "--cert", str(tls / "web.crt"), "--key", str(tls / "web.key"),
                 "--chain", str(tls / "chain.pem"), "--pid-file", str(work / "web.pid")],
                stdin=subprocess.DEVNULL)
            next_probe = now + 0.5
        if web is not None and now >= next_probe:
            next_probe = now + PROBE_EVERY
            try:
                serial, not_after = probe(web_port, tls / "ca.pem")
                if serial != served:
                    say("web server now serves serial %s (expires %s)" % (serial, not_after))
                    served = serial
            except (OSError, ssl.SSLError) as e:
                next_probe = now + 0.5
                if web.poll() is not None:
                    say("the web server exited with %s" % web.returncode)
                    state["web"] = None
                elif now > 10:
                    say("web server probe failed: %s" % e)

        if not ready_said and now >= next_ready and all(w.data is not None for w in files):
            next_ready = now + 5        # every file is there: /readyz should agree
            try:
                st, body = http_get(listen, "/readyz")
                say("GET http://%s/readyz -> %d %s" % (listen, st, body.strip()))
                ready_said = st == 200
            except OSError as e:
                say("GET /readyz failed: %s" % e)

        if not revoked and now >= REVOKE_AT:
            revoked = True
            tok = (work / "token").read_text().strip() if (work / "token").exists() else ""
            if tok:
                say("revoking certagent's token in Vault now")
                vs.revoke(token=tok)
        if not kv_changed and now >= KV_CHANGE_AT:
            kv_changed = True
            vs.kv_put("demo/api", {"key": NEW_API_KEY})
            say("rotated the API key: wrote version 2 of secret/demo/api; certagent")
            say("will see it within 20 s, re-render app.env and run the 'app' hook")
        time.sleep(0.2)

    if agent.poll() is None:
        summary(listen)
        print(flush=True)
        say("stopping certagent (SIGTERM)")
        stop(agent, timeout=15)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=0, help="stop after N seconds")
    ap.add_argument("--binary", default=os.environ.get("CERTAGENT_BIN", str(ROOT / "certagent")))
    args = ap.parse_args()

    # Ctrl-C, and a SIGTERM or SIGHUP to the demo, stop it.
    caught = []

    def interrupt(sig, _frame):
        caught.append(sig)
        raise KeyboardInterrupt
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, interrupt)

    work = pathlib.Path(tempfile.mkdtemp(prefix="certagent-demo-"))
    state = {}
    try:
        with Vaultsim(work) as vs:
            try:
                run(args, work, vs, state)
            except KeyboardInterrupt:
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(s, signal.SIG_IGN)
                print(flush=True)
                say("interrupted; stopping certagent, the web server and vaultsim")
                if caught and caught[0] == signal.SIGINT:
                    # Ctrl-C in a terminal reaches the whole process group:
                    # certagent and the web server got SIGINT too and are
                    # stopping.  A second signal would only race with that.
                    deadline = time.monotonic() + 3
                    for proc in (state.get("agent"), state.get("web")):
                        try:
                            proc and proc.wait(max(0.1, deadline - time.monotonic()))
                        except subprocess.TimeoutExpired:
                            pass
                stop(state.get("agent"), timeout=15)
            finally:
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(s, signal.SIG_IGN)
                stop(state.get("web"), timeout=5)
    except KeyboardInterrupt:       # before vaultsim was up
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
    finally:
        agent = state.get("agent")
        stop(agent, timeout=15)
        if agent is not None:
            sink = work / "token"
            say("certagent exited with %d; token sink %s was mode %s; key file mode %s" % (
                agent.returncode, sink, mode(sink) if sink.exists() else "(none)",
                mode(work / "tls" / "web.key") if (work / "tls" / "web.key").exists()
                else "(none)"))
        else:
            say("stopped before certagent started")
        shutil.rmtree(work, ignore_errors=True)
    return agent.returncode if agent is not None else 130


if __name__ == "__main__":
    sys.exit(main())
