"""vaultsim driven by a client nobody here wrote: Debian's python3-hvac.

Run: /usr/bin/python3 -m pytest -q test/integration/test_vaultsim_hvac.py
"""

import datetime
import os
import sys
import time

import pytest

hvac = pytest.importorskip("hvac")
requests = pytest.importorskip("requests")

from cryptography import x509                                           # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization       # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID          # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vaultsim"))

from harness import Vaultsim                                            # noqa: E402
from standins import JWTIssuer as JWTIssuerForTest                      # noqa: E402

UTC = datetime.timezone.utc

APP_POLICY = """
path "secret/data/app/*" {
  capabilities = ["create", "read", "update"]
}
path "secret/metadata/app/*" {
  capabilities = ["list", "read"]
}
path "kv/app/*" {
  capabilities = ["create", "read", "update", "list"]
}
path "pki_int/issue/web" {
  capabilities = ["update"]
}
path "pki_int/sign/web" {
  capabilities = ["update"]
}
path "database/creds/+" {
  capabilities = ["read"]
}
"""


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def vs(tmp_path_factory):
    with Vaultsim(tmp_path_factory.mktemp("vs")) as v:
        v.policy("app", APP_POLICY)
        yield v


@pytest.fixture
def fresh(tmp_path):
    """A private instance for tests that seal, shift the clock or redirect."""
    with Vaultsim(tmp_path) as v:
        yield v


def client(vs, token=None, cert=None):
    return hvac.Client(url=vs.https_addr, verify=vs.tls_ca, token=token, cert=cert)


def app_client(vs, role="app", **role_params):
    params = {"token_policies": ["app"], "token_ttl": "1h", "token_max_ttl": "4h"}
    params.update(role_params)
    role_id, secret_id = vs.approle(role, **params)
    c = client(vs)
    c.auth.approle.login(role_id=role_id, secret_id=secret_id)
    return c


# --------------------------------------------------------------------------
# X.509 helpers (independent of vaultsim's own code)

def verify_sig(cert, issuer):
    pub = issuer.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                   cert.signature_hash_algorithm)
    else:
        pub.verify(cert.signature, cert.tbs_certificate_bytes,
                   ec.ECDSA(cert.signature_hash_algorithm))


def verify_chain(leaf, chain, root):
    """leaf <- chain[0] <- ... <- root, names and signatures."""
    cur = leaf
    for ca in chain + [root]:
        if cur.subject == ca.subject and cur.public_key().public_numbers() == \
                ca.public_key().public_numbers():
            continue          # the root itself at the end of the chain
        assert cur.issuer == ca.subject
        verify_sig(cur, ca)
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert bc.ca
        cur = ca
    assert cur.subject == root.subject
    verify_sig(root, root)


def pem_cert(s):
    return x509.load_pem_x509_certificate(s.encode())


