"""trust_bundles: a CA bundle kept current through an intermediate rollover.

vaultsim's pki_int/ gets a second intermediate (pki_rollover: the new one
is the default issuer, the old one stays an issuer of the mount).  The
bundle certagent writes holds both during the overlap, so leaves under
either verify against it (`openssl verify`); once the old intermediate
leaves every source it is kept for retain_removed, across a restart too
(the set is read back from the file), then dropped; an intermediate that
expires is dropped at its expiry.  The hook counts the changes of the
set: it runs once per change, never on a refresh that changed nothing.
Every wait is for a condition (a log line, the file's contents).
"""

import os
import re
import signal
import subprocess
import textwrap
import time

import pytest
from cryptography import x509

END = "-----END CERTIFICATE-----"


def certs_in(path):
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [x509.load_pem_x509_certificate((p + END).encode())
            for p in text.split(END) if "BEGIN CERTIFICATE" in p]


def subjects(path):
    return [c.subject.rfc4514_string() for c in certs_in(path)]


def serials(path):
    return {c.serial_number for c in certs_in(path)}


def wait_until(what, pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for: %s" % what)


def hook_runs(path):
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


def config(env, rid, sid, d, refresh="1s", retain="6s", extra=""):
    return env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false",
                              top=textwrap.dedent("""
        hooks:
          reload: {command: [sh, -c, "echo run >> %(d)s/hook.log"]}
        trust_bundles:
          - name: upstream
            sources: [{pki: pki_int}, {pki: pki}]
            refresh: %(refresh)s
            retain_removed: %(retain)s
            files: {pem: {path: %(d)s/upstream-ca.pem, mode: "0640"}}
            on_change: [reload]
            wait: {min: 50ms, max: 200ms}
        %(extra)s
        """) % {"d": d, "refresh": refresh, "retain": retain, "extra": extra})


@pytest.fixture
def world(env):
    env.vs.policy("bundles", 'path "secret/data/ca" { capabilities = ["read"] }')
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    return env.approle_files(token_policies=["default", "bundles"])


def issue(env, cn):
    st, body = env.vs.api("POST", "pki_int/issue/web", {"common_name": cn, "ttl": "30m"})
    assert st == 200, body
    return body["data"]


def leaf_file(env, name, data):
    p = env.tmp / ("%s.pem" % name)
    p.write_text(data["certificate"] + "\n")
    return p


