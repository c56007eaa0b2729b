"""Declarative certificates: one issuance per set, verified before it
replaces anything, kept across restarts, written atomically."""

import os
import stat
import subprocess
import textwrap

import pytest


def openssl(*args, input=None):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True,
                       input=input, timeout=30)
    return r.returncode, r.stdout + r.stderr


def pubkey_of_cert(path):
    rc, out = openssl("x509", "-noout", "-pubkey", "-in", str(path))
    assert rc == 0, out
    return out


def pubkey_of_key(path):
    rc, out = openssl("pkey", "-pubout", "-in", str(path))
    assert rc == 0, out
    return out


def serial_of(path):
    rc, out = openssl("x509", "-noout", "-serial", "-in", str(path))
    assert rc == 0, out
    return out.strip()


def issue_requests(vs, role="web", kind="issue"):
    return [r for r in vs.requests()
            if r["path"] == "/v1/pki_int/%s/%s" % (kind, role) and r["status"] == 200]


def cert_config(env, rid, sid, certs, auth_extra="remove_secret_id_file_after_reading: false"):
    return env.approle_config(rid, sid, auth=auth_extra) + "certificates:\n" + \
        textwrap.indent(textwrap.dedent(certs).strip("\n"), "  ") + "\n"


@pytest.fixture
def pki(env):
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    env.vs.pki_role("any", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="any")
    policy = """
        path "pki_int/issue/*" { capabilities = ["create", "update"] }
        path "pki_int/sign/*" { capabilities = ["create", "update"] }
    """
    env.vs.policy("pki", policy)
    rid, sid = env.approle_files(token_policies=["default", "pki"])
    return rid, sid


def full_set(d):
    return """
        - name: web
          path: pki_int/issue/web
          common_name: www.example.test
          alt_names: [www.example.test, api.example.test]
          ip_sans: [127.0.0.1]
          ttl: 30m
          files:
            cert: {path: %(d)s/web.crt}
            key: {path: %(d)s/web.key}
            chain: {path: %(d)s/chain.pem}
            ca: {path: %(d)s/ca.pem}
            bundle: {path: %(d)s/web.pem, parts: [cert, chain, key]}
        """ % {"d": d}