def load_root(vs):
    with open(vs.pki_root, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def utc(dt):
    return dt.replace(tzinfo=UTC)


# --------------------------------------------------------------------------
# auth: approle

def test_approle_login(vs):
    role_id, secret_id = vs.approle("app-login", token_policies="app", token_ttl="1h",
                                    token_max_ttl="4h")
    c = client(vs)
    resp = c.auth.approle.login(role_id=role_id, secret_id=secret_id)
    auth = resp["auth"]
    assert c.is_authenticated()
    assert auth["policies"] == ["app", "default"]
    assert auth["token_policies"] == ["app", "default"]
    assert auth["metadata"] == {"role_name": "app-login"}
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True
    assert auth["client_token"].startswith("hvs.") and len(auth["client_token"]) > 90
    assert auth["token_type"] == "service" and auth["orphan"] is True
    look = c.auth.token.lookup_self()["data"]
    assert look["path"] == "auth/approle/login"
    assert look["accessor"] == auth["accessor"]
    assert 3590 <= look["ttl"] <= 3600
    # the token shows up on the side channel
    assert auth["accessor"] in [t["accessor"] for t in vs.tokens()]


def test_invalid_secret_id_raises_invalid_request(vs):
    role_id, _ = vs.approle("app-bad", token_policies="app")
    c = client(vs)
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.auth.approle.login(role_id=role_id, secret_id="00000000-0000-0000-0000-000000000000")
    assert "invalid role or secret ID" in str(ei.value)
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.auth.approle.login(role_id="no-such-role-id", secret_id="x")
    assert "invalid role or secret ID" in str(ei.value)


def test_secret_id_num_uses_and_ttl(vs):
    role_id, secret_id = vs.approle("app-once", token_policies="app", secret_id_num_uses=1)
    c = client(vs)
    c.auth.approle.login(role_id=role_id, secret_id=secret_id)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid role or secret ID"):
        client(vs).auth.approle.login(role_id=role_id, secret_id=secret_id)
    st, body = vs.api("POST", "auth/approle/role/app-once/secret-id", {})
    assert st == 200
    assert body["data"]["secret_id_num_uses"] == 1
    assert set(body["data"]) == {"secret_id", "secret_id_accessor", "secret_id_ttl",
                                 "secret_id_num_uses"}


# --------------------------------------------------------------------------
# auth: cert

def test_cert_login_with_client_cert(vs):
    cert, key = vs.client_cert("agent-1", name="agents", token_policies="app",
                               token_ttl="30m", allowed_common_names="agent-*")
    c = client(vs, cert=(cert, key))
    resp = c.auth.cert.login(cert_pem=cert, key_pem=key)
    auth = resp["auth"]
    assert auth["policies"] == ["app", "default"]
    assert auth["metadata"]["cert_name"] == "agents"
    assert auth["metadata"]["common_name"] == "agent-1"
    assert auth["lease_duration"] == 1800
    look = c.auth.token.lookup_self()["data"]
    assert look["path"] == "auth/cert/login"
    assert look["display_name"] == "cert-agents"
    logins = [r for r in vs.requests() if r["path"] == "/v1/auth/cert/login"]
    assert logins[-1]["client_cert_cn"] == "agent-1" and logins[-1]["status"] == 200


def test_cert_login_failures(vs):
    cert, key = vs.client_cert("svc-x", name="svc", token_policies="app",
                               allowed_common_names="svc-*")
    # no client certificate on the TLS connection
    st, body = vs.api("POST", "auth/cert/login", {}, token=None)
    assert st == 400 and body["errors"] == ["client certificate must be supplied"]
    # plain HTTP
    st, body = vs.api("POST", "auth/cert/login", {}, token=None, https=False)
    assert st == 400 and body["errors"] == ["tls connection required"]
    # trusted CA but the CN does not pass allowed_common_names of the named entry
    other, okey = vs.client_cert("intruder", register=False)
    st, body = vs.api("POST", "auth/cert/login", {"name": "svc"}, token=None,
                      cert=(other, okey))
    assert st == 400
    assert body["errors"] == ["no chain matching all constraints could be found for this "
                              "login certificate"]


def test_cert_login_untrusted_ca(vs, tmp_path):
    with Vaultsim(tmp_path) as other:          # a different client CA, never registered here
        cert, key = other.client_cert("stranger", register=False)
    st, body = vs.api("POST", "auth/cert/login", {}, token=None, cert=(cert, key))
    assert st == 400
    assert body["errors"] == ["invalid certificate or no client certificate supplied"]


def test_cert_token_renew_rechecks_client_cert(vs, tmp_path):
    cert, key = vs.client_cert("renewer", name="renewers", token_policies="app",
                               token_ttl="10m", token_max_ttl="1h")
    c = client(vs, cert=(cert, key))
    tok = c.auth.cert.login(cert_pem=cert, key_pem=key)["auth"]["client_token"]
    # same certificate: renew works
    r = c.auth.token.renew_self(increment="20m")
    assert r["auth"]["lease_duration"] == 1200
    # no certificate: Vault re-checks the cert on renew
    st, body = vs.api("POST", "auth/token/renew-self", {}, token=tok)
    assert st == 400 and body["errors"] == ["client certificate must be supplied"]
    # a certificate from a CA that is not registered
    with Vaultsim(tmp_path) as other:
        ocert, okey = other.client_cert("renewer", register=False)
    st, body = vs.api("POST", "auth/token/renew-self", {}, token=tok, cert=(ocert, okey))
    assert st == 400
    assert body["errors"] == ["invalid certificate or no client certificate supplied"]


# --------------------------------------------------------------------------
# auth/token

def test_token_lookup_self_and_renew_ttl_cap_warning(vs):
    c = app_client(vs, role="app-renew", token_ttl="1h", token_max_ttl="2h")
    look = c.auth.token.lookup_self()["data"]
    for k in ("accessor", "creation_time", "creation_ttl", "expire_time", "explicit_max_ttl",
              "id", "issue_time", "policies", "renewable", "ttl", "type", "num_uses", "meta",
              "path"):
        assert k in look, k
    assert look["type"] == "service" and look["creation_ttl"] == 3600
    assert look["id"] == c.token
    # RFC 3339 with fractional seconds, as Go prints a time.Time.
    exp = datetime.datetime.fromisoformat(look["expire_time"].replace("Z", "+00:00"))
    assert abs(exp.timestamp() - (time.time() + look["ttl"])) < 5
    # within the max: no warning
    r = c.auth.token.renew_self(increment="90m")
    assert r["auth"]["lease_duration"] == 5400 and not r["warnings"]
    # past the 2h max TTL: capped, with Vault's warning
    r = c.auth.token.renew_self(increment="5h")
    assert 7190 <= r["auth"]["lease_duration"] <= 7200
    assert len(r["warnings"]) == 1
    w = r["warnings"][0]
    assert w.startswith('TTL of "5h" exceeded the effective max_ttl of "')
    assert w.endswith('"; TTL value is capped accordingly')
    # without increment: the role's token_ttl, still capped by max
    r = c.auth.token.renew_self()
    assert r["auth"]["lease_duration"] == 3600


def test_token_create_and_not_renewable(vs):
    st, body = vs.api("POST", "auth/token/renew-self", {})
    assert st == 400 and body["errors"] == ["lease is not renewable"]
    root = client(vs, token=vs.root_token)
    t = root.auth.token.create(policies=["app"], ttl="10m", renewable=False)["auth"]
    assert t["lease_duration"] == 600 and t["renewable"] is False
    with pytest.raises(hvac.exceptions.InvalidRequest, match="lease is not renewable"):
        client(vs, token=t["client_token"]).auth.token.renew_self()
    # explicit_max_ttl caps renewals of token-store tokens
    t = root.auth.token.create(policies=["app"], ttl="10m", explicit_max_ttl="15m")["auth"]
    r = client(vs, token=t["client_token"]).auth.token.renew_self(increment="1h")
    assert 890 <= r["auth"]["lease_duration"] <= 900 and r["warnings"]
    # creating tokens needs a policy for auth/token/create ...
    with pytest.raises(hvac.exceptions.Forbidden):
        client(vs, token=t["client_token"]).auth.token.create(policies=["app"])
    # ... and a child token cannot get policies its parent lacks
    vs.policy("creator", 'path "auth/token/create" { capabilities = ["update"] }')
    p = root.auth.token.create(policies=["app", "creator"], ttl="10m")["auth"]["client_token"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="child policies must be subset"):
        client(vs, token=p).auth.token.create(policies=["admin"])
    child = client(vs, token=p).auth.token.create(policies=["app"], ttl="5m")["auth"]
    assert child["policies"] == ["app", "default"] and child["orphan"] is False


def test_token_revoke_self_and_lookup(vs):
    c = app_client(vs, role="app-revoke")
    acc = c.auth.token.lookup_self()["data"]["accessor"]
    look = client(vs, token=vs.root_token).auth.token.lookup(c.token)["data"]
    assert look["accessor"] == acc
    c.auth.token.revoke_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        c.auth.token.lookup_self()
    assert acc not in [t["accessor"] for t in vs.tokens()]


def test_legacy_token_style(tmp_path):
    with Vaultsim(tmp_path, token_style="legacy") as v:
        assert v.root_token.startswith("s.") and len(v.root_token) == 26
        role_id, secret_id = v.approle("r", token_policies="default")
        tok = v.approle_login(role_id, secret_id)["client_token"]
        assert tok.startswith("s.") and len(tok) == 26


# --------------------------------------------------------------------------
# policies

def test_forbidden_outside_policy(vs):
    c = app_client(vs, role="app-forbid")
    c.secrets.kv.v2.create_or_update_secret(path="app/ok", secret={"a": "b"})
    with pytest.raises(hvac.exceptions.Forbidden):
        c.secrets.kv.v2.read_secret_version(path="other/secret")
    with pytest.raises(hvac.exceptions.Forbidden):
        c.secrets.pki.generate_certificate("web", "x.example.com", mount_point="pki")
    st, body = vs.api("GET", "sys/mounts", token=c.token)
    assert st == 403 and body == {"errors": ["permission denied"]}
    # no token at all
    st, body = vs.api("GET", "secret/data/app/ok", token=None)
    assert st == 403 and body == {"errors": ["permission denied"]}


def test_policy_globs_and_deny(vs):
    vs.policy("globby", """
        path "kv/team/+/config" { capabilities = ["read"] }
        path "kv/team/*"        { capabilities = ["list"] }
        path "kv/team/secret/config" { capabilities = ["deny"] }
    """)
    vs.kv_put("team/a/config", {"x": "1"}, mount="kv", version=1)
    vs.kv_put("team/secret/config", {"x": "2"}, mount="kv", version=1)
    t = vs.token(policies=["globby"])["client_token"]
    assert vs.api("GET", "kv/team/a/config", token=t)[0] == 200
    assert vs.api("GET", "kv/team/secret/config", token=t)[0] == 403
    assert vs.api("GET", "kv/team/a/b/config", token=t)[0] == 403
    assert vs.api("LIST", "kv/team/", token=t)[0] == 200
    st, body = vs.api("GET", "sys/policies/acl/globby")
    assert st == 200 and "kv/team/+/config" in body["data"]["policy"]


# --------------------------------------------------------------------------
# kv

def test_kv_v2_create_or_update_and_read(vs):
    c = app_client(vs, role="app-kv2")
    w = c.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"user": "u1"})
    assert w["data"]["version"] == 1 and w["data"]["destroyed"] is False
    c.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"user": "u2"}, cas=1)
    r = c.secrets.kv.v2.read_secret_version(path="app/db")
    assert r["data"]["data"] == {"user": "u2"}
    md = r["data"]["metadata"]
    assert md["version"] == 2 and md["deletion_time"] == "" and md["created_time"].endswith("Z")
    assert r["lease_duration"] == 0 and r["lease_id"] == ""
    old = c.secrets.kv.v2.read_secret_version(path="app/db", version=1)
    assert old["data"]["data"] == {"user": "u1"}
    with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set parameter did not"):
        c.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"user": "u3"}, cas=1)
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.kv.v2.read_secret_version(path="app/missing")
    meta = client(vs, token=vs.root_token).secrets.kv.v2.read_secret_metadata(path="app/db")
    assert meta["data"]["current_version"] == 2 and set(meta["data"]["versions"]) == {"1", "2"}
    # the v1-style path on a v2 mount: 404 with Vault's warning
    st, body = vs.api("GET", "secret/app/db")
    assert st == 404 and body["data"] is None
    assert body["warnings"][0].startswith("Invalid path for a versioned K/V secrets engine")


