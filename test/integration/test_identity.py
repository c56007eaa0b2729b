"""A cert-auth identity that stays current: the agent's own client
certificate (vault.client_cert/key) is renewed, by the agent itself or by
someone else, and every login after the first certificate expired
presents the new pair.

vaultsim, as Vault, identifies a cert login by the certificate on the TLS
connection that carries it, and a resumed TLS session carries the
certificate of its original handshake; so an agent that reuses a pooled
connection or a cached session keeps presenting the old certificate.
"""

import os
import re
import subprocess
import time

import pytest

from conftest import BIN
from test_certs import serial_of
from test_rotation import free_port, http_get, wait_status

LIFE = 30          # seconds of life of each identity certificate


@pytest.fixture
def idp(env):
    """A PKI role that issues the agent's identity, and cert auth that
    trusts pki_int, the CA that signs it."""
    vs = env.vs
    vs.pki_role("identity", allowed_domains="example.test", allow_subdomains=True,
                max_ttl="1h", key_type="ec", key_bits=256, not_before_duration="1s",
                client_flag=True)
    vs.policy("identity", 'path "pki_int/issue/identity" { capabilities = ["update"] }')
    with open(os.path.join(vs.dir, "pki-int.pem")) as f:
        ca = f.read()
    st, body = vs.api("POST", "auth/cert/certs/agent", {
        "certificate": ca, "token_policies": ["default", "identity"],
        "token_ttl": "8s", "token_max_ttl": "20s"})
    assert st in (200, 204), body
    return vs


