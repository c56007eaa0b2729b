"""Watching the agent: GET /v1/status and `certagent status` (table,
--json, exit codes 0/1/2) through an injected Vault outage; /readyz with
fail_open on and off; the audit log of a whole issue, rotate, revoke
cycle; and no planted secret in any output (logs, audit, status,
metrics)."""

import hashlib
import json
import os
import re
import signal
import subprocess
import textwrap

from conftest import BIN
from test_rotation import drop_everything, free_port, http_get, wait_status
from test_certs import serial_of


def pki_setup(env, token_ttl="30s"):
    vs = env.vs
    vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                max_ttl="24h", key_type="ec", key_bits=256)
    vs.policy("w", """
        path "pki_int/issue/*" { capabilities = ["create", "update"] }
        path "pki_int/revoke" { capabilities = ["create", "update"] }
        path "secret/data/*" { capabilities = ["read"] }
    """)
    return env.approle_files(token_policies=["default", "w"], token_ttl=token_ttl)


def config(env, rid, sid, d, port=None, sock=None, extra_top="", web_extra="",
           web_ttl="1h", with_template=True):
    top = []
    if port or sock:
        top.append("listener:")
        if port:
            top.append('  address: "127.0.0.1:%d"' % port)
        if sock:
            top.append("  control_socket: %s" % sock)
    top.append(textwrap.dedent("""
        hooks:
          note: {command: ["/bin/true"]}
        certificates:
          - name: web
            path: pki_int/issue/web
            common_name: web.example.test
            alt_names: [www.example.test]
            ttl: %s
            %s
            files: {cert: {path: %s/web.crt}, key: {path: %s/web.key}}
            on_change: [note]
            wait: {min: 0s, max: 0s}
        """ % (web_ttl, web_extra, d, d)))
    if with_template:
        top.append(textwrap.dedent("""
            templates:
              - name: tpl
                destination: %s/tpl.pem
                mode: "0600"
                contents: |
                  {{- with secret "pki_int/issue/web" "common_name=t.example.test" "ttl=1h" -}}
                  {{ .Data.certificate }}
                  {{ .Data.private_key }}
                  {{- end }}
            """ % d))
    top.append(textwrap.dedent(extra_top))
    return env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false",
                              top="\n".join(top))


def status(agent, *args):
    r = subprocess.run([BIN, "status", "-c", str(agent.config)] + list(args),
                       capture_output=True, text=True, timeout=15)
    return r.returncode, r.stdout, r.stderr


def by_name(doc, kind="certificates"):
    return {c.get("name") or c.get("path"): c for c in doc[kind]}