def test_kv_v2_soft_delete(vs):
    vs.kv_put("app/gone", {"k": "v"})
    assert vs.api("DELETE", "secret/data/app/gone")[0] == 204
    st, body = vs.api("GET", "secret/data/app/gone")
    assert st == 404 and body["data"]["data"] is None
    assert body["data"]["metadata"]["deletion_time"] != ""


def test_kv_v1_read_write(vs):
    c = app_client(vs, role="app-kv1")
    c.secrets.kv.v1.create_or_update_secret(path="app/conf", secret={"port": "5432"},
                                            mount_point="kv")
    r = c.secrets.kv.v1.read_secret(path="app/conf", mount_point="kv")
    assert r["data"] == {"port": "5432"}
    assert r["lease_duration"] == 2764800 and r["lease_id"] == "" and r["renewable"] is False
    keys = c.secrets.kv.v1.list_secrets(path="app", mount_point="kv")["data"]["keys"]
    assert "conf" in keys
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.kv.v1.read_secret(path="app/nothing", mount_point="kv")


# --------------------------------------------------------------------------
# pki

@pytest.fixture(scope="module")
def web_role(vs):
    vs.pki_role("web", allowed_domains="example.com", allow_subdomains=True, max_ttl="72h",
                ttl="24h")
    return "web"


