"""Many certificates in one agent: exact counts of Vault calls, logins and
file writes; and a restart with valid files on disk issues and writes
nothing."""

import os
import re
import time

import pytest

from test_certs import cert_config

N_ISSUE = 50
N_SIGN = 50
N = N_ISSUE + N_SIGN
ISSUE_FILES = ("crt", "key", "chain")      # issue mode: cert, key, chain
SIGN_FILES = ("crt", "key")                # sign mode: cert, key


@pytest.fixture
def pki(env):
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    env.vs.pki_role("any", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="any")
    env.vs.policy("pki", """
        path "pki_int/issue/*" { capabilities = ["create", "update"] }
        path "pki_int/sign/*" { capabilities = ["create", "update"] }
    """)
    # Tokens outlive the test: no renewal or second login can blur the counts.
    return env.approle_files(token_policies=["default", "pki"], token_ttl="10m",
                             token_max_ttl="1h")


def many(d):
    """N_ISSUE issue-mode and N_SIGN sign-mode entries, one flow line each."""
    lines = []
    for i in range(N_ISSUE):
        lines.append(
            "- {name: i%d, path: pki_int/issue/web, common_name: i%d.example.test, "
            "ttl: 30m, files: {cert: {path: %s/i%d.crt}, key: {path: %s/i%d.key}, "
            "chain: {path: %s/i%d.chain}}}" % (i, i, d, i, d, i, d, i))
    for i in range(N_SIGN):
        lines.append(
            "- {name: s%d, mode: sign, path: pki_int/sign/any, common_name: s%d.example.test, "
            "ttl: 30m, key_type: ec, key_bits: 256, "
            "files: {cert: {path: %s/s%d.crt}, key: {path: %s/s%d.key}}}" % (i, i, d, i, d, i))
    return "\n".join(lines)


def expected_files(d):
    return sorted(["%s/i%d.%s" % (d, i, ext) for i in range(N_ISSUE) for ext in ISSUE_FILES] +
                  ["%s/s%d.%s" % (d, i, ext) for i in range(N_SIGN) for ext in SIGN_FILES])


def snapshot(d):
    """Every file in D with (inode, mtime_ns, size)."""
    out = {}
    for name in os.listdir(d):
        st = os.lstat(os.path.join(d, name))
        out[os.path.join(str(d), name)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def pki_calls(reqs):
    return [r for r in reqs
            if r["path"] in ("/v1/pki_int/issue/web", "/v1/pki_int/sign/any")]


def logins(reqs):
    return [r for r in reqs if r["path"] == "/v1/auth/approle/login"]


def wrote_lines(log):
    """{cert name: [files written, ...]} from "NAME: wrote N files" lines."""
    out = {}
    for name, n in re.findall(r"certs: (\S+): wrote (\d+) files? from one issuance", log):
        out.setdefault(name, []).append(int(n))
    return out


def test_many_certificates_exact_calls_logins_and_writes(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    cfg = cert_config(env, rid, sid, many(d))
    env.vs.clear_requests()

    a = env.agent(cfg).start()
    a.wait_for(r"wrote \d+ files? from one issuance", count=N, timeout=180)
    first = snapshot(d)
    # A moment later nothing has moved: no second issuance, no rewrite.
    time.sleep(1.0)
    assert snapshot(d) == first, "files rewritten after the first round"
    reqs = env.vs.requests()
    assert a.stop() == 0

    calls = pki_calls(reqs)
    assert len(calls) == N, "expected exactly %d issue/sign calls, saw %d" % (N, len(calls))
    assert all(r["status"] == 200 for r in calls), [r["status"] for r in calls]
    assert len([r for r in calls if r["path"].endswith("/issue/web")]) == N_ISSUE
    assert len([r for r in calls if r["path"].endswith("/sign/any")]) == N_SIGN
    assert len(logins(reqs)) == 1, "expected one login, saw %d" % len(logins(reqs))
    # At most 2 requests on the wire at once (vault.c's cap): from
    # vaultsim's log, no instant is inside more than 2 requests.
    spans = sorted((r["t"], r["t"] + r["duration_ms"] / 1000.0) for r in reqs)
    peak = max(sum(1 for s0, e0 in spans if s0 <= start < e0) for start, _e in spans)
    assert peak <= 2, "%d requests were in flight at once" % peak
    # ... over a handful of reused connections, not one per certificate.
    ports = {r["remote_port"] for r in reqs}
    assert len(ports) <= 4, "%d connections for %d requests" % (len(ports), len(reqs))

    # Each entry wrote its set exactly once, with every file of the set.
    wrote = wrote_lines(a.log())
    assert sorted(wrote) == sorted(["i%d" % i for i in range(N_ISSUE)] +
                                   ["s%d" % i for i in range(N_SIGN)])
    for name, counts in wrote.items():
        want = len(ISSUE_FILES) if name.startswith("i") else len(SIGN_FILES)
        assert counts == [want], "%s: wrote %s, expected one write of %d" % (name, counts, want)
    # Exactly the expected files, nothing else (no temp file, no backup).
    assert sorted(first) == expected_files(d)
    assert snapshot(d) == first, "files changed after the agent stopped"

    # Restart with every file valid on disk: no issuance, no write, one login.
    env.vs.clear_requests()
    b = env.agent(cfg, name="restart").start()
    b.wait_for(r"kept the certificate on disk", count=N, timeout=180)
    b.wait_for(r"logged in", timeout=30)
    reqs = env.vs.requests()
    assert b.stop() == 0
    assert pki_calls(reqs) == [], "a restart issued %d certificates" % len(pki_calls(reqs))
    assert len(logins(reqs)) == 1
    assert wrote_lines(b.log()) == {}
    assert snapshot(d) == first, "a restart rewrote files"