def test_issue_mode_writes_a_verified_set_from_one_issuance(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    a = env.agent(cert_config(env, rid, sid, full_set(d))).start()
    a.wait_for(r"web: issued serial")
    assert len(issue_requests(env.vs)) == 1
    rc, out = openssl("verify", "-CAfile", str(d / "ca.pem"), "-untrusted",
                      str(d / "chain.pem"), str(d / "web.crt"))
    assert rc == 0, out
    assert pubkey_of_cert(d / "web.crt") == pubkey_of_key(d / "web.key")
    # The bundle holds the same certificate and key, then the chain.
    bundle = (d / "web.pem").read_text()
    assert bundle.startswith((d / "web.crt").read_text())
    assert (d / "web.key").read_text().strip() in bundle
    rc, out = openssl("x509", "-noout", "-ext", "subjectAltName", "-in", str(d / "web.crt"))
    assert "DNS:api.example.test" in out and "IP Address:127.0.0.1" in out, out
    assert stat.S_IMODE(os.stat(d / "web.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "web.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "web.crt").st_mode) == 0o644
    assert a.stop() == 0
    key_text = (d / "web.key").read_text()
    assert key_text.split("-----")[2].strip()[:40] not in a.log()


@pytest.mark.parametrize("key_type,bits,expect", [
    ("ec", 256, "ASN1 OID: prime256v1"),
    ("rsa", 2048, "Public-Key: (2048 bit)"),
    ("ed25519", 0, "ED25519"),
])
def test_sign_mode_keeps_the_key_on_the_host(env, pki, key_type, bits, expect):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: signed
          mode: sign
          path: pki_int/sign/any
          common_name: svc.example.test
          key_type: %s
          %s
          files:
            cert: {path: %s/svc.crt}
            key: {path: %s/svc.key}
        """ % (key_type, "key_bits: %d" % bits if bits else "", d, d)
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"signed: issued serial")
    assert len(issue_requests(env.vs, role="any", kind="sign")) == 1
    assert pubkey_of_cert(d / "svc.crt") == pubkey_of_key(d / "svc.key")
    rc, out = openssl("x509", "-noout", "-text", "-in", str(d / "svc.crt"))
    assert expect in out, out
    assert a.stop() == 0


def test_a_restart_keeps_valid_files_and_never_issues_again(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    cfg = cert_config(env, rid, sid, full_set(d))
    a = env.agent(cfg).start()
    a.wait_for(r"web: issued serial")
    assert a.stop() == 0
    before = {p.name: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in d.iterdir()}
    serial = serial_of(d / "web.crt")
    for i in range(100):
        b = env.agent(cfg, name="restart%d" % i).start()
        b.wait_for(r"web: kept the certificate on disk")
        assert b.stop() == 0
    assert len(issue_requests(env.vs)) == 1
    assert serial_of(d / "web.crt") == serial
    after = {p.name: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in d.iterdir()}
    assert after == before, "byte-identical files must not be rewritten"


def test_a_key_that_no_longer_matches_leads_to_a_new_issuance(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    cfg = cert_config(env, rid, sid, full_set(d))
    a = env.agent(cfg).start()
    a.wait_for(r"web: issued serial")
    assert a.stop() == 0
    rc, other = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    (d / "web.key").write_text(other)
    b = env.agent(cfg, name="second").start()
    b.wait_for(r"the files on disk will be replaced: .*")
    b.wait_for(r"web: issued serial")
    assert pubkey_of_cert(d / "web.crt") == pubkey_of_key(d / "web.key")
    assert len(issue_requests(env.vs)) == 2
    assert b.stop() == 0


def test_a_planted_symlink_is_replaced_not_followed(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    victim = env.tmp / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, d / "web.key")
    a = env.agent(cert_config(env, rid, sid, full_set(d))).start()
    a.wait_for(r"web: issued serial")
    assert victim.read_text() == "precious\n"
    assert stat.S_ISREG(os.lstat(d / "web.key").st_mode)
    assert a.stop() == 0


def test_a_bad_entry_fails_alone_with_vaults_reason(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = full_set(d) + """
        - name: bad
          path: pki_int/issue/web
          common_name: www.not-allowed.test
          files:
            cert: {path: %s/bad.crt}
            key: {path: %s/bad.key}
        """ % (d, d)
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"web: issued serial")
    a.wait_for(r"bad: .*HTTP 400: common name www.not-allowed.test not allowed by this role; "
               r"old files kept, next try in")
    assert not (d / "bad.crt").exists()
    assert (d / "web.crt").exists()
    assert a.stop() == 0


def test_a_certificate_failing_verification_writes_nothing(env, pki, tmp_path):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    # Pin a CA that did not issue it: the chain cannot verify.
    certs = """
        - name: pinned
          path: pki_int/issue/web
          common_name: www.example.test
          trust_anchor: %s
          files:
            cert: {path: %s/p.crt}
            key: {path: %s/p.key}
        """ % (env.vs.tls_ca, d, d)
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"pinned: the certificate Vault issued fails its check: .*"
               r"unable to get local issuer certificate.*old files kept")
    assert list(d.iterdir()) == []
    assert a.stop() == 0


def test_atomic_dir_swaps_the_set_through_a_data_link(env, pki):
    rid, sid = pki
    d = env.tmp / "secret-volume"
    certs = """
        - name: k8s
          path: pki_int/issue/web
          common_name: pod.example.test
          atomic_dir: %s
          files:
            cert: {path: tls.crt}
            key: {path: tls.key}
            ca: {path: ca.crt}
        """ % d
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"k8s: issued serial")
    assert os.readlink(d / "tls.crt") == "..data/tls.crt"
    assert os.readlink(d / "..data").startswith("..")
    assert pubkey_of_cert(d / "tls.crt") == pubkey_of_key(d / "tls.key")
    assert a.stop() == 0
    b = env.agent(cert_config(env, rid, sid, certs), name="again").start()
    b.wait_for(r"k8s: kept the certificate on disk")
    assert b.stop() == 0


def test_sighup_does_not_issue_again(env, pki):
    import signal
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    a = env.agent(cert_config(env, rid, sid, full_set(d))).start()
    a.wait_for(r"web: issued serial")
    ino = os.stat(d / "web.crt").st_ino
    a.send(signal.SIGHUP)
    a.wait_for(r"configuration reloaded")
    a.wait_for(r"web: unchanged by the reload; kept as it is")
    # An entry the reload changed starts over from disk, and keeps it.
    a.config.write_text(a.config.read_text().replace("ttl: 30m", "ttl: 40m"))
    a.send(signal.SIGHUP)
    a.wait_for(r"configuration reloaded", count=2)
    a.wait_for(r"web: kept the certificate on disk")
    assert len(issue_requests(env.vs)) == 1
    assert os.stat(d / "web.crt").st_ino == ino
    assert a.stop() == 0


def test_short_lived_certificate_is_renewed_before_expiry(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: short
          path: pki_int/issue/web
          common_name: s.example.test
          ttl: 45s
          files:
            cert: {path: %s/s.crt}
            key: {path: %s/s.key}
        """ % (d, d)
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"short: issued serial")
    first = serial_of(d / "s.crt")
    # NotBefore is backdated 30 s, so the lifetime is 75 s and renewal
    # comes at about 2/3 of it: within ~25 s of issuance.
    a.wait_for(r"short: issued serial", count=2, timeout=40)
    assert serial_of(d / "s.crt") != first
    assert pubkey_of_cert(d / "s.crt") == pubkey_of_key(d / "s.key")
    assert a.stop() == 0


@pytest.mark.parametrize("key_type,bits,expect", [
    ("rsa", 2048, "Public-Key: (2048 bit)"),
    ("ed25519", 0, "ED25519"),
])
def test_issue_mode_with_rsa_and_ed25519_roles(env, pki, key_type, bits, expect):
    rid, sid = pki
    role = "r-%s" % key_type
    params = {"key_type": key_type}
    if bits:
        params["key_bits"] = bits
    env.vs.pki_role(role, allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", **params)
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: issued
          path: pki_int/issue/%s
          common_name: k.example.test
          files:
            cert: {path: %s/k.crt}
            key: {path: %s/k.key}
        """ % (role, d, d)
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"issued: issued serial", timeout=30)
    assert pubkey_of_cert(d / "k.crt") == pubkey_of_key(d / "k.key")
    rc, out = openssl("x509", "-noout", "-text", "-in", str(d / "k.crt"))
    assert expect in out, out
    assert a.stop() == 0