def test_pki_issue(vs, web_role):
    c = app_client(vs, role="app-pki")
    t0 = time.time()
    resp = c.secrets.pki.generate_certificate(
        web_role, "www.example.com",
        extra_params={"alt_names": "api.example.com", "ip_sans": "127.0.0.1", "ttl": "1000h"},
        mount_point="pki_int")
    d = resp["data"]
    leaf = pem_cert(d["certificate"])
    chain = [pem_cert(p) for p in d["ca_chain"]]
    root = load_root(vs)
    assert pem_cert(d["issuing_ca"]) == chain[0]
    verify_chain(leaf, chain, root)
    assert chain[-1] == root          # default: chain holds the intermediate and the root
    # names
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"www.example.com", "api.example.com"}
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "www.example.com"
    # NotBefore backdated 30 s; TTL capped at the role's max_ttl (72h) with no error
    nb, na = utc(leaf.not_valid_before), utc(leaf.not_valid_after)
    assert t0 - 32 <= nb.timestamp() <= t0 - 28
    assert abs((na - nb).total_seconds() - (72 * 3600 + 30)) <= 2
    assert d["expiration"] == int(na.timestamp())
    assert any("maxTTL" in w for w in resp["warnings"] or [])
    # extensions
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = chain[0].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    # key and serial
    key = serialization.load_pem_private_key(d["private_key"].encode(), None)
    assert d["private_key_type"] == "ec"
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    assert d["serial_number"] == ":".join(
        "%02x" % b for b in leaf.serial_number.to_bytes((leaf.serial_number.bit_length() + 7)
                                                        // 8, "big"))
    # the issued cert is readable by serial (unauthenticated)
    st, body = vs.api("GET", "pki_int/cert/" + d["serial_number"], token=None)
    assert st == 200 and pem_cert(body["data"]["certificate"]) == leaf


def test_pki_issue_rsa(vs):
    vs.pki_role("rsa-web", allowed_domains="example.com", allow_subdomains=True,
                key_type="rsa", key_bits=2048)
    st, body = vs.api("POST", "pki_int/issue/rsa-web", {"common_name": "r.example.com"})
    assert st == 200
    d = body["data"]
    assert d["private_key_type"] == "rsa"
    assert d["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    leaf = pem_cert(d["certificate"])
    assert leaf.public_key().key_size == 2048


def test_pki_issue_errors(vs, web_role):
    root = client(vs, token=vs.root_token)
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        root.secrets.pki.generate_certificate(web_role, "evil.com", mount_point="pki_int")
    assert ei.value.errors == ["common name evil.com not allowed by this role"]
    vs.pki_role("any-key", allow_any_name=True, key_type="any")
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        root.secrets.pki.generate_certificate("any-key", "x.example.com",
                                              mount_point="pki_int")
    assert ei.value.errors == ['role key type "any" not allowed for issuing certificates, '
                               'only signing']
    st, body = vs.api("POST", "pki_int/issue/nope", {"common_name": "a.example.com"})
    assert st == 400 and body["errors"] == ["unknown role: nope"]
    # a new pki mount without a CA cannot issue
    assert vs.api("POST", "sys/mounts/pki_empty", {"type": "pki"})[0] == 204
    vs.pki_role("r", mount="pki_empty", allow_any_name=True)
    st, body = vs.api("POST", "pki_empty/issue/r", {"common_name": "a.example.com"})
    assert st == 400 and body["errors"] == ["no default issuer currently configured"]


def test_pki_sign_csr(vs, web_role):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr.example.com")]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("csr.example.com"),
                                                       x509.DNSName("alt.example.com")]), False)
           .sign(key, hashes.SHA256()))
    c = app_client(vs, role="app-sign")
    resp = c.secrets.pki.sign_certificate(
        web_role, csr.public_bytes(serialization.Encoding.PEM).decode(), "csr.example.com",
        extra_params={"ttl": "1h"}, mount_point="pki_int")
    d = resp["data"]
    assert "private_key" not in d
    leaf = pem_cert(d["certificate"])
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    verify_chain(leaf, [pem_cert(p) for p in d["ca_chain"]], load_root(vs))
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"csr.example.com", "alt.example.com"}
    assert abs((utc(leaf.not_valid_after) - utc(leaf.not_valid_before)).total_seconds()
               - 3630) <= 2


def test_pki_revoke_and_crl(vs, web_role):
    st, body = vs.api("POST", "pki_int/issue/web", {"common_name": "rev.example.com"})
    serial = body["data"]["serial_number"]
    leaf = pem_cert(body["data"]["certificate"])
    st, body = vs.api("POST", "pki_int/revoke", {"serial_number": serial})
    assert st == 200 and body["data"]["revocation_time"] > 0
    assert body["data"]["revocation_time_rfc3339"].endswith("Z")
    st, hdrs, pem = vs.raw("GET", "pki_int/crl/pem", token=None)
    assert st == 200
    crl = x509.load_pem_x509_crl(pem)
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
    st, hdrs, der = vs.raw("GET", "pki_int/crl", token=None)
    assert st == 200 and hdrs["content-type"] == "application/pkix-crl"
    assert x509.load_der_x509_crl(der).issuer == leaf.issuer
    inter = pem_cert(vs.admin("GET", "pki")[1]["certificate"])
    assert crl.is_signature_valid(inter.public_key())
    st, body = vs.api("GET", "pki_int/cert/" + serial, token=None)
    assert body["data"]["revocation_time"] > 0


