"""Per-tenant key passphrases in a fleet: a profile's key is encrypted with
a passphrase read at each write from a kv path with the tenant in it
(encrypt.passphrase_kv), or from a file per tenant (passphrase_file);
each key opens with its own tenant's passphrase only.  A restart adopts
the encrypted keys without opening them: no Vault read per entry.  A
tenant whose passphrase cannot be read gets no files and an error naming
the path; no passphrase reaches a log, the audit log or the status."""

import json
import subprocess
import textwrap

import pytest

from conftest import BIN

PASSES = {"acme": "acme-pass-7Hq2Zr", "globex": "globex-pass-Ux81Kd",
          "initech": "initech-pass-Pw39Lm"}


def opens(key, passfile):
    r = subprocess.run(["openssl", "pkey", "-in", str(key), "-passin",
                        "file:%s" % passfile, "-noout"],
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0


def calls(vs, part, method=None):
    return [r for r in vs.requests()
            if part in r["path"] and method in (None, r["method"])]


def setup_fleet(env, encrypt, read='path "secret/data/tenants/*" { capabilities = ["read"] }',
                extra="", key_extra=""):
    env.vs.pki_role("keystore", allowed_domains="keystore.internal",
                    allow_subdomains=True, max_ttl="2h", key_type="ec",
                    key_bits=256)
    env.vs.policy("pki", """
        path "pki_int/issue/*" { capabilities = ["create", "update"] }
    """ + read)
    rid, sid = env.approle_files(token_policies=["default", "pki"])
    entries = env.tmp / "tenants.d"
    entries.mkdir()
    certs = env.tmp / "certs"
    certs.mkdir()
    top = textwrap.dedent("""
        profiles:
          kms:
            path: pki_int/issue/keystore
            common_name: "{tenant}.keystore.internal"
            ttl: 1h
            renew_before: 10m
            files:
              cert: {path: "%(c)s/{tenant}.crt"}
              key: {path: "%(c)s/{tenant}.key", encrypt: %(enc)s%(kx)s}
            %(extra)s
        entries_dir: %(e)s
        audit: {path: %(a)s}
        listener: {control_socket: %(s)s}
        """ % {"c": certs, "e": entries, "a": env.tmp / "audit.log",
               "s": env.tmp / "ctl.sock", "enc": encrypt, "extra": extra,
               "kx": key_extra})
    cfg = env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false",
                             top=top)
    return cfg, entries, certs


def add_tenant(entries, tenant):
    (entries / ("%s.yaml" % tenant)).write_text("tenant: %s\nprofile: kms\n" % tenant)


def pass_files(env):
    """Each tenant's passphrase in a file, for openssl (and passphrase_file)."""
    d = env.tmp / "pass"
    d.mkdir(exist_ok=True)
    out = {}
    for t, p in PASSES.items():
        out[t] = d / ("%s.pass" % t)
        out[t].write_text(p + "\n")
        out[t].chmod(0o600)
        env.secrets.add(p)
    return out


def assert_own_passphrase_only(certs, files, tenants):
    for t in tenants:
        key = certs / ("%s.key" % t)
        assert key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert opens(key, files[t]), t
        for other in tenants:
            if other != t:
                assert not opens(key, files[other]), (t, other)


def assert_no_passphrase_in(env, a):
    status = subprocess.run([BIN, "status", "-c", str(a.config), "--json"],
                            capture_output=True, text=True, timeout=30)
    assert status.returncode in (0, 2), status.stderr   # 2: not all written
    json.loads(status.stdout)
    texts = {"log": a.log(), "audit": (env.tmp / "audit.log").read_text(),
             "status": status.stdout}
    for where, text in texts.items():
        for p in PASSES.values():
            assert p not in text, "a passphrase in the %s" % where
    return status.stdout


def test_kv_passphrases_per_tenant_open_their_own_keys_and_a_restart_reads_no_kv(env):
    cfg, entries, certs = setup_fleet(
        env, '{passphrase_kv: "secret/data/tenants/{tenant}"}')
    files = pass_files(env)
    for t, p in PASSES.items():
        env.vs.kv_put("tenants/%s" % t, {"passphrase": p, "other": "x"})
        add_tenant(entries, t)
    a = env.agent(cfg).start()
    for t in PASSES:
        a.wait_for(r"certs: %s: issued serial" % t)
    assert_own_passphrase_only(certs, files, list(PASSES))
    assert len(calls(env.vs, "/v1/secret/data/tenants/", "GET")) == 3
    assert_no_passphrase_in(env, a)
    assert a.stop() == 0

    # A restart adopts the three encrypted keys unopened: no issuance and
    # no kv read.
    env.vs.clear_requests()
    b = env.agent(cfg, name="again").start()
    b.wait_for(r"kept the certificate on disk", count=3)
    assert calls(env.vs, "/issue/") == []
    assert calls(env.vs, "/v1/secret/") == []
    assert_own_passphrase_only(certs, files, list(PASSES))
    assert b.stop() == 0


