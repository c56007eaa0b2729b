"""Key material for every consumer: PKCS#12 keystores and truststores that
Java opens, encrypted PKCS#8 keys, DER files and SPKI pins, all from the
one issuance, adopted on restart without a new certificate, and never
rewritten (or their hooks run) when their content would not change."""

import base64
import hashlib
import os
import pathlib
import re
import signal
import stat
import subprocess
import textwrap
import time

import pytest

from test_certs import cert_config, issue_requests, openssl, pki  # noqa: F401
from test_rotation import free_port

JAVA_PEER = pathlib.Path(__file__).resolve().parents[1] / "java" / "TlsPeer.java"
KS_PASS = "ks-Secret-7f3a91"
TS_PASS = "ts-Secret-2b8c44"
KEY_PASS = "key-Secret-99d0e1"


def keymat_set(d, extra=""):
    return """
        - name: kafka
          path: pki_int/issue/web
          common_name: kafka.example.test
          alt_names: [kafka.example.test]
          ip_sans: [127.0.0.1]
          ttl: 30m
          files:
            pkcs12: {path: %(d)s/kafka.p12, password_file: %(d)s/../ks.pass}
            truststore_pkcs12: {path: %(d)s/trust.p12, password_env: KEYMAT_TS_PASS}
            cert: {path: %(d)s/kafka.crt}
            key:
              path: %(d)s/kafka.key
              encrypt: {passphrase_file: %(d)s/../key.pass}
            ca: {path: %(d)s/ca.pem}
            pin: {path: %(d)s/kafka.pin}
        %(extra)s
        """ % {"d": d, "extra": extra}


@pytest.fixture
def secrets(env):
    env.write_secret("ks.pass", KS_PASS)
    env.write_secret("key.pass", KEY_PASS)
    env.secrets.add(TS_PASS)
    return {"KEYMAT_TS_PASS": TS_PASS}


def run_agent_once(env, rid, sid, certs, agent_env, name="agent"):
    a = env.agent(cert_config(env, rid, sid, certs), name=name).start(env=agent_env)
    return a


def keytool_list(store, password):
    r = subprocess.run(["keytool", "-list", "-v", "-storetype", "PKCS12",
                        "-keystore", str(store), "-storepass:env", "KT_PASS"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, KT_PASS=password))
    return r.returncode, r.stdout + r.stderr


def spki_pin(cert_path):
    rc, pub = openssl("x509", "-noout", "-pubkey", "-in", str(cert_path))
    assert rc == 0, pub
    der = subprocess.run(["openssl", "pkey", "-pubin", "-pubout", "-outform", "der"],
                         input=pub.encode(), capture_output=True, timeout=30).stdout
    return hashlib.sha256(der).digest()


