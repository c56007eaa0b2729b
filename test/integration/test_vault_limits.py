"""vault.max_concurrent_requests and vault.max_requests_per_second: what
one agent puts on Vault, observed at vaultsim (its in-flight count and
its request log)."""

from test_certs import cert_config
from test_rotation import pki  # noqa: F401


def many_certs(d, n):
    return "".join("""
        - name: t%(i)d
          path: pki_int/issue/web
          common_name: t%(i)d.example.test
          ttl: 1h
          files:
            bundle: {path: %(d)s/t%(i)d.pem, parts: [cert, key]}
        """ % {"i": i, "d": d} for i in range(n))


def test_max_concurrent_requests_is_never_exceeded_with_50_entries(env, pki):  # noqa: F811
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    # Slow answers, so that the agent has every reason to open more.
    env.vs.fault(path_prefix="/v1/pki_int/issue/", delay_ms=30, count=-1)
    config = env.approle_config(rid, sid, vault="max_concurrent_requests: 2",
                                auth="remove_secret_id_file_after_reading: false")
    config += "certificates:\n" + "\n".join(
        "  " + line for line in many_certs(d, 50).strip("\n").splitlines()) + "\n"
    env.vs.clear_requests()
    a = env.agent(config).start()
    a.wait_for(r"certs: t\d+: issued serial", count=50, timeout=60)
    state = env.vs.admin("GET", "state")[1]
    assert state["in_flight_max"] == 2, state
    issued = [r for r in env.vs.requests()
              if r["path"].startswith("/v1/pki_int/issue/") and r["status"] == 200]
    assert len(issued) == 50
    assert a.stop() == 0


def test_max_requests_per_second_is_honoured_in_every_one_second_window(env, pki):  # noqa: F811
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    limit = 10
    env.vs.clear_requests()
    a = env.agent(cert_config(env, rid, sid, many_certs(d, 30)).replace(
        "vault:\n", "vault:\n  max_requests_per_second: %d\n" % limit, 1)).start()
    a.wait_for(r"certs: t\d+: issued serial", count=30, timeout=60)
    times = sorted(r["t"] for r in env.vs.requests() if r["path"].startswith("/v1/"))
    assert len(times) >= 31          # the login and 30 issuances
    worst = max(sum(1 for u in times[i:] if u < t + 1.0) for i, t in enumerate(times))
    assert worst <= limit + 1, worst
    # The limit spaced them: 31 requests cannot have come in one second.
    assert times[-1] - times[0] >= (len(times) - 1) / limit - 1.0
    assert a.stop() == 0