def test_a_tenant_without_its_kv_passphrase_gets_an_error_and_no_files(env):
    cfg, entries, certs = setup_fleet(
        env, '{passphrase_kv: "secret/data/tenants/{tenant}"}',
        read='path "secret/data/tenants/*" { capabilities = ["read"] }\n'
             'path "secret/data/tenants/initech" { capabilities = ["deny"] }')
    files = pass_files(env)
    env.vs.kv_put("tenants/acme", {"passphrase": PASSES["acme"]})
    env.vs.kv_put("tenants/globex", {"pass": PASSES["globex"]})  # wrong field
    env.vs.kv_put("tenants/initech", {"passphrase": PASSES["initech"]})  # denied
    # hooli: no kv entry at all
    for t in ("acme", "globex", "hooli", "initech"):
        add_tenant(entries, t)
    a = env.agent(cfg).start()
    a.wait_for(r"certs: acme: issued serial")
    a.wait_for(r"hooli: cannot read the key's passphrase from kv "
               r"secret/data/tenants/hooli \(field passphrase\): .*HTTP 404")
    a.wait_for(r'globex: kv secret/data/tenants/globex: no string field '
               r'"passphrase" for the key\'s passphrase')
    a.wait_for(r"initech: cannot read the key's passphrase from kv "
               r"secret/data/tenants/initech \(field passphrase\): .*HTTP 403",
               count=2)
    # One tenant's policy mistake is not taken for a dead token: no new login.
    assert len(calls(env.vs, "/login")) == 1
    # The passphrase is read before the issue call: the failing tenants,
    # retried, cost no certificate.
    assert len(calls(env.vs, "/issue/")) == 1
    for t in ("globex", "hooli", "initech"):
        assert not (certs / ("%s.key" % t)).exists()
        assert not (certs / ("%s.crt" % t)).exists()
    assert opens(certs / "acme.key", files["acme"])
    audit = (env.tmp / "audit.log").read_text()
    assert "secret/data/tenants/hooli" in audit
    assert "secret/data/tenants/hooli" in assert_no_passphrase_in(env, a)

    # Once the passphrase is there, the next try writes the files.
    env.vs.kv_put("tenants/hooli", {"passphrase": "hooli-pass-Qz55Vb"})
    env.secrets.add("hooli-pass-Qz55Vb")
    a.wait_for(r"certs: hooli: issued serial", timeout=30)
    (env.tmp / "pass" / "hooli.pass").write_text("hooli-pass-Qz55Vb\n")
    assert opens(certs / "hooli.key", env.tmp / "pass" / "hooli.pass")
    assert not opens(certs / "hooli.key", files["acme"])
    assert a.stop() == 0


def serial_of(path):
    r = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_a_renewal_with_grace_opens_the_old_key_with_the_passphrase_read(env):
    d = env.tmp / "certs"
    cfg, entries, certs = setup_fleet(
        env, '{passphrase_kv: "secret/data/tenants/{tenant}"}',
        extra='grace: {duration: 1h, files: {cert: {path: "%s/{tenant}.prev.crt"}, '
              'key: {path: "%s/{tenant}.prev.key"}}}' % (d, d))
    files = pass_files(env)
    env.vs.kv_put("tenants/acme", {"passphrase": PASSES["acme"]})
    add_tenant(entries, "acme")
    a = env.agent(cfg).start()
    a.wait_for(r"certs: acme: issued serial")
    old = serial_of(certs / "acme.crt")
    r = subprocess.run([BIN, "rotate", "-c", str(a.config), "acme"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    a.wait_for(r"certs: acme: issued serial", count=2)
    a.wait_for(r"acme: serial \S+ stays available for its grace")
    assert serial_of(certs / "acme.crt") != old
    # The old key, opened with the passphrase read for this write, is the
    # grace key; the new one is sealed with the same passphrase.
    assert serial_of(certs / "acme.prev.crt") == old
    m = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in",
                        str(certs / "acme.prev.crt")], capture_output=True, text=True)
    k = subprocess.run(["openssl", "pkey", "-pubout", "-in",
                        str(certs / "acme.prev.key")], capture_output=True, text=True)
    assert m.returncode == 0 and k.returncode == 0 and m.stdout == k.stdout
    assert opens(certs / "acme.key", files["acme"])
    assert len(calls(env.vs, "/v1/secret/data/tenants/acme", "GET")) == 2
    assert a.stop() == 0