def issue_identity(vs, d, ttl=LIFE, cn="agent.example.test"):
    """Issue a pair and put it in place by rename, as an outside writer
    would: cert first, then key (each rename is atomic, the pair is not)."""
    st, body = vs.api("POST", "pki_int/issue/identity", {"common_name": cn, "ttl": "%ds" % ttl})
    assert st == 200, body
    for name, text in (("id.crt", body["data"]["certificate"]),
                       ("id.key", body["data"]["private_key"])):
        tmp = d / ("." + name + ".new")
        tmp.write_text(text + "\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, d / name)
    return body["data"]["serial_number"], body["data"]["expiration"]


def config(vs, d, top=""):
    return """
vault:
  address: %s
  ca_cert: %s
  client_cert: %s/id.crt
  client_key: %s/id.key
  retry: {min_backoff: 200ms, max_backoff: 1s}
auth: {method: cert, name: agent}
log: {level: debug}
%s
""" % (vs.https_addr, vs.tls_ca, d, d, top)


SELF_RENEWAL = """
certificates:
  - name: identity
    path: pki_int/issue/identity
    common_name: agent.example.test
    ttl: %ds
    renew_at: 0.5
    jitter: 0
    files:
      cert: {path: %s/id.crt}
      key: {path: %s/id.key}
"""


def logins(vs):
    return [r for r in vs.requests() if r["path"] == "/v1/auth/cert/login"]


def wait_logins_after(vs, t, count, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ok = [r for r in logins(vs) if r["t"] > t and r["status"] == 200]
        if len(ok) >= count:
            return ok
        time.sleep(0.5)
    raise AssertionError("%d logins after %.0f wanted; got %s" % (
        count, t, [(round(r["t"] - t), r["status"]) for r in logins(vs)]))


def test_the_agent_renews_its_own_identity_and_logs_in_with_each_new_pair(env, idp):
    d = env.tmp / "id"
    d.mkdir()
    first_serial, first_expiry = issue_identity(idp, d)
    a = env.agent(config(idp, d, SELF_RENEWAL % (LIFE, d, d))).start()
    a.wait_for(r"identity: kept the certificate on disk")
    a.wait_for(r"logged in with cert at auth/cert")
    # Renewed at half its life: the new pair is written, and used at once.
    a.wait_for(r"identity: wrote 2 files from one issuance", timeout=LIFE)
    a.wait_for(r"a new client certificate is in use: logging in again", timeout=10)
    assert serial_of(d / "id.crt").lower().replace(":", "") != first_serial.lower().replace(":", "")
    ok = wait_logins_after(idp, first_expiry + 1, 2, timeout=3 * LIFE)
    assert len(ok) >= 2
    failed = [r for r in logins(idp) if r["status"] != 200]
    assert failed == [], failed
    assert "failed" not in "".join(re.findall(r"login with cert.*", a.log()))
    assert a.stop() == 0


def test_a_pair_replaced_by_someone_else_is_presented_from_the_next_request(env, idp):
    d = env.tmp / "id"
    d.mkdir()
    port = free_port()
    _s, first_expiry = issue_identity(idp, d)
    # A kv read every second keeps a connection in use all along, as a
    # busy agent does: a pooled connection must not carry the old pair.
    idp.kv_put("app", {"user": "u"})
    idp.policy("identity", 'path "pki_int/issue/identity" { capabilities = ["update"] }\n'
               'path "secret/data/app" { capabilities = ["read"] }')
    top = '''listener: {address: "127.0.0.1:%d"}
template_config: {static_secret_render_interval: 1s}
templates:
  - destination: %s/app.conf
    contents: '{{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ end }}'
''' % (port, d)
    a = env.agent(config(idp, d, top)).start()
    a.wait_for(r"logged in with cert at auth/cert")
    assert wait_status(port, "/readyz", 200) == "ready\n"
    # Another process renews the pair by rename, well before expiry, twice.
    for _ in range(3):
        time.sleep(LIFE / 2)
        serial, expiry = issue_identity(idp, d)
        a.wait_for(r"client certificate %s/id.crt: serial %s, presented from now on"
                   % (re.escape(str(d)), re.escape(serial)), timeout=15)
    ok = wait_logins_after(idp, first_expiry + 1, 2, timeout=2 * LIFE)
    assert len(ok) >= 2
    assert [r for r in logins(idp) if r["status"] != 200] == []
    # The identity shows in /metrics as a certificate, at its current NotAfter.
    st, m = http_get(port, "/metrics")
    assert 'certagent_certificate_not_after_seconds{name="vault-identity"} %d\n' % expiry in m
    assert wait_status(port, "/readyz", 200) == "ready\n"
    assert a.stop() == 0


def test_start_with_an_expired_identity_says_it_must_be_re_bootstrapped(env, idp):
    d = env.tmp / "id"
    d.mkdir()
    issue_identity(idp, d, ttl=2)
    time.sleep(3)
    cfg = env.tmp / "once.yaml"
    cfg.write_text(config(idp, d))
    idp.clear_requests()
    t0 = time.time()
    r = subprocess.run([BIN, "run", "--once", "-c", str(cfg)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert time.time() - t0 < 10
    assert re.search(r"client certificate %s/id.crt \(serial \S+\) expired at \S+: this "
                     r"identity must be re-bootstrapped" % re.escape(str(d)), r.stderr), r.stderr
    assert logins(idp) == []


def test_a_key_that_does_not_belong_to_the_certificate_names_both_files(env, idp):
    d = env.tmp / "id"
    d.mkdir()
    issue_identity(idp, d)
    key = (d / "id.key").read_text()
    issue_identity(idp, d)
    (d / "id.key").write_text(key)
    cfg = env.tmp / "once.yaml"
    cfg.write_text(config(idp, d))
    r = subprocess.run([BIN, "run", "--once", "-c", str(cfg)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "client certificate %s/id.crt and key %s/id.key do not belong together" % (d, d) \
        in r.stderr, r.stderr
    assert logins(idp) == []


def test_check_notes_when_nothing_renews_the_identity(env, idp):
    d = env.tmp / "id"
    d.mkdir()
    issue_identity(idp, d)
    cfg = env.tmp / "c.yaml"
    cfg.write_text(config(idp, d))
    r = subprocess.run([BIN, "check", "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "note: nothing renews vault.client_cert (%s/id.crt)" % d in r.stdout
    assert "common_name: agent.example.test" in r.stdout
    cfg.write_text(config(idp, d, SELF_RENEWAL % (LIFE, d, d)))
    r = subprocess.run([BIN, "check", "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "note:" not in r.stdout