def test_keystore_and_truststore_open_with_keytool_and_openssl(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    audit = env.tmp / "audit.log"
    cfg = cert_config(env, rid, sid, keymat_set(d)) + "audit: {path: %s}\n" % audit
    a = env.agent(cfg).start(env=secrets)
    a.wait_for(r"kafka: wrote \d+ files from one issuance")
    assert len(issue_requests(env.vs)) == 1
    # keytool: one private key entry with its chain, trusted entries.
    rc, out = keytool_list(d / "kafka.p12", KS_PASS)
    assert rc == 0, out
    assert "Entry type: PrivateKeyEntry" in out, out
    assert "Alias name: kafka" in out, out
    assert "Certificate chain length: 2" in out, out
    rc, out = keytool_list(d / "trust.p12", TS_PASS)
    assert rc == 0, out
    assert "Entry type: trustedCertEntry" in out, out
    assert "PrivateKeyEntry" not in out
    # openssl: the algorithms Java 17 opens, the same leaf and key.
    rc, out = openssl("pkcs12", "-info", "-noout", "-in", str(d / "kafka.p12"),
                      "-passin", "file:%s" % (env.tmp / "ks.pass"))
    assert rc == 0, out
    assert "MAC: sha256" in out, out
    assert "PBES2, PBKDF2, AES-256-CBC" in out and "hmacWithSHA256" in out, out
    rc, leaf = openssl("pkcs12", "-in", str(d / "kafka.p12"), "-clcerts", "-nokeys",
                       "-passin", "file:%s" % (env.tmp / "ks.pass"))
    assert rc == 0, leaf
    rc, crt = openssl("x509", "-in", str(d / "kafka.crt"))
    assert crt.strip() in leaf
    # (openssl reads the variable from its own environment)
    r = subprocess.run(["openssl", "pkcs12", "-in", str(d / "trust.p12"), "-nokeys",
                        "-passin", "env:KEYMAT_TS_PASS"], capture_output=True,
                       text=True, timeout=30, env=dict(os.environ, **secrets))
    assert r.returncode == 0, r.stderr
    assert "2.16.840.1.113894.746875.1.1" in r.stdout or \
        "Trusted key usage" in r.stdout, r.stdout
    assert (d / "ca.pem").read_text().strip().splitlines()[1] in r.stdout
    assert stat.S_IMODE(os.stat(d / "kafka.p12").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "trust.p12").st_mode) == 0o644
    assert a.stop() == 0
    # Passwords never reach the log (the env fixture checks env.secrets)
    # nor the audit log, which names every file written.
    assert KS_PASS not in a.log() and TS_PASS not in a.log()
    text = audit.read_text()
    assert "kafka.p12" in text and "trust.p12" in text, text
    for s in (KS_PASS, TS_PASS, KEY_PASS):
        assert s not in text


def java_peer(role, port, d, tmp):
    return subprocess.Popen(["java", str(JAVA_PEER), role, str(port),
                             str(d / "kafka.p12"), str(tmp / "ks.pass"),
                             str(d / "trust.p12"), str(tmp / "ts.pass")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_line(proc, pattern, timeout=60):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if re.search(pattern, line):
            return seen
    raise AssertionError("%r not seen; output:\n%s" % (pattern, "".join(seen)))


@pytest.fixture
def rendered(env, pki, secrets):
    """One issuance rendered as keystore, truststore and PEM files."""
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    a = run_agent_once(env, rid, sid, keymat_set(d), secrets)
    a.wait_for(r"kafka: wrote \d+ files from one issuance")
    assert a.stop() == 0
    (env.tmp / "ts.pass").write_text(TS_PASS + "\n")
    # a plain copy of the key for openssl's side of the handshake
    rc, out = openssl("pkey", "-in", str(d / "kafka.key"), "-out", str(env.tmp / "plain.key"),
                      "-passin", "file:%s" % (env.tmp / "key.pass"))
    assert rc == 0, out
    return d


def test_java_server_with_the_keystore_accepts_an_openssl_mtls_client(env, rendered):
    d = rendered
    port = free_port()
    java = java_peer("server", port, d, env.tmp)
    try:
        wait_line(java, r"listening on")
        r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                            "-cert", str(d / "kafka.crt"), "-key", str(env.tmp / "plain.key"),
                            "-CAfile", str(d / "ca.pem"), "-verify_return_error",
                            "-ign_eof"],
                           input="hello from openssl\n", capture_output=True, text=True,
                           timeout=60)
        assert "Verify return code: 0 (ok)" in r.stdout, r.stdout + r.stderr
        assert "hello from java server" in r.stdout, r.stdout
        out = "".join(wait_line(java, r"handshake ok"))
        assert "peer: CN=kafka.example.test" in out, out
        assert "read: hello from openssl" in out, out
    finally:
        java.kill()
        java.wait()


def test_java_client_with_the_keystore_completes_mtls_with_openssl_server(env, rendered):
    d = rendered
    port = free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                            "-cert", str(d / "kafka.crt"), "-key", str(env.tmp / "plain.key"),
                            "-CAfile", str(d / "ca.pem"), "-Verify", "2",
                            "-verify_return_error", "-naccept", "1"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        wait_line(srv, r"ACCEPT")
        java = java_peer("client", port, d, env.tmp)
        seen = "".join(wait_line(srv, r"hello from java client"))
        srv.stdin.write("hello from openssl\n")
        srv.stdin.flush()
        out = java.communicate(timeout=60)[0]
        assert java.returncode == 0, out
        assert "peer: CN=kafka.example.test" in out, out
        assert "read: hello from openssl" in out, out
        # openssl verified the Java side's client certificate too.
        assert "verify return:1" in seen and "kafka.example.test" in seen, seen
    finally:
        srv.kill()
        srv.wait()