def test_pki_ca_endpoints_and_chain_choice(vs):
    st, hdrs, pem = vs.raw("GET", "pki_int/ca/pem", token=None)
    assert st == 200 and hdrs["content-type"] == "application/pem-certificate-chain"
    inter = x509.load_pem_x509_certificate(pem)
    st, hdrs, der = vs.raw("GET", "pki_int/ca", token=None)
    assert x509.load_der_x509_certificate(der) == inter
    st, hdrs, chain = vs.raw("GET", "pki_int/ca_chain", token=None)
    assert chain.count(b"BEGIN CERTIFICATE") == 2
    st, body = vs.api("GET", "pki_int/cert/ca_chain", token=None)
    assert body["data"]["certificate"].count("BEGIN CERTIFICATE") == 2
    vs.pki_role("chain", allow_any_name=True)
    try:
        vs.pki_config(chain_includes_root=False)
        st, body = vs.api("POST", "pki_int/issue/chain", {"common_name": "c.example.com"})
        assert len(body["data"]["ca_chain"]) == 1
        assert pem_cert(body["data"]["ca_chain"][0]) == inter
    finally:
        vs.pki_config(chain_includes_root=True)
    st, body = vs.api("POST", "pki_int/issue/chain", {"common_name": "c.example.com"})
    assert len(body["data"]["ca_chain"]) == 2


def test_pki_not_after_never_past_issuer(vs):
    vs.pki_role("long", allow_any_name=True, max_ttl="87600h")
    info = vs.pki_config()
    ca_na = info["not_after"]
    st, body = vs.api("POST", "pki_int/issue/long", {"common_name": "l.example.com",
                                                     "ttl": "87000h"})
    assert st == 400 and "beyond the expiration of the CA certificate" in body["errors"][0]
    vs.api("POST", "pki_int/issuer/default", {"leaf_not_after_behavior": "truncate"})
    try:
        st, body = vs.api("POST", "pki_int/issue/long", {"common_name": "l.example.com",
                                                         "ttl": "87000h"})
        assert st == 200 and body["data"]["expiration"] == ca_na
    finally:
        vs.api("POST", "pki_int/issuer/default", {"leaf_not_after_behavior": "err"})


# --------------------------------------------------------------------------
# database + leases

def test_database_creds_and_lease_renew(vs):
    vs.db_role("readonly", default_ttl="1h", max_ttl="2h")
    c = app_client(vs, role="app-db")
    r1 = c.secrets.database.generate_credentials("readonly")
    r2 = c.secrets.database.generate_credentials("readonly")
    assert r1["lease_id"].startswith("database/creds/readonly/")
    assert r1["renewable"] is True and r1["lease_duration"] == 3600
    assert r1["data"]["username"] != r2["data"]["username"]
    assert r1["data"]["password"] != r2["data"]["password"]
    lease = r1["lease_id"]
    ren = c.sys.renew_lease(lease, increment=1800)
    assert ren["lease_id"] == lease and ren["lease_duration"] == 1800 and not ren["warnings"]
    ren = c.sys.renew_lease(lease, increment=3 * 3600)
    assert 7190 <= ren["lease_duration"] <= 7200
    assert ren["warnings"][0].startswith('TTL of "3h" exceeded the effective max_ttl of')
    look = c.sys.read_lease(lease)["data"]
    assert look["id"] == lease and look["renewable"] is True and look["last_renewal"]
    # revoking needs more than the default policy
    with pytest.raises(hvac.exceptions.Forbidden):
        c.sys.revoke_lease(lease)
    client(vs, token=vs.root_token).sys.revoke_lease(lease)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="lease not found"):
        c.sys.renew_lease(lease)
    st, body = vs.api("PUT", "sys/leases/lookup", {"lease_id": lease})
    assert st == 400 and body["errors"] == ["invalid lease"]


# --------------------------------------------------------------------------
# server states and the side channel

def test_sealed_raises_vault_down(fresh):
    c = client(fresh, token=fresh.root_token)
    assert c.sys.read_health_status(method="GET")["sealed"] is False
    fresh.seal()
    with pytest.raises(hvac.exceptions.VaultDown):
        c.secrets.kv.v2.read_secret_version(path="anything")
    st, body = fresh.api("GET", "sys/health")
    assert st == 503 and body["sealed"] is True
    st, body = fresh.api("GET", "sys/health?sealedcode=299")
    assert st == 299
    st, body = fresh.api("GET", "sys/seal-status")
    assert st == 200 and body["sealed"] is True
    st, body = fresh.api("GET", "auth/token/lookup-self")
    assert st == 503 and body == {"errors": ["Vault is sealed"]}
    fresh.unseal()
    assert c.auth.token.lookup_self()["data"]["policies"] == ["root"]


def test_standby_redirects_with_307(fresh, tmp_path):
    with Vaultsim(tmp_path, subdir="standby", tls_ca_from=fresh) as sb:
        sb.standby(fresh.https_addr)
        st, hdrs, _ = sb.raw("GET", "/v1/secret/data/foo?version=2")
        assert st == 307
        assert hdrs["location"] == fresh.https_addr + "/v1/secret/data/foo?version=2"
        st, body = sb.api("GET", "sys/health")
        assert st == 429 and body["standby"] is True
        assert sb.api("GET", "sys/health?standbyok=true")[0] == 200
        st, body = sb.api("GET", "sys/leader")
        assert st == 200 and body["leader_address"] == fresh.https_addr
        # hvac (requests) follows the 307 to the active node
        fresh.kv_put("foo", {"v": "active"})
        c = client(sb, token=fresh.root_token)
        assert c.secrets.kv.v2.read_secret_version(path="foo")["data"]["data"] == \
            {"v": "active"}
        sb.standby(None)
        assert sb.api("GET", "sys/health")[0] == 200


