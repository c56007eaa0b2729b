"""Login and token lifecycle, against vaultsim over HTTPS."""

import os
import signal
import stat
import time

from harness import Vaultsim


def sink_token(path, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            tok = path.read_text()
            if tok:
                return tok
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError("no token in %s" % path)


def agent_requests(vs, prefix):
    return [r for r in vs.requests() if r["path"].startswith(prefix)]


def test_approle_login_writes_token_sink_0600_and_removes_secret_id(env):
    rid, sid = env.approle_files()
    sink = env.tmp / "token"
    a = env.agent(env.approle_config(rid, sid, auth="token_sink: {path: %s}" % sink)).start()
    a.wait_for(r"logged in with approle at auth/approle")
    tok = sink_token(sink)
    assert stat.S_IMODE(os.stat(sink).st_mode) == 0o600
    st, body = env.vs.api("GET", "auth/token/lookup-self", token=tok)
    assert st == 200 and body["data"]["path"] == "auth/approle/login"
    assert not sid.exists(), "secret-id file should be removed after reading"
    assert rid.exists()
    assert a.stop() == 0


def test_secret_id_file_is_kept_when_removal_is_off(env):
    rid, sid = env.approle_files()
    a = env.agent(env.approle_config(
        rid, sid, auth="remove_secret_id_file_after_reading: false")).start()
    a.wait_for(r"logged in with approle")
    assert sid.exists()
    assert a.stop() == 0


def test_cert_login_over_mtls_presents_the_client_cert_on_every_request(env):
    cert, key = env.vs.client_cert("agent.example", name="web", token_ttl="3s",
                                   token_max_ttl="1h", token_policies=["default"])
    env.vs.clear_requests()
    a = env.agent("""
        vault:
          address: %s
          ca_cert: %s
          client_cert: %s
          client_key: %s
        auth:
          method: cert
          name: web
        log: {level: debug}
        """ % (env.vs.https_addr, env.vs.tls_ca, cert, key)).start()
    a.wait_for(r"logged in with cert at auth/cert")
    # Vault renews a cert-auth token only over a connection that presents
    # the same certificate: renewals succeeding shows it is presented.
    a.wait_for(r"token renewed", count=2, timeout=15)
    reqs = agent_requests(env.vs, "/v1/")
    assert reqs and all(r["client_cert_cn"] == "agent.example" for r in reqs), reqs
    assert a.stop() == 0


def test_token_is_renewed_before_expiry_and_stays_the_same(env):
    rid, sid = env.approle_files(token_ttl="3s", token_max_ttl="1h")
    sink = env.tmp / "token"
    a = env.agent(env.approle_config(rid, sid, auth="token_sink: {path: %s}" % sink)).start()
    a.wait_for(r"token renewed", count=3, timeout=20)
    tok = sink_token(sink)
    st, body = env.vs.api("GET", "auth/token/lookup-self", token=tok)
    assert st == 200, "the renewed token must still be valid"
    assert a.count(r"logged in with approle") == 1
    renews = agent_requests(env.vs, "/v1/auth/token/renew-self")
    assert len(renews) >= 3 and all(r["status"] == 200 for r in renews)
    assert a.stop() == 0


def test_max_ttl_cap_leads_to_a_fresh_login_before_expiry(env):
    rid, sid = env.approle_files(token_ttl="2s", token_max_ttl="4s")
    sink = env.tmp / "token"
    a = env.agent(env.approle_config(rid, sid, auth="token_sink: {path: %s}" % sink)).start()
    a.wait_for(r"logged in with approle")
    first = sink_token(sink)
    a.wait_for(r"capped by its max TTL; logging in again", timeout=15)
    a.wait_for(r"logged in with approle", count=2, timeout=15)
    second = sink_token(sink)
    assert second != first
    # The secret-id file is gone: the second login used the value in memory.
    assert not sid.exists()
    assert a.stop() == 0


def test_revoked_token_leads_to_a_fresh_login(env):
    rid, sid = env.approle_files(token_ttl="3s", token_max_ttl="1h")
    sink = env.tmp / "token"
    a = env.agent(env.approle_config(rid, sid, auth="token_sink: {path: %s}" % sink)).start()
    a.wait_for(r"logged in with approle")
    first = sink_token(sink)
    env.vs.revoke(token=first)
    a.wait_for(r"dropping the Vault token: Vault rejected it", timeout=15)
    a.wait_for(r"logged in with approle", count=2, timeout=15)
    assert sink_token(sink) != first
    assert a.stop() == 0


def test_token_file_method_renews_the_provided_token(env):
    tok = env.vs.token(ttl="3s", policies=["default"], renewable=True)["client_token"]
    env.secrets.add(tok)
    tf = env.tmp / "vault-token"
    tf.write_text(tok + "\n")
    os.chmod(tf, 0o600)
    a = env.agent("""
        vault:
          address: %s
          ca_cert: %s
        auth:
          method: token
          token_file: %s
        """ % (env.vs.https_addr, env.vs.tls_ca, tf)).start()
    a.wait_for(r"using the token from")
    a.wait_for(r"token renewed", count=2, timeout=15)
    assert a.stop() == 0


def test_group_readable_secret_id_is_refused_and_the_agent_keeps_running(env):
    rid, sid = env.approle_files()
    os.chmod(sid, 0o640)
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"mode 0640 lets group or others read a credential")
    assert a.proc.poll() is None
    assert sid.exists(), "a refused file must not be removed"
    assert not agent_requests(env.vs, "/v1/auth/approle/login")
    os.chmod(sid, 0o600)
    a.wait_for(r"logged in with approle", timeout=15)
    assert a.stop() == 0