def test_status_and_its_exit_codes_follow_an_outage(env):
    rid, sid = pki_setup(env)
    d = env.tmp / "tls"
    d.mkdir()
    port = free_port()
    sock = env.tmp / "ctl.sock"
    a = env.agent(config(env, rid, sid, d, port=port, sock=sock)).start()
    a.wait_for(r"every file is in place")
    a.wait_for(r"hooks: note: exited 0")
    wait_status(port, "/readyz", 200)

    # Healthy: both roads are there, with their files and schedule.
    st, body = http_get(port, "/v1/status")
    assert st == 200
    doc = json.loads(body)
    assert doc["health"] == "healthy" and doc["ready"] is True, doc
    assert doc["vault"]["address"] == env.vs.https_addr
    assert doc["vault"]["reachable"] is True
    assert doc["token"]["valid"] is True and doc["token"]["expires_at"]
    certs = by_name(doc)
    web, tpl = certs["web"], certs["tpl"]
    assert web["source"] == "entry" and tpl["source"] == "template"
    assert web["files"] == ["%s/web.crt" % d, "%s/web.key" % d]
    assert tpl["files"] == ["%s/tpl.pem" % d]
    for c in (web, tpl):
        assert c["state"] == "valid"
        assert c["not_after"] and c["next_renewal"] and c["last_renewal"]
        assert c["last_error"] is None
    openssl_serial = serial_of(d / "web.crt").split("=", 1)[1].lower()
    assert web["serial"].replace(":", "") == openssl_serial.lstrip("0") or \
        web["serial"].replace(":", "").lstrip("0") == openssl_serial.lstrip("0")
    tpls = {t["destination"]: t for t in doc["templates"]}
    assert tpls["%s/tpl.pem" % d]["state"] == "rendered"
    assert tpls["%s/tpl.pem" % d]["last_render"] and tpls["%s/tpl.pem" % d]["last_write"]
    assert by_name(doc, "hooks")["note"]["runs"] >= 1

    # The CLI, through the control socket: a table when piped (no
    # colour, a plain bar), JSON with --json, and exit 0.
    rc, out, err = status(a)
    assert rc == 0, out + err
    assert "\033[" not in out
    assert re.search(r"^web\s+entry\s+valid\s.*\[#+\.*\]\s+\d+%", out, re.M), out
    assert re.search(r"^tpl\s+template\s+valid\s", out, re.M), out
    assert "certagent 0.1.0: healthy, ready" in out or re.search(r": healthy, ready", out)
    rc, out, _ = status(a, "--json")
    assert rc == 0 and json.loads(out)["health"] == "healthy"
    # The same document on the TCP listener and on the socket.
    r = subprocess.run([BIN, "status", "--socket", str(sock), "--json"],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 0
    assert set(json.loads(r.stdout)) == set(doc)

    # Outage: a renewal asked for fails; the files stay valid: degraded (1).
    drop_everything(env.vs)
    r = subprocess.run([BIN, "rotate", "web", "-c", str(a.config)],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    a.wait_for(r"certs: web: .*old files kept, next try")
    rc, out, _ = status(a, "--json")
    doc = json.loads(out)
    assert rc == 1, doc
    assert doc["health"] == "degraded"
    web = by_name(doc)["web"]
    assert web["state"] == "failing" and web["failures"] >= 1 and web["last_error"]
    assert doc["vault"]["reachable"] is False
    assert doc["ready"] is True      # what is on disk is valid
    assert any("web" in p for p in doc["problems"])
    rc, out, _ = status(a)
    assert rc == 1 and re.search(r"^web\s+entry\s+failing\s", out, re.M), out
    assert "problems:" in out

    # Vault is back: the renewal goes through, healthy again.
    env.vs.clear_faults()
    a.wait_for(r"certs: web: issued serial", count=2, timeout=30)
    rc, out, _ = status(a, "--json")
    doc = json.loads(out)
    assert rc == 0, doc
    assert by_name(doc)["web"]["state"] == "valid"
    assert by_name(doc)["web"]["last_error"] is None

    assert a.stop() == 0
    rc, out, err = status(a)
    assert rc == 2 and "is the agent running?" in err
    rc, out, _ = status(a, "--json")
    assert rc == 2 and json.loads(out)["reachable"] is False


def test_status_says_critical_once_a_certificate_expires_in_an_outage(env):
    rid, sid = pki_setup(env)
    d = env.tmp / "tls"
    d.mkdir()
    sock = env.tmp / "ctl.sock"
    a = env.agent(config(env, rid, sid, d, sock=sock, web_ttl="5s",
                         web_extra="renew_at: 0.9\n            jitter: 0.01",
                         with_template=False)).start()
    a.wait_for(r"certs: web: issued serial")
    drop_everything(env.vs)
    a.wait_for(r"web: EXPIRED at", timeout=60)
    rc, out, _ = status(a, "--json")
    doc = json.loads(out)
    assert rc == 2, doc
    assert doc["health"] == "critical" and doc["ready"] is False
    assert by_name(doc)["web"]["state"] == "expired"
    rc, out, _ = status(a)
    assert rc == 2 and re.search(r"^web\s+entry\s+expired\s.*\[\.{20}\]\s+0%\s+expired\s", out,
                                 re.M), out
    env.vs.clear_faults()
    a.wait_for(r"certs: web: issued serial", count=2, timeout=30)
    assert status(a)[0] in (0, 1)   # valid again; a short one renews often
    assert a.stop() == 0


def kv_config(env, rid, sid, d, port, fail_open):
    return config(env, rid, sid, d, port=port, with_template=False, extra_top="""
        fail_open: %s
        templates:
          - destination: %s/app.env
            contents: '{{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ end }}'
        """ % ("true" if fail_open else "false", d))


def test_readiness_with_fail_open_on_and_off_through_an_outage(env):
    rid, sid = pki_setup(env)
    env.vs.kv_put("app", {"user": "bob"})
    d = env.tmp / "tls"
    d.mkdir()
    port = free_port()
    # Both settings: a running agent stays ready through an outage while
    # its files are valid.
    for fail_open in (False, True):
        a = env.agent(kv_config(env, rid, sid, d, port, fail_open),
                      name="run-%s" % fail_open).start()
        a.wait_for(r"every file is in place")
        wait_status(port, "/readyz", 200)
        drop_everything(env.vs)
        a.send(signal.SIGUSR1)      # a renewal that fails
        a.wait_for(r"certs: web: .*old files kept, next try")
        assert http_get(port, "/readyz") == (200, "ready\n")
        env.vs.clear_faults()
        assert a.stop() == 0

    # A start during the outage, with valid files on disk: fail_open
    # false waits for Vault; fail_open true is ready on the files.
    drop_everything(env.vs)
    closed = env.agent(kv_config(env, rid, sid, d, port, False), name="closed").start()
    closed.wait_for(r"web: kept the certificate on disk")
    closed.wait_for(r"POST auth/approle/login via .*: Empty reply", count=2)
    st, body = http_get(port, "/readyz")
    assert st == 503 and "first render not complete" in body, body
    assert closed.stop() == 0
    opened = env.agent(kv_config(env, rid, sid, d, port, True), name="open").start()
    opened.wait_for(r"web: kept the certificate on disk")
    opened.wait_for(r"POST auth/approle/login via .*: Empty reply", count=2)
    assert wait_status(port, "/readyz", 200) == "ready\n"
    doc = json.loads(http_get(port, "/v1/status")[1])
    assert doc["fail_open"] is True and doc["ready"] is True
    # ... but not when a file is missing: valid files, not hope.
    os.unlink(d / "app.env")
    st, body = http_get(port, "/readyz")
    assert st == 503, body
    env.vs.clear_faults()
    opened.wait_for(r"rendered %s/app.env" % d, timeout=30)
    wait_status(port, "/readyz", 200)
    assert opened.stop() == 0


def test_audit_log_of_an_issue_rotate_revoke_cycle_and_no_secret_anywhere(env):
    rid, sid = pki_setup(env, token_ttl="6s")
    planted = "kv-planted-password-93f1c2"
    env.secrets.add(planted)
    env.vs.kv_put("app", {"password": planted})
    d = env.tmp / "tls"
    d.mkdir()
    port = free_port()
    sock = env.tmp / "ctl.sock"
    audit = env.tmp / "audit.log"
    a = env.agent(config(env, rid, sid, d, port=port, sock=sock,
                         web_extra="revoke_previous_after: 1s", extra_top="""
        audit: {path: %s}
        templates:
          - destination: %s/app.env
            mode: "0640"
            contents: '{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}'
        """ % (audit, d), with_template=False)).start()
    a.wait_for(r"every file is in place")
    a.wait_for(r"hooks: note: exited 0")
    a.wait_for(r"auth: token renewed", timeout=30)
    first = serial_of(d / "web.crt")
    r = subprocess.run([BIN, "rotate", "web", "-c", str(a.config)], capture_output=True,
                       text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    a.wait_for(r"certs: web: issued serial", count=2)
    a.wait_for(r"revoke: web: revoked serial", timeout=15)
    a.wait_for(r"hooks: note: exited 0", count=2)
    # logrotate: move the file away, then SIGHUP.
    rotated = env.tmp / "audit.log.1"
    os.rename(audit, rotated)
    a.send(signal.SIGHUP)
    a.wait_for(r"configuration reloaded")
    st, status_body = http_get(port, "/v1/status")
    st2, metrics = http_get(port, "/metrics")
    assert st == 200 and st2 == 200
    assert a.stop() == 0

    assert oct(audit.stat().st_mode & 0o777) == "0o600"
    before = [json.loads(l) for l in rotated.read_text().splitlines()]
    after = [json.loads(l) for l in audit.read_text().splitlines()]
    assert [e["event"] for e in after] == ["config_reload"], after
    assert after[0]["ok"] is True
    events = [e["event"] for e in before]
    for ev in ("login", "token_renewal", "issuance", "renewal", "revocation",
               "file_write", "hook_run"):
        assert ev in events, (ev, events)
    for e in before:
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", e["time"])
    login = next(e for e in before if e["event"] == "login")
    assert login["ok"] is True and login["method"] == "approle"
    issued = next(e for e in before if e["event"] == "issuance" and e["name"] == "web")
    renewed = next(e for e in before if e["event"] == "renewal" and e["name"] == "web")
    assert issued["ok"] is True and renewed["ok"] is True
    assert issued["serial"] != renewed["serial"]
    assert issued["subject"] == "CN=web.example.test"
    assert "DNS:www.example.test" in issued["sans"]
    assert re.match(r"([0-9a-f]{2}:){31}[0-9a-f]{2}$", issued["sha256_fingerprint"])
    assert issued["not_after"].endswith("Z")
    der = subprocess.run(["openssl", "x509", "-in", str(d / "web.crt"), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    fp = hashlib.sha256(der).hexdigest()
    assert renewed["sha256_fingerprint"].replace(":", "") == fp
    rev = next(e for e in before if e["event"] == "revocation")
    assert rev["ok"] is True and rev["name"] == "web"
    assert rev["serial"] == issued["serial"]
    writes = {e["path"]: e for e in before if e["event"] == "file_write"}
    key = writes["%s/web.key" % d]
    assert key["name"] == "web"
    assert key["mode"] == "0600" and key["uid"] == os.getuid()
    assert key["sha256"] == hashlib.sha256((d / "web.key").read_bytes()).hexdigest()
    env_file = writes["%s/app.env" % d]
    assert env_file["mode"] == "0640"
    assert env_file["sha256"] == hashlib.sha256(planted.encode()).hexdigest()
    hook = next(e for e in before if e["event"] == "hook_run")
    assert hook["name"] == "note" and hook["ok"] is True and hook["exit_status"] == 0
    _ = first

    # No secret in any output: the tokens vaultsim issued, the secret-id,
    # the planted kv value, every private key the agent wrote.
    secrets = (env.issued_tokens() - {env.vs.root_token}) | env.secrets
    for pem in ((d / "web.key").read_text(),):
        body = "".join(l for l in pem.splitlines() if "-----" not in l)
        secrets |= {body[i:i + 40] for i in range(0, len(body) - 40, 40)}
    outputs = {"log": a.log(), "audit": rotated.read_text() + audit.read_text(),
               "status": status_body, "metrics": metrics}
    for name, text in outputs.items():
        leaked = [s[:6] + "..." for s in secrets if s and s in text]
        assert not leaked, (name, leaked)