def test_kv_v1_passphrase_field_and_der_keys_adopted_unopened(env):
    cfg, entries, certs = setup_fleet(
        env, '{passphrase_kv: "kv/tenants/{tenant}", passphrase_field: pw, '
             'kdf: scrypt}', read='path "kv/tenants/*" { capabilities = ["read"] }',
        key_extra=", format: der")
    files = pass_files(env)
    for t in ("acme", "globex"):
        env.vs.kv_put("tenants/%s" % t, {"pw": PASSES[t]}, mount="kv", version=1)
        add_tenant(entries, t)
    a = env.agent(cfg).start()
    for t in ("acme", "globex"):
        a.wait_for(r"certs: %s: issued serial" % t)
    for t in ("acme", "globex"):
        r = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in",
                            str(certs / ("%s.key" % t)), "-passin",
                            "file:%s" % files[t], "-noout"], capture_output=True)
        assert r.returncode == 0, t
        r = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in",
                            str(certs / ("%s.key" % t)), "-passin",
                            "file:%s" % files["initech"], "-noout"], capture_output=True)
        assert r.returncode != 0, t
    assert a.stop() == 0

    # On start: the DER EncryptedPrivateKeyInfo is adopted unopened; a key
    # file that is not an encrypted key (globex's, replaced) is named and
    # that certificate issued again.
    (certs / "globex.key").write_bytes(b"not a key")
    env.vs.clear_requests()
    b = env.agent(cfg, name="again").start()
    b.wait_for(r"acme: kept the certificate on disk")
    b.wait_for(r"globex: cannot read back \S+/globex.key: not an encrypted "
               r"PKCS#8 key")
    b.wait_for(r"certs: globex: issued serial")
    assert len(calls(env.vs, "/issue/")) == 1
    assert [r["path"] for r in calls(env.vs, "/v1/kv/", "GET")] == ["/v1/kv/tenants/globex"]
    assert b.stop() == 0


def test_passphrase_files_per_tenant_open_their_own_keys(env):
    files = pass_files(env)
    cfg, entries, certs = setup_fleet(
        env, '{passphrase_file: "%s/{tenant}.pass"}' % (env.tmp / "pass"))
    for t in PASSES:
        add_tenant(entries, t)
    a = env.agent(cfg).start()
    for t in PASSES:
        a.wait_for(r"certs: %s: issued serial" % t)
    assert_own_passphrase_only(certs, files, list(PASSES))
    assert_no_passphrase_in(env, a)
    assert a.stop() == 0

    # A restart opens each key with its file, as before: adopted, no issue.
    env.vs.clear_requests()
    b = env.agent(cfg, name="again").start()
    b.wait_for(r"kept the certificate on disk", count=3)
    assert calls(env.vs, "/issue/") == []
    assert b.stop() == 0


@pytest.mark.parametrize("encrypt,msg", [
    ("{passphrase_kv: secret/data/x, passphrase_file: /x.pass}",
     "certificates[0].files.key.encrypt: set only one of passphrase_file, "
     "passphrase_env and passphrase_kv"),
    ("{passphrase_field: pw, passphrase_env: P}",
     "certificates[0].files.key.encrypt.passphrase_field: only with passphrase_kv"),
    ('{passphrase_kv: ""}',
     "certificates[0].files.key.encrypt.passphrase_kv: an empty path"),
    ("{kdf: scrypt}",
     "certificates[0].files.key.encrypt: set one of passphrase_file, "
     "passphrase_env and passphrase_kv"),
])
def test_certagent_check_names_a_bad_passphrase_source(tmp_path, encrypt, msg):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(textwrap.dedent("""
        vault: {address: https://127.0.0.1:8200}
        auth: {method: token, token_file: /tmp/none}
        certificates:
          - name: a
            path: pki_int/issue/web
            common_name: a.example.com
            files:
              cert: {path: /tmp/a.crt}
              key: {path: /tmp/a.key, encrypt: %s}
        """ % encrypt))
    r = subprocess.run([BIN, "check", "-c", str(cfg)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert msg in r.stderr, r.stderr


def test_with_an_activation_check_the_passphrase_is_read_before_the_issue(env):
    from test_activation import TLSServer, check_block, server_material
    from test_certs import cert_config
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="24h", key_type="ec", key_bits=256, allow_ip_sans=True)
    env.vs.policy("pki", """
        path "pki_int/issue/*" { capabilities = ["create", "update"] }
        path "secret/data/tenants/*" { capabilities = ["read"] }
    """)
    rid, sid = env.approle_files(token_policies=["default", "pki"])
    files = pass_files(env)
    env.vs.kv_put("tenants/acme", {"passphrase": PASSES["acme"]})
    crt, key, bundle = server_material(env)
    srv = TLSServer(crt, key, bundle)
    try:
        d = env.tmp / "tls"
        d.mkdir()
        certs = """
            - name: acme
              path: pki_int/issue/web
              common_name: acme.example.test
              ttl: 1h
              %s
              files:
                cert: {path: %s/acme.crt}
                key: {path: %s/acme.key,
                      encrypt: {passphrase_kv: secret/data/tenants/acme}}
            """ % (check_block(srv.port, bundle), d, d)
        a = env.agent(cert_config(env, rid, sid, certs)).start()
        a.wait_for(r"acme: issued serial")
        log = a.log()
        assert (log.index("acme: reading the key's passphrase from kv")
                < log.index("acme: requesting a certificate from")
                < log.index("passed its activation check")
                < log.index("acme: wrote"))
        assert opens(d / "acme.key", files["acme"])
        assert not opens(d / "acme.key", files["globex"])
        assert a.stop() == 0
    finally:
        srv.close()