def test_login_rejection_is_logged_with_vaults_error_and_retried(env):
    rid, _sid = env.approle_files()
    bad = env.write_secret("bad-secret-id", "00000000-0000-0000-0000-000000000000")
    a = env.agent(env.approle_config(rid, bad)).start()
    a.wait_for(r"login with approle at auth/approle failed: .*HTTP 400: "
               r"invalid role or secret ID; next try in", count=2, timeout=15)
    assert a.proc.poll() is None
    assert a.stop() == 0


def test_missing_secret_id_file_is_named_and_retried(env):
    rid, sid = env.approle_files()
    os.unlink(sid)
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"%s: cannot open: No such file or directory" % sid)
    assert a.proc.poll() is None
    assert a.stop() == 0


def test_namespace_header_is_sent_on_every_request(env):
    rid, sid = env.approle_files()
    a = env.agent(env.approle_config(rid, sid, vault="namespace: team-a"))
    env.vs.clear_requests()
    a.start()
    a.wait_for(r"token valid for")
    reqs = agent_requests(env.vs, "/v1/")
    assert reqs and all(r["namespace"] == "team-a" for r in reqs), reqs
    assert a.stop() == 0


def test_json_log_lines_parse(env):
    import json
    rid, sid = env.approle_files()
    cfg = env.approle_config(rid, sid).replace("log: {level: debug}",
                                               "log: {level: debug, format: json}")
    a = env.agent(cfg).start()
    a.wait_for(r"logged in with approle")
    assert a.stop() == 0
    lines = [l for l in a.log().splitlines() if l.strip()]
    assert lines
    for line in lines:
        rec = json.loads(line)
        assert set(rec) == {"time", "level", "module", "msg"}


def test_every_secret_of_a_full_run_stays_out_of_the_log(env):
    """Login, renewals, a revocation and re-login, a sink: then read every
    line the agent wrote and look for every token vaultsim ever issued and
    every secret-id (the env fixture checks the same for every test)."""
    rid, sid = env.approle_files(token_ttl="2s", token_max_ttl="1h")
    sink = env.tmp / "token"
    a = env.agent(env.approle_config(rid, sid, auth="token_sink: {path: %s}" % sink)).start()
    a.wait_for(r"token renewed", timeout=15)
    env.vs.revoke(all=True)
    a.wait_for(r"logged in with approle", count=2, timeout=15)
    assert a.stop() == 0
    tokens = env.issued_tokens() - {env.vs.root_token}
    assert len(tokens) >= 2
    log = a.log()
    assert log.count("\n") > 5
    for s in tokens | env.secrets:
        assert s not in log