def test_encrypted_key_opens_only_with_its_passphrase(env, rendered):
    d = rendered
    text = (d / "kafka.key").read_text()
    assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    rc, out = openssl("pkey", "-in", str(d / "kafka.key"), "-noout",
                      "-passin", "file:%s" % (env.tmp / "key.pass"))
    assert rc == 0, out
    rc, out = openssl("pkey", "-in", str(d / "kafka.key"), "-noout",
                      "-passin", "pass:not-the-passphrase")
    assert rc != 0, out
    rc, out = openssl("asn1parse", "-in", str(d / "kafka.key"))
    assert "PBES2" in out and "PBKDF2" in out and "aes-256-cbc" in out, out
    rc, out = openssl("pkey", "-pubout", "-in", str(env.tmp / "plain.key"))
    rc2, out2 = openssl("x509", "-noout", "-pubkey", "-in", str(d / "kafka.crt"))
    assert out == out2
    assert stat.S_IMODE(os.stat(d / "kafka.key").st_mode) == 0o600


def test_der_files_and_pins_match_openssl(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: der
          path: pki_int/issue/web
          common_name: der.example.test
          ttl: 30m
          files:
            cert: {path: %(d)s/der.crt, format: der}
            key:
              path: %(d)s/der.key
              format: der
              encrypt: {passphrase_env: KEYMAT_KEY_PASS, kdf: scrypt}
            chain: {path: %(d)s/chain.pem}
            pin: {path: %(d)s/leaf.pin}
        """ % {"d": d}
    a = env.agent(cert_config(env, rid, sid, certs)).start(
        env={"KEYMAT_KEY_PASS": KEY_PASS})
    a.wait_for(r"der: wrote \d+ files")
    assert a.stop() == 0
    rc, out = openssl("x509", "-inform", "der", "-in", str(d / "der.crt"), "-noout",
                      "-subject")
    assert rc == 0 and "der.example.test" in out, out
    r = subprocess.run(["openssl", "pkey", "-inform", "der", "-in", str(d / "der.key"),
                        "-passin", "pass:" + KEY_PASS, "-pubout"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    rc, out = openssl("asn1parse", "-inform", "der", "-in", str(d / "der.key"))
    assert "id-scrypt" in out or "scrypt" in out, out
    rc, pub = openssl("x509", "-inform", "der", "-in", str(d / "der.crt"), "-noout",
                      "-pubkey")
    assert r.stdout == pub
    # The pin: openssl pkey -pubout | openssl dgst -sha256 -binary | base64
    pin = subprocess.run("openssl pkey -pubin -pubout -outform der | "
                         "openssl dgst -sha256 -binary | base64",
                         shell=True, input=pub, capture_output=True, text=True,
                         timeout=30).stdout.strip()
    assert (d / "leaf.pin").read_text() == pin + "\n"


def test_pins_in_hex_and_of_the_intermediate(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: pins
          path: pki_int/issue/web
          common_name: pins.example.test
          ttl: 30m
          files:
            cert: {path: %(d)s/p.crt}
            key: {path: %(d)s/p.key}
            chain: {path: %(d)s/chain.pem}
            pin: {path: %(d)s/int.pin, format: hex, of: intermediate}
        """ % {"d": d}
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"pins: wrote \d+ files")
    assert a.stop() == 0
    first = (d / "chain.pem").read_text().split("-----END CERTIFICATE-----")[0] + \
        "-----END CERTIFICATE-----\n"
    (env.tmp / "int.crt").write_text(first)
    assert (d / "int.pin").read_text() == spki_pin(env.tmp / "int.crt").hex() + "\n"


