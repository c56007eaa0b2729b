"""Outages, faults, failover, HA redirects, TLS errors."""

import time

from harness import Vaultsim


def logins(vs):
    return [r for r in vs.requests() if r["path"] == "/v1/auth/approle/login"]


def answered(r):
    """When vaultsim had its answer to R ready: the agent can only have it
    later, so its backoff runs from no earlier than this.  (Its arrival,
    r["t"], can be late by however long a busy machine kept vaultsim's
    thread from starting on it, which says nothing about the agent.)"""
    return r["t"] + r["duration_ms"] / 1000.0


def test_injected_500s_back_off_with_a_bounded_request_rate(env):
    rid, sid = env.approle_files()
    env.vs.fault(status=500, count=-1, path_prefix="/v1/auth/approle/login")
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"HTTP 500.*retrying in", count=3, timeout=15)
    time.sleep(2.0)
    reqs = logins(env.vs)
    span = reqs[-1]["t"] - reqs[0]["t"]
    # min_backoff is 100 ms: never more than one attempt per 100 ms, and
    # the waits grow, so far fewer in practice.
    assert len(reqs) <= span / 0.1 + 1, (len(reqs), span)
    gaps = [b["t"] - answered(a_) for a_, b in zip(reqs, reqs[1:])]
    assert min(gaps) >= 0.09, gaps   # libuv times from its cached loop clock
    env.vs.clear_faults()
    a.wait_for(r"logged in with approle", timeout=15)
    assert a.stop() == 0


def test_429_retry_after_is_honoured(env):
    rid, sid = env.approle_files()
    env.vs.fault(status=429, count=1, retry_after=2, path_prefix="/v1/auth/approle/login")
    a = env.agent(env.approle_config(rid, sid, retry="{min_backoff: 100ms, max_backoff: 5s}")).start()
    a.wait_for(r"logged in with approle", timeout=15)
    reqs = logins(env.vs)
    assert [r["status"] for r in reqs] == [429, 200]
    assert reqs[1]["t"] - answered(reqs[0]) >= 1.9
    assert a.stop() == 0


def test_request_timeout_is_retried(env):
    rid, sid = env.approle_files()
    env.vs.fault(delay_ms=3000, count=1, path_prefix="/v1/auth/approle/login")
    a = env.agent(env.approle_config(rid, sid, vault="timeout: 1s")).start()
    a.wait_for(r"Operation timed out.*retrying in", timeout=15)
    a.wait_for(r"logged in with approle", timeout=15)
    assert a.stop() == 0


def test_sealed_vault_is_retried_until_unsealed(env):
    rid, sid = env.approle_files()
    env.vs.seal()
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"HTTP 503: Vault is sealed", count=2, timeout=15)
    env.vs.unseal()
    a.wait_for(r"logged in with approle", timeout=15)
    assert a.stop() == 0


def test_dropped_connections_and_malformed_json_are_named_and_retried(env):
    rid, sid = env.approle_files()
    env.vs.fault(drop=True, count=1, path_prefix="/v1/auth/approle/login")
    env.vs.fault(malformed=True, count=1, path_prefix="/v1/auth/approle/login")
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"logged in with approle", timeout=15)
    log = a.log()
    assert "Empty reply from server" in log or "Connection reset" in log or \
        "Recv failure" in log, log
    assert "a body that is not JSON" in log
    assert a.stop() == 0


def test_oversized_response_is_refused(env):
    rid, sid = env.approle_files()
    env.vs.fault(huge_bytes=100000, count=1, path_prefix="/v1/auth/approle/login")
    a = env.agent(env.approle_config(rid, sid, vault="max_response_size: 65536")).start()
    a.wait_for(r"response larger than vault.max_response_size \(65536 bytes\)")
    a.wait_for(r"logged in with approle", timeout=15)
    assert a.stop() == 0


def test_fails_over_to_the_second_address(env):
    rid, sid = env.approle_files()
    dead = "https://127.0.0.1:1"
    cfg = env.approle_config(rid, sid).replace(
        "address: %s" % env.vs.https_addr, "address: [%s, %s]" % (dead, env.vs.https_addr))
    a = env.agent(cfg).start()
    a.wait_for(r"logged in with approle", timeout=15)
    a.wait_for(r"via https://127.0.0.1:1: .*; trying %s" % env.vs.https_addr)
    assert a.stop() == 0


def test_standby_307_redirect_is_followed_to_the_active_node(env, tmp_path):
    rid, sid = env.approle_files()
    with Vaultsim(tmp_path, subdir="standby") as standby:
        standby.standby(env.vs.https_addr)
        # The standby has its own TLS CA: trust both.
        bundle = tmp_path / "both-cas.pem"
        bundle.write_text(open(env.vs.tls_ca).read() + open(standby.tls_ca).read())
        cfg = env.approle_config(rid, sid, address=standby.https_addr).replace(
            "ca_cert: %s" % env.vs.tls_ca, "ca_cert: %s" % bundle)
        a = env.agent(cfg).start()
        a.wait_for(r"logged in with approle", timeout=15)
        assert [r["status"] for r in standby.requests()
                if r["path"] == "/v1/auth/approle/login"] == [307]
        assert [r["status"] for r in logins(env.vs)] == [200]
        assert a.stop() == 0


def test_tls_server_name_is_used_for_sni_and_verification(tmp_path):
    # 127.0.0.1 stays in the SANs so the harness itself can talk to it.
    with Vaultsim(tmp_path, server_name="vault.test,127.0.0.1") as vs:
        from conftest import Env
        e = Env(tmp_path, vs)
        try:
            rid, sid = e.approle_files()
            ok = e.agent(e.approle_config(rid, sid, vault="tls_server_name: vault.test",
                                          auth="remove_secret_id_file_after_reading: false"),
                         name="good")
            ok.start().wait_for(r"logged in with approle", timeout=15)
            assert ok.stop() == 0
            bad = e.agent(e.approle_config(rid, sid, vault="tls_server_name: other.test",
                                           auth="remove_secret_id_file_after_reading: false"),
                          name="bad")
            bad.start().wait_for(r"SSL: no alternative certificate subject name matches "
                                 r"target host name 'other.test'", timeout=15)
            assert bad.stop() == 0
        finally:
            for a in e.agents:
                a.stop()


def test_untrusted_server_certificate_is_named(env, tmp_path):
    rid, sid = env.approle_files()
    cfg = env.approle_config(rid, sid).replace("ca_cert: %s" % env.vs.tls_ca,
                                               "ca_cert: %s" % env.vs.pki_root)
    a = env.agent(cfg).start()
    a.wait_for(r"SSL certificate problem: unable to get local issuer certificate", timeout=15)
    assert not logins(env.vs)
    assert a.stop() == 0


def test_outage_during_renewal_keeps_the_token_until_it_expires(env):
    rid, sid = env.approle_files(token_ttl="4s", token_max_ttl="1h")
    a = env.agent(env.approle_config(rid, sid, retry="{min_backoff: 200ms, max_backoff: 400ms}")).start()
    a.wait_for(r"logged in with approle")
    env.vs.fault(status=503, count=-1, path_prefix="/v1/")
    # Renewal fails through the outage; the token is dropped only when it
    # has expired, and only then does a new login start.
    a.wait_for(r"renew-self failed|dropping the Vault token: it expired", timeout=15)
    log = a.log()
    assert "Vault rejected it" not in log
    env.vs.clear_faults()
    a.wait_for(r"logged in with approle", count=2, timeout=15)
    assert a.stop() == 0