def test_clock_advance_expires_token_and_lease(fresh):
    fresh.policy("app", APP_POLICY)
    fresh.db_role("ro", default_ttl="10m", max_ttl="1h")
    c = app_client(fresh, token_ttl="5m", token_max_ttl="1h")
    creds = c.secrets.database.generate_credentials("ro")
    c.auth.token.lookup_self()
    fresh.advance(301)
    with pytest.raises(hvac.exceptions.Forbidden):
        c.auth.token.lookup_self()
    assert c.token not in [t["token"] for t in fresh.tokens()]
    # the expired token's leases went with it
    st, body = fresh.api("PUT", "sys/leases/renew", {"lease_id": creds["lease_id"]})
    assert st == 400 and body["errors"] == ["lease not found"]


def test_fault_injection(vs):
    c = client(vs, token=vs.root_token)
    vs.fault(status=500, count=2, path_prefix="/v1/sys/mounts", method="GET")
    for _ in range(2):
        with pytest.raises(hvac.exceptions.InternalServerError):
            c.sys.list_mounted_secrets_engines()
    assert "secret/" in c.sys.list_mounted_secrets_engines()["data"]
    # 429 with Retry-After, raw body
    vs.fault(status=429, count=1, path_prefix="/v1/sys/leader", retry_after=7)
    st, hdrs, body = vs.raw("GET", "sys/leader")
    assert st == 429 and hdrs["retry-after"] == "7" and b"errors" in body
    vs.fault(status=502, count=1, path_prefix="/v1/sys/leader", body="<html>bad gateway</html>")
    st, hdrs, body = vs.raw("GET", "sys/leader")
    assert st == 502 and body == b"<html>bad gateway</html>"
    # delay
    vs.fault(delay_ms=300, count=1, path_prefix="/v1/sys/leader")
    t0 = time.time()
    assert vs.api("GET", "sys/leader")[0] == 200
    assert time.time() - t0 >= 0.3
    # malformed JSON
    vs.fault(malformed=True, count=1, path_prefix="/v1/sys/leader")
    st, hdrs, body = vs.raw("GET", "sys/leader")
    assert st == 200 and hdrs["content-type"] == "application/json"
    with pytest.raises(ValueError):
        __import__("json").loads(body)
    # huge body
    vs.fault(huge_bytes=3_000_000, count=1, path_prefix="/v1/sys/leader")
    st, hdrs, body = vs.raw("GET", "sys/leader")
    assert st == 200 and len(body) == 3_000_000
    # dropped connection
    vs.fault(drop=True, count=1, path_prefix="/v1/sys/leader")
    with pytest.raises((ConnectionError, OSError, Exception)) as ei:
        vs.raw("GET", "sys/leader")
    assert not isinstance(ei.value, AssertionError)
    # count -1 until cleared
    vs.fault(status=503, count=-1, path_prefix="/v1/sys/leader")
    assert vs.api("GET", "sys/leader")[0] == 503
    assert vs.api("GET", "sys/leader")[0] == 503
    vs.clear_faults()
    assert vs.api("GET", "sys/leader")[0] == 200
    log = [r for r in vs.requests() if r["path"] == "/v1/sys/leader"]
    assert [r["status"] for r in log[-4:]] == [0, 503, 503, 200]


def test_namespace_header_and_request_log(vs):
    vs.clear_requests()
    c = hvac.Client(url=vs.https_addr, verify=vs.tls_ca, token=vs.root_token,
                    namespace="team-a")
    c.auth.token.lookup_self()
    log = vs.requests()
    assert log[-1]["namespace"] == "team-a"
    assert log[-1]["path"] == "/v1/auth/token/lookup-self" and log[-1]["status"] == 200
    assert log[-1]["scheme"] == "https" and isinstance(log[-1]["remote_port"], int)
    # tokens never appear in the request log
    assert vs.root_token not in repr(log)


def test_side_channel_revoke(vs):
    c = app_client(vs, role="app-sc")
    acc = c.auth.token.lookup_self()["data"]["accessor"]
    assert vs.revoke(accessor=acc)["revoked"] == 1
    with pytest.raises(hvac.exceptions.Forbidden):
        c.auth.token.lookup_self()


def test_server_name_mismatch(tmp_path):
    with Vaultsim(tmp_path, server_name="vault.other.test") as v:
        with pytest.raises(requests.exceptions.SSLError):
            hvac.Client(url=v.https_addr, verify=v.tls_ca).sys.read_health_status(method="GET")
        # plain HTTP still answers
        assert v.api("GET", "sys/health", https=False)[0] == 200


def test_mount_new_engines(vs):
    assert vs.api("POST", "sys/mounts/kv2b", {"type": "kv", "options": {"version": "2"}})[0] \
        == 204
    st, body = vs.api("POST", "sys/mounts/kv2b", {"type": "kv"})
    assert st == 400 and body["errors"] == ["path is already in use at kv2b/"]
    vs.kv_put("x", {"a": 1}, mount="kv2b")
    assert vs.api("GET", "kv2b/data/x")[1]["data"]["data"] == {"a": 1}
    st, body = vs.api("GET", "sys/internal/ui/mounts/kv2b/x")
    assert st == 200 and body["data"]["options"] == {"version": "2"}
    assert vs.api("POST", "sys/auth/approle2", {"type": "approle"})[0] == 204
    rid, sid = vs.approle("r2", mount="approle2", token_policies="app")
    assert vs.approle_login(rid, sid, mount="approle2")["policies"] == ["app", "default"]