def test_restart_with_only_a_keystore_adopts_without_reissue(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: ks
          path: pki_int/issue/web
          common_name: ks.example.test
          ttl: 30m
          on_change: [touch]
          wait: {min: 100ms, max: 500ms}
          files:
            pkcs12: {path: %(d)s/ks.p12, password_file: %(tmp)s/ks.pass}
            truststore_pkcs12: {path: %(d)s/trust.p12, password_env: KEYMAT_TS_PASS}
        """ % {"d": d, "tmp": env.tmp}
    hook = '["/bin/sh", "-c", "env >> %s/hook.log"]' % env.tmp
    cfg = cert_config(env, rid, sid, certs) + "hooks:\n  touch: {command: %s}\n" % hook
    a = env.agent(cfg).start(env=secrets)
    a.wait_for(r"ks: wrote 2 files")
    a.wait_for(r"hooks: touch: exited 0", timeout=20)
    assert a.stop() == 0
    assert len(issue_requests(env.vs)) == 1
    before = {p.name: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in d.iterdir()}
    hooks_before = (env.tmp / "hook.log").read_text()
    # The hook ran with a minimal environment: not the agent's password.
    assert "CERTAGENT_CHANGED_FILES" in hooks_before
    assert TS_PASS not in hooks_before and KS_PASS not in hooks_before
    b = env.agent(cfg, name="again").start(env=secrets)
    b.wait_for(r"ks: kept the certificate on disk")
    assert b.stop() == 0
    assert len(issue_requests(env.vs)) == 1
    after = {p.name: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in d.iterdir()}
    assert after == before
    assert (env.tmp / "hook.log").read_text() == hooks_before


def test_restart_with_an_encrypted_key_adopts_and_keeps_the_file(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: enc
          path: pki_int/issue/web
          common_name: enc.example.test
          ttl: 30m
          files:
            cert: {path: %(d)s/enc.crt}
            key:
              path: %(d)s/enc.key
              encrypt: {passphrase_file: %(tmp)s/key.pass}
        """ % {"d": d, "tmp": env.tmp}
    cfg = cert_config(env, rid, sid, certs)
    a = env.agent(cfg).start()
    a.wait_for(r"enc: wrote 2 files")
    assert a.stop() == 0
    key_before = os.stat(d / "enc.key")
    b = env.agent(cfg, name="again").start()
    b.wait_for(r"enc: kept the certificate on disk")
    assert b.stop() == 0
    assert len(issue_requests(env.vs)) == 1
    key_after = os.stat(d / "enc.key")
    assert (key_after.st_ino, key_after.st_mtime_ns) == \
        (key_before.st_ino, key_before.st_mtime_ns)


def test_a_wrong_password_names_the_file_and_never_the_secret(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: ks
          path: pki_int/issue/web
          common_name: ks.example.test
          ttl: 30m
          files:
            pkcs12: {path: %(d)s/ks.p12, password_file: %(tmp)s/ks.pass}
            cert: {path: %(d)s/ks.crt}
            key:
              path: %(d)s/ks.key
              encrypt: {passphrase_file: %(tmp)s/key.pass}
        """ % {"d": d, "tmp": env.tmp}
    cfg = cert_config(env, rid, sid, certs)
    a = env.agent(cfg).start()
    a.wait_for(r"ks: wrote 3 files")
    assert a.stop() == 0
    # Both secrets change: what is on disk no longer opens.
    env.write_secret("ks.pass", "new-ks-Secret-51ab")
    env.write_secret("key.pass", "new-key-Secret-77cd")
    b = env.agent(cfg, name="again").start()
    b.wait_for(r"ks: wrote 3 files")
    assert b.stop() == 0
    log = b.log()
    assert "%s/ks.key: the key does not decrypt with the passphrase" % d in log, log
    assert "%s/ks.p12: the keystore does not open with the password" % d in log, log
    for s in (KS_PASS, KEY_PASS, "new-ks-Secret-51ab", "new-key-Secret-77cd"):
        assert s not in log
    # The new files are sealed with the new secrets.
    rc, out = openssl("pkcs12", "-in", str(d / "ks.p12"), "-noout",
                      "-passin", "pass:new-ks-Secret-51ab")
    assert rc == 0, out


def test_a_keystore_with_a_wrong_password_is_named(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: ks
          path: pki_int/issue/web
          common_name: ks.example.test
          ttl: 30m
          files:
            pkcs12: {path: %(d)s/ks.p12, password_file: %(tmp)s/ks.pass}
        """ % {"d": d, "tmp": env.tmp}
    cfg = cert_config(env, rid, sid, certs)
    a = env.agent(cfg).start()
    a.wait_for(r"ks: wrote 1 file")
    assert a.stop() == 0
    env.write_secret("ks.pass", "rotated-ks-Secret-0a0a")
    b = env.agent(cfg, name="again").start()
    b.wait_for(r"ks: wrote 1 file")
    assert b.stop() == 0
    assert "cannot read back %s/ks.p12: the keystore does not open with the " \
        "password given" % d in b.log(), b.log()
    assert len(issue_requests(env.vs)) == 2


def test_legacy_keystore_opens_with_openssl_legacy(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: old
          path: pki_int/issue/web
          common_name: old.example.test
          ttl: 30m
          files:
            pkcs12: {path: %(d)s/old.p12, password_file: %(tmp)s/ks.pass, legacy: true,
                     friendly_name: oldjvm}
        """ % {"d": d, "tmp": env.tmp}
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"old: wrote 1 file")
    assert a.stop() == 0
    rc, out = openssl("pkcs12", "-legacy", "-info", "-noout", "-in", str(d / "old.p12"),
                      "-passin", "file:%s" % (env.tmp / "ks.pass"))
    assert rc == 0, out
    assert "MAC: sha1" in out, out
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in out, out
    rc, out = keytool_list(d / "old.p12", KS_PASS)
    assert rc == 0 and "Alias name: oldjvm" in out, out


def test_a_chain_in_der_is_a_config_error(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    certs = """
        - name: bad
          path: pki_int/issue/web
          common_name: bad.example.test
          files:
            cert: {path: %(d)s/c.crt}
            key: {path: %(d)s/c.key}
            chain: {path: %(d)s/chain.der, format: der}
            pkcs12: {path: %(d)s/c.p12}
            pin: {path: %(d)s/c.pin, of: root}
            pin_hex: {path: %(d)s/x, format: hex}
        """ % {"d": d}
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.proc.wait(timeout=15)
    log = a.log()
    assert a.proc.returncode != 0
    assert "files.chain.format: a DER file holds one certificate" in log, log
    assert "files.pkcs12.password_file: set password_file or password_env" in log, log
    assert "files.pin.of: leaf or intermediate" in log, log
    assert "files.pin_hex: unknown file kind" in log, log


def test_template_functions_pin_describe_and_package_a_certificate_stably(env, pki):
    rid, sid = pki
    dest = env.tmp / "out.txt"
    pem = env.tmp / "svc.pem"
    tpls = """
        - contents: |
            {{- with pkiCert "pki_int/issue/web" "common_name=svc.example.test" "alt_names=a.example.test" "ip_sans=127.0.0.1" "ttl=20m" -}}
            {{ .Cert }}{{ .Key }}{{ .CA }}
            {{- end }}
          destination: %(pem)s
          mode: "0600"
        - contents: |
            {{- with pkiCert "pki_int/issue/web" "common_name=svc.example.test" "alt_names=a.example.test" "ip_sans=127.0.0.1" "ttl=20m" -}}
            pin={{ .Cert | spkiPin }}
            hex={{ .Cert | spkiPin "hex" }}
            serial={{ .Cert | certSerial }}
            fp={{ .Cert | certFingerprint }}
            notafter={{ .Cert | certNotAfter }}
            sans={{ .Cert | certSANs | join "," }}
            p12={{ pkcs12 .Cert .Key .CA "tmpl-pw" }}
            p12nochain={{ pkcs12 .Cert .Key "tmpl-pw" }}
            {{ end }}
          destination: %(dest)s
          mode: "0600"
        """ % {"dest": dest, "pem": pem}
    text = env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false") + \
        "templates:\n" + textwrap.indent(textwrap.dedent(tpls).strip("\n"), "  ") + "\n"
    a = env.agent(text).start()
    a.wait_for(r"rendered %s" % dest)
    assert a.stop() == 0
    assert len(issue_requests(env.vs)) == 1
    vals = dict(line.split("=", 1) for line in dest.read_text().splitlines() if "=" in line)
    digest = spki_pin(pem)
    assert vals["pin"] == base64.b64encode(digest).decode()
    assert vals["hex"] == digest.hex()
    rc, out = openssl("x509", "-noout", "-serial", "-fingerprint", "-sha256", "-enddate",
                      "-in", str(pem))
    serial = re.search(r"serial=(\w+)", out).group(1).lower()
    serial = ("0" + serial) if len(serial) % 2 else serial
    assert vals["serial"] == ":".join(serial[i:i + 2] for i in range(0, len(serial), 2))
    fp = re.search(r"Fingerprint=([\w:]+)", out).group(1)
    assert vals["fp"].lower() == fp.lower()
    end = re.search(r"notAfter=(.*)", out).group(1).strip()
    assert vals["notafter"] == time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.strptime(end, "%b %d %H:%M:%S %Y %Z"))
    assert vals["sans"].split(",") == ["a.example.test", "svc.example.test", "127.0.0.1"] or \
        set(vals["sans"].split(",")) == {"a.example.test", "svc.example.test", "127.0.0.1"}
    (env.tmp / "t.p12").write_bytes(base64.b64decode(vals["p12"]))
    rc, out = openssl("pkcs12", "-in", str(env.tmp / "t.p12"), "-nodes",
                      "-passin", "pass:tmpl-pw")
    assert rc == 0, out
    assert "friendlyName: svc.example.test" in out, out
    rc, leaf = openssl("x509", "-in", str(pem))
    assert leaf.strip() in out
    # Without a chain, the keystore still holds the leaf beside its key.
    (env.tmp / "n.p12").write_bytes(base64.b64decode(vals["p12nochain"]))
    rc, out = openssl("pkcs12", "-in", str(env.tmp / "n.p12"), "-nodes",
                      "-passin", "pass:tmpl-pw")
    assert rc == 0, out
    assert leaf.strip() in out and "PRIVATE KEY" in out, out
    # A restart renders the held certificate again: the keystore's salts
    # come from its inputs, so the bytes, and the file, stay the same.
    st = os.stat(dest)
    b = env.agent(text, name="again").start()
    # (the PEM template comes first: the certificate is read back from it)
    b.wait_for(r"kept the certificate on disk")
    b.wait_for(r"%s unchanged" % dest)
    assert b.stop() == 0
    assert len(issue_requests(env.vs)) == 1
    assert (os.stat(dest).st_ino, os.stat(dest).st_mtime_ns) == (st.st_ino, st.st_mtime_ns)


def test_a_new_issuance_leaves_the_unchanged_truststore_and_pin_alone(env, pki, secrets):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = """
        - name: rot
          path: pki_int/issue/web
          common_name: rot.example.test
          ttl: 30m
          files:
            pkcs12: {path: %(d)s/rot.p12, password_file: %(tmp)s/ks.pass}
            truststore_pkcs12: {path: %(d)s/trust.p12, password_env: KEYMAT_TS_PASS}
            chain: {path: %(d)s/chain.pem}
            pin: {path: %(d)s/int.pin, of: intermediate}
        """ % {"d": d, "tmp": env.tmp}
    a = env.agent(cert_config(env, rid, sid, certs)).start(env=secrets)
    a.wait_for(r"rot: wrote 4 files")
    before = {p.name: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in d.iterdir()}
    a.send(signal.SIGUSR1)
    a.wait_for(r"rot: issued serial", count=2, timeout=20)
    a.wait_for(r"rot: wrote 1 file from one issuance")
    assert a.stop() == 0
    after = {p.name: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in d.iterdir()}
    # The keystore holds the new leaf; the CA material did not change.
    assert after["rot.p12"] != before["rot.p12"]
    for name in ("trust.p12", "chain.pem", "int.pin"):
        assert after[name] == before[name], name