def verifies(bundle, leaf):
    r = subprocess.run(["openssl", "verify", "-CAfile", str(bundle), str(leaf)],
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0


def rounds(agent):
    return agent.count(r"trust bundle upstream: up to date")


def test_a_ca_rollover_keeps_both_intermediates_through_the_overlap_then_drops_the_old(
        env, world):
    rid, sid = world
    d = env.tmp / "out"
    d.mkdir()
    bundle, hooks = d / "upstream-ca.pem", d / "hook.log"
    a = env.agent(config(env, rid, sid, d)).start()

    # Before the rollover: the intermediate first, the root last.
    wait_until("the first bundle", lambda: len(certs_in(bundle)) == 2)
    assert subjects(bundle) == ["CN=vaultsim Intermediate CA", "CN=vaultsim Root CA"]
    assert oct(os.stat(bundle).st_mode & 0o777) == "0o640"
    wait_until("the first hook run", lambda: hook_runs(hooks) == 1)
    old_leaf = leaf_file(env, "old", issue(env, "old.example.test"))
    assert verifies(bundle, old_leaf)
    old_int = certs_in(bundle)[0].serial_number

    # The rollover: both intermediates, the root still last.
    new = env.vs.pki_rollover()
    wait_until("both intermediates", lambda: len(certs_in(bundle)) == 3)
    assert subjects(bundle)[-1] == "CN=vaultsim Root CA"
    wait_until("the second hook run", lambda: hook_runs(hooks) == 2)
    new_leaf = leaf_file(env, "new", issue(env, "new.example.test"))
    assert verifies(bundle, old_leaf) and verifies(bundle, new_leaf)

    # Rounds that change nothing run no hook.
    n = rounds(a)
    a.wait_for(r"trust bundle upstream: up to date", count=n + 3)
    assert hook_runs(hooks) == 2

    # The old intermediate leaves every source: it is retained...
    st, _ = env.vs.api("DELETE", "pki_int/issuer/%s" % old_issuer_id(env, new["issuer_id"]))
    assert st == 204
    a.wait_for(r"left every source")
    assert old_int in serials(bundle)
    assert verifies(bundle, old_leaf) and verifies(bundle, new_leaf)
    assert hook_runs(hooks) == 2

    # ... across a restart too (read back from the file) ...
    assert a.stop() == 0
    a = env.agent(config(env, rid, sid, d), name="agent2").start()
    a.wait_for(r"read back from")
    a.wait_for(r"trust bundle upstream: up to date")
    assert old_int in serials(bundle)
    assert verifies(bundle, old_leaf)

    # ... then dropped after retain_removed; the new leaf verifies throughout.
    a.wait_for(r"dropping CA \"CN=vaultsim Intermediate CA\".*retain_removed")
    wait_until("the old intermediate gone", lambda: old_int not in serials(bundle))
    assert len(certs_in(bundle)) == 2
    assert not verifies(bundle, old_leaf)
    assert verifies(bundle, new_leaf)
    wait_until("the third hook run", lambda: hook_runs(hooks) == 3)
    n = rounds(a)
    a.wait_for(r"trust bundle upstream: up to date", count=n + 2)
    assert hook_runs(hooks) == 3
    assert a.stop() == 0


def old_issuer_id(env, new_id):
    st, body = env.vs.api("LIST", "pki_int/issuers")
    assert st == 200, body
    others = [k for k in body["data"]["keys"] if k != new_id]
    assert len(others) == 1, body
    return others[0]


def keytool_fingerprints(store, password):
    """The SHA-256 fingerprints of STORE's entries, if keytool lists every
    one as a trustedCertEntry (else an AssertionError)."""
    r = subprocess.run(["keytool", "-list", "-v", "-storetype", "PKCS12",
                        "-keystore", str(store), "-storepass:env", "KT_PASS"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, KT_PASS=password))
    assert r.returncode == 0, r.stdout + r.stderr
    kinds = re.findall(r"^Entry type: (\S+)", r.stdout, re.M)
    assert kinds and set(kinds) == {"trustedCertEntry"}, r.stdout
    return [f.replace(":", "").lower()
            for f in re.findall(r"^\s*SHA256: ([0-9A-F:]+)", r.stdout, re.M)]


def pem_fingerprints(path):
    from cryptography.hazmat.primitives import hashes
    return [c.fingerprint(hashes.SHA256()).hex() for c in certs_in(path)]


def test_the_truststore_holds_the_bundles_cas_and_changes_with_them_once(env, world):
    rid, sid = world
    d = env.tmp / "out"
    d.mkdir()
    bundle, store, hooks = d / "upstream-ca.pem", d / "upstream-ca.p12", d / "hook.log"
    password = "ts-pass-%d" % os.getpid()
    pw = env.tmp / "p12pass"
    pw.write_text(password + "\n")
    pw.chmod(0o600)
    text = config(env, rid, sid, d).replace(
        'files: {pem: {path: %s/upstream-ca.pem, mode: "0640"}}' % d,
        'files: {pem: {path: %s/upstream-ca.pem, mode: "0640"}, '
        'truststore_pkcs12: {path: %s, password_file: %s}}' % (d, store, pw))
    assert "truststore_pkcs12" in text
    a = env.agent(text).start()

    # The same CAs in both files, the PEM's order; one hook run for both.
    wait_until("the first bundle", lambda: len(certs_in(bundle)) == 2 and store.exists())
    wait_until("the first hook run", lambda: hook_runs(hooks) == 1)
    assert keytool_fingerprints(store, password) == pem_fingerprints(bundle)
    assert oct(os.stat(store).st_mode & 0o777) == "0o644"

    # Rounds that change nothing leave the truststore's bytes alone
    # (a keystore's salt is fresh at each write: compared by content).
    before = store.read_bytes()
    a.wait_for(r"trust bundle upstream: up to date", count=rounds(a) + 3)
    assert store.read_bytes() == before
    assert hook_runs(hooks) == 1

    # A rollover: both files follow, and the hook runs once more.
    env.vs.pki_rollover()
    wait_until("both intermediates", lambda: len(certs_in(bundle)) == 3)
    wait_until("the truststore follows",
               lambda: len(keytool_fingerprints(store, password)) == 3)
    assert keytool_fingerprints(store, password) == pem_fingerprints(bundle)
    wait_until("the second hook run", lambda: hook_runs(hooks) == 2)
    a.wait_for(r"trust bundle upstream: up to date", count=rounds(a) + 2)
    assert hook_runs(hooks) == 2

    # An unreadable password: the round fails naming the file, both files
    # stay as they were, and the password never reaches the log.
    pw.write_text("")
    env.vs.pki_rollover()
    a.wait_for(r"trust bundle upstream: %s: the password file: .*empty" % re.escape(str(store)))
    assert len(certs_in(bundle)) == 3
    assert len(keytool_fingerprints(store, password)) == 3
    assert a.stop() == 0
    assert password not in a.log()


def test_an_expired_intermediate_leaves_the_bundle_at_its_expiry(env, world):
    rid, sid = world
    d = env.tmp / "out"
    d.mkdir()
    bundle, hooks = d / "upstream-ca.pem", d / "hook.log"
    env.vs.pki_config(ttl=8)            # an intermediate of 8 s
    short = x509.load_pem_x509_certificate(
        env.vs.pki_config()["certificate"].encode()).serial_number
    env.vs.pki_rollover()               # the long-lived successor
    a = env.agent(config(env, rid, sid, d, refresh="1h", retain="1h")).start()
    wait_until("both intermediates", lambda: len(certs_in(bundle)) == 3)
    assert short in serials(bundle)
    # Still a source, but expired: dropped when it expires, without a refresh.
    a.wait_for(r"dropping CA .*it expired", timeout=30)
    wait_until("the expired one gone", lambda: short not in serials(bundle))
    assert len(certs_in(bundle)) == 2
    wait_until("the second hook run", lambda: hook_runs(hooks) == 2)
    assert a.stop() == 0


def test_a_kv_source_is_merged_and_deduplicated_and_sighup_refreshes(env, world):
    rid, sid = world
    d = env.tmp / "out"
    d.mkdir()
    bundle = d / "upstream-ca.pem"
    root_pem = open(env.vs.pki_root).read()
    # The kv entry holds the root again (a duplicate) and nothing else yet.
    env.vs.kv_put("ca", {"pem": root_pem})
    text = config(env, rid, sid, d, refresh="1h") + textwrap.indent(textwrap.dedent("""
        - name: fromkv
          sources: [{kv: secret/data/ca, field: pem}]
          files: {pem: {path: %s/kv-ca.pem}}
        """ % d), "  ")
    a = env.agent(text).start()
    wait_until("the kv bundle", lambda: len(certs_in(d / "kv-ca.pem")) == 1)
    wait_until("the upstream bundle", lambda: len(certs_in(bundle)) == 2)
    # A second CA in the kv entry: the next round (SIGHUP) takes it in.
    int_pem = env.vs.pki_config()["certificate"]
    env.vs.kv_put("ca", {"pem": root_pem + "\n" + int_pem + "\n" + root_pem})
    a.send(signal.SIGHUP)
    wait_until("two CAs from kv", lambda: len(certs_in(d / "kv-ca.pem")) == 2)
    assert subjects(d / "kv-ca.pem") == ["CN=vaultsim Intermediate CA",
                                         "CN=vaultsim Root CA"]
    assert a.stop() == 0


def test_a_server_without_the_issuers_api_still_gives_the_default_chain(env, world):
    rid, sid = world
    d = env.tmp / "out"
    d.mkdir()
    bundle = d / "upstream-ca.pem"
    # Vault before 1.11 has no issuers LIST: a 405-ish 4xx.  Here: a fault.
    for mount in ("pki", "pki_int"):
        env.vs.fault(path_prefix="/v1/%s/issuers" % mount, status=405, count=-1,
                     errors=["unsupported operation"])
    a = env.agent(config(env, rid, sid, d)).start()
    wait_until("the bundle", lambda: len(certs_in(bundle)) == 2)
    assert re.search(r"issuers.*no issuers API here", a.log())
    assert "failing" not in a.log()
    assert a.stop() == 0


def test_certagent_check_names_each_mistake_in_trust_bundles_and_crls(tmp_path):
    from conftest import BIN
    cfg = tmp_path / "c.yaml"
    cfg.write_text(textwrap.dedent("""
        vault: {address: https://127.0.0.1:8200}
        auth: {method: token, token_file: /tmp/none}
        hooks:
          nginx: {command: ["true"]}
        trust_bundles:
          - name: a
            sources: [{pki: pki_int, kv: secret/data/x}, {}, {pki: pki, field: x}]
            files: {pem: {path: /tmp/a.pem, legacy: true}, der: {path: /tmp/a.der}}
            on_change: [ngin]
          - name: a
            sources: [{kv: secret/data/ca}]
            files: {}
          - name: b
            sources: [{pki: pki}]
            files: {truststore_pkcs12: {path: /tmp/b.p12, password_file: rel/pass}}
        crls:
          - name: c
            sources: [{kv: secret/data/ca}]
            files: {pem: {path: /tmp/c.pem}}
          - name: d
            sources: [{pki: pki}]
            files: {pem: {path: /tmp/d.pem, password_env: P}}
        """))
    r = subprocess.run([BIN, "check", "-c", str(cfg)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    for msg in ("trust_bundles[0].sources[0]: set either pki or kv, not both",
                "trust_bundles[0].sources[1]: needs pki: MOUNT or kv: PATH",
                "trust_bundles[0].sources[2]: field is for a kv source",
                "trust_bundles[0].files.der: 'der' is not a file of a trust bundle: "
                "pem, truststore_pkcs12",
                "trust_bundles[0].files.pem.legacy: only truststore_pkcs12 takes it",
                "trust_bundles[2].files.truststore_pkcs12.password_file: must be an "
                "absolute path",
                "trust_bundles[2].files: needs pem",
                "crls[1].files.pem.password_env",
                "trust_bundles[0].on_change[0]: 'ngin' is not a hook; did you mean 'nginx'?",
                "trust_bundles[1].name: 'a' is the name of trust_bundles[0] too",
                "trust_bundles[1].files: needs pem",
                "crls[0].sources[0]: a CRL comes from a PKI mount"):
        assert msg in r.stderr, r.stderr


def test_status_and_metrics_show_each_bundle_and_crl(env, world):
    import json
    import socket
    import urllib.request
    rid, sid = world
    d = env.tmp / "out"
    d.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = config(env, rid, sid, d, extra=textwrap.dedent("""
        crls:
          - name: int
            sources: [{pki: pki_int}]
            files: {pem: {path: %s/crl.pem}}
        listener:
          address: "127.0.0.1:%d"
        """ % (d, port)))
    a = env.agent(text).start()
    wait_until("the bundle", lambda: len(certs_in(d / "upstream-ca.pem")) == 2)
    wait_until("the CRL", lambda: (d / "crl.pem").exists())

    def status():
        with urllib.request.urlopen("http://127.0.0.1:%d/v1/status" % port, timeout=5) as r:
            rows = {b["name"]: b for b in json.loads(r.read())["bundles"]}
        return rows if all(b["state"] == "current" for b in rows.values()) else None
    rows = wait_until("both current in /v1/status", status)
    assert rows["upstream"]["kind"] == "trust_bundle" and rows["upstream"]["items"] == 2
    assert rows["upstream"]["retained"] == 0 and rows["upstream"]["last_error"] is None
    assert rows["int"]["kind"] == "crl" and rows["int"]["items"] == 1
    assert rows["int"]["next_update"] and rows["int"]["path"] == str(d / "crl.pem")
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        metrics = r.read().decode()
    assert 'certagent_bundle_items{kind="trust_bundle",name="upstream"} 2' in metrics
    assert 'certagent_bundle_items{kind="crl",name="int"} 1' in metrics
    assert 'certagent_bundle_failures{kind="crl",name="int"} 0' in metrics
    from conftest import BIN
    r = subprocess.run([BIN, "status", "-c", str(a.config)], capture_output=True, text=True,
                       timeout=15)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^upstream\s+trust_bundle\s+current\s+2\s", r.stdout, re.M), r.stdout
    assert re.search(r"^int\s+crl\s+current\s+1\s", r.stdout, re.M), r.stdout
    assert a.stop() == 0


def test_run_once_writes_the_bundles_and_crls_then_exits_and_fails_when_one_cannot_be_read(
        env, world):
    from conftest import BIN
    rid, sid = world
    d = env.tmp / "out"
    d.mkdir()
    text = config(env, rid, sid, d, extra=textwrap.dedent("""
        crls:
          - name: int
            sources: [{pki: pki_int}]
            files: {pem: {path: %s/crl.pem}}
        """ % d))
    a = env.agent(text)
    r = subprocess.run([BIN, "run", "--once", "-c", str(a.config)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(certs_in(d / "upstream-ca.pem")) == 2
    assert "-----BEGIN X509 CRL-----" in (d / "crl.pem").read_text()
    assert hook_runs(d / "hook.log") == 1    # run --once runs the hooks of what it wrote

    bad = text.split("crls:")[0] + ("crls:\n  - name: int\n    sources: [{pki: nowhere}]\n"
                                     "    files: {pem: {path: %s/crl2.pem}}\n" % d)
    a.write_config(bad)
    r = subprocess.run([BIN, "run", "--once", "-c", str(a.config)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert re.search(r"1 trust bundle or CRL not read", r.stderr), r.stderr
    assert not (d / "crl2.pem").exists()