# --------------------------------------------------------------------------
# response wrapping

def test_wrapped_secret_id_unwraps_once(vs):
    vs.approle("app-wrapped", token_policies="app")
    root = client(vs, token=vs.root_token)
    resp = root.write("auth/approle/role/app-wrapped/secret-id", wrap_ttl="60s")
    info = resp["wrap_info"]
    assert resp["data"] is None and resp["auth"] is None
    assert info["ttl"] == 60 and info["creation_path"] == "auth/approle/role/app-wrapped/secret-id"
    assert info["token"].startswith("hvs.") and info["accessor"]
    # first party: the wrapping token itself unwraps
    unwrapped = client(vs, token=info["token"]).sys.unwrap()
    secret_id = unwrapped["data"]["secret_id"]
    assert unwrapped["data"]["secret_id_accessor"] == info["wrapped_accessor"]
    role_id = root.read("auth/approle/role/app-wrapped/role-id")["data"]["role_id"]
    login = client(vs).auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert login["auth"]["policies"] == ["app", "default"]
    # single use
    with pytest.raises(hvac.exceptions.InvalidRequest,
                       match="wrapping token is not valid or does not exist"):
        root.sys.unwrap(token=info["token"])


def test_wrapped_kv_read_unwrapped_by_another_token(vs):
    vs.kv_put("app/wrapped", {"password": "s3cr3t"})
    c = app_client(vs, role="app-wrap-kv")
    resp = c.read("secret/data/app/wrapped", wrap_ttl=120)
    assert resp["data"] is None and resp["wrap_info"]["ttl"] == 120
    assert "wrapped_accessor" not in resp["wrap_info"]
    other = app_client(vs, role="app-unwrapper")      # default policy allows sys/wrapping/unwrap
    inner = other.sys.unwrap(token=resp["wrap_info"]["token"])
    assert inner["data"]["data"] == {"password": "s3cr3t"}
    assert inner["request_id"] == resp["request_id"]
    with pytest.raises(hvac.exceptions.InvalidRequest,
                       match="wrapping token is not valid or does not exist"):
        other.sys.unwrap(token=resp["wrap_info"]["token"])


def test_wrapped_token_create_has_wrapped_accessor(vs):
    root = client(vs, token=vs.root_token)
    resp = root.auth.token.create(policies=["app"], ttl="10m", wrap_ttl="5m")
    assert resp["auth"] is None and resp["wrap_info"]["ttl"] == 300
    inner = root.sys.unwrap(token=resp["wrap_info"]["token"])
    assert inner["auth"]["accessor"] == resp["wrap_info"]["wrapped_accessor"]
    assert client(vs, token=inner["auth"]["client_token"]).is_authenticated()


def test_wrapping_token_expires_with_the_clock(fresh):
    root = client(fresh, token=fresh.root_token)
    fresh.kv_put("ttl", {"v": "1"})
    resp = root.read("secret/data/ttl", wrap_ttl="30s")
    fresh.advance(31)
    with pytest.raises(hvac.exceptions.InvalidRequest,
                       match="wrapping token is not valid or does not exist"):
        root.sys.unwrap(token=resp["wrap_info"]["token"])


# --------------------------------------------------------------------------
# auth: kubernetes (against the harness's TokenReview stand-in)

@pytest.fixture(scope="module")
def kube(vs):
    k8s = vs.kubernetes_setup(configure=False)
    root = client(vs, token=vs.root_token)
    root.auth.kubernetes.configure(kubernetes_host=k8s.url, kubernetes_ca_cert=k8s.ca_pem,
                                   token_reviewer_jwt=k8s.reviewer_jwt)
    return k8s


def test_kubernetes_configure_and_roles(vs, kube):
    root = client(vs, token=vs.root_token)
    conf = root.auth.kubernetes.read_config()
    assert conf["kubernetes_host"] == kube.url and conf["token_reviewer_jwt_set"] is True
    assert conf["kubernetes_ca_cert"] == kube.ca_pem
    root.auth.kubernetes.create_role("k8s-app", bound_service_account_names=["app"],
                                     bound_service_account_namespaces=["default"],
                                     policies=["app"], ttl="1h", max_ttl="4h")
    role = root.auth.kubernetes.read_role("k8s-app")
    assert role["bound_service_account_names"] == ["app"]
    assert role["bound_service_account_namespaces"] == ["default"]
    assert role["token_policies"] == role["policies"] == ["app"]
    assert role["token_ttl"] == role["ttl"] == 3600 and role["token_max_ttl"] == 14400
    assert "k8s-app" in root.auth.kubernetes.list_roles()["keys"]
    root.auth.kubernetes.delete_role("k8s-app")
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.auth.kubernetes.read_role("k8s-app")


def test_kubernetes_login(vs, kube):
    root = client(vs, token=vs.root_token)
    root.auth.kubernetes.create_role("k8s-login", bound_service_account_names=["app"],
                                     bound_service_account_namespaces=["default"],
                                     policies=["app"], ttl="1h")
    c = client(vs)
    resp = c.auth.kubernetes.login("k8s-login", kube.mint("default", "app", uid="uid-1"))
    auth = resp["auth"]
    assert c.is_authenticated()
    assert auth["policies"] == ["app", "default"] and auth["lease_duration"] == 3600
    assert auth["metadata"]["service_account_uid"] == "uid-1"
    assert auth["metadata"]["role"] == "k8s-login"
    look = c.auth.token.lookup_self()["data"]
    assert look["path"] == "auth/kubernetes/login"
    assert look["display_name"] == "kubernetes-default-app"
    c.secrets.kv.v2.create_or_update_secret(path="app/from-k8s", secret={"a": "b"})


def test_kubernetes_login_errors(vs, kube):
    root = client(vs, token=vs.root_token)
    root.auth.kubernetes.create_role("k8s-strict", bound_service_account_names=["app"],
                                     bound_service_account_namespaces=["prod"])
    with pytest.raises(hvac.exceptions.Forbidden, match="namespace not authorized"):
        client(vs).auth.kubernetes.login("k8s-strict", kube.mint("default", "app"))
    with pytest.raises(hvac.exceptions.Forbidden, match="service account name not authorized"):
        client(vs).auth.kubernetes.login("k8s-strict", kube.mint("prod", "other"))
    revoked = kube.mint("prod", "app")
    kube.set(revoked, authenticated=False)
    with pytest.raises(hvac.exceptions.Forbidden, match="permission denied"):
        client(vs).auth.kubernetes.login("k8s-strict", revoked)
    with pytest.raises(hvac.exceptions.InvalidRequest, match='invalid role name "missing"'):
        client(vs).auth.kubernetes.login("missing", kube.mint("prod", "app"))


# --------------------------------------------------------------------------
# auth: jwt

@pytest.fixture(scope="module")
def jwt_issuer(vs):
    iss = vs.jwt_setup(key_type="ec", configure=False, bound_issuer="https://issuer.test")
    client(vs, token=vs.root_token).auth.jwt.configure(
        jwt_validation_pubkeys=[iss.public_key_pem], bound_issuer="https://issuer.test")
    return iss


def test_jwt_configure_and_roles(vs, jwt_issuer):
    root = client(vs, token=vs.root_token)
    conf = root.auth.jwt.read_config()["data"]
    assert conf["bound_issuer"] == "https://issuer.test"
    assert conf["jwt_validation_pubkeys"] == [jwt_issuer.public_key_pem.strip()]
    root.auth.jwt.create_role("jwt-ci", user_claim="sub", allowed_redirect_uris=[],
                              role_type="jwt", bound_audiences=["vault"],
                              bound_claims={"repo": ["app", "web"]},
                              claim_mappings={"repo": "repository"}, token_policies=["app"],
                              token_ttl="30m")
    role = root.auth.jwt.read_role("jwt-ci")["data"]
    assert role["role_type"] == "jwt" and role["bound_audiences"] == ["vault"]
    assert role["bound_claims"] == {"repo": ["app", "web"]}
    assert role["claim_mappings"] == {"repo": "repository"}
    assert role["token_policies"] == ["app"] and role["token_ttl"] == 1800
    assert "jwt-ci" in root.auth.jwt.list_roles()["data"]["keys"]


def test_jwt_login(vs, jwt_issuer):
    root = client(vs, token=vs.root_token)
    root.auth.jwt.create_role("jwt-login", user_claim="sub", allowed_redirect_uris=[],
                              role_type="jwt", bound_audiences=["vault"],
                              claim_mappings={"repo": "repository"}, token_policies=["app"],
                              token_ttl="30m")
    c = client(vs)
    resp = c.auth.jwt.jwt_login("jwt-login", jwt_issuer.token(sub="ci-42", aud="vault",
                                                               repo="app"))
    auth = resp["auth"]
    assert c.is_authenticated()
    assert auth["policies"] == ["app", "default"] and auth["lease_duration"] == 1800
    assert auth["metadata"] == {"repository": "app", "role": "jwt-login"}
    look = c.auth.token.lookup_self()["data"]
    assert look["path"] == "auth/jwt/login" and look["display_name"] == "jwt-ci-42"


def test_jwt_login_errors(vs, jwt_issuer, tmp_path):
    root = client(vs, token=vs.root_token)
    root.auth.jwt.create_role("jwt-strict", user_claim="sub", allowed_redirect_uris=[],
                              role_type="jwt", bound_audiences=["vault"],
                              bound_claims={"sub": "deployer"})
    c = client(vs)
    with pytest.raises(hvac.exceptions.InvalidRequest,
                       match=r"error validating token: invalid audience \(aud\) claim: "
                             "audience claim does not match any expected audience"):
        c.auth.jwt.jwt_login("jwt-strict", jwt_issuer.token(sub="deployer", aud="other"))
    with pytest.raises(hvac.exceptions.InvalidRequest,
                       match='error validating claims: claim "sub" does not match any '
                             'associated bound claim values'):
        c.auth.jwt.jwt_login("jwt-strict", jwt_issuer.token(sub="intruder", aud="vault"))
    stranger = JWTIssuerForTest(tmp_path, issuer="https://issuer.test")
    with pytest.raises(hvac.exceptions.InvalidRequest,
                       match="no known key successfully validated the token signature"):
        c.auth.jwt.jwt_login("jwt-strict", stranger.token(sub="deployer", aud="vault"))
    with pytest.raises(hvac.exceptions.InvalidRequest, match='role "missing" could not be found'):
        c.auth.jwt.jwt_login("missing", jwt_issuer.token(sub="deployer", aud="vault"))
