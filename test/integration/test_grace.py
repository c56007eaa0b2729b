"""grace: a rotated-out certificate stays available as files for its grace,
then is revoked; revoke_journal: keeps a pending grace revocation across a
restart."""

import hashlib
import json
import os
import signal
import stat
import subprocess
import time

from test_certs import cert_config, serial_of
from test_rotation import one_cert, pki, revoked  # noqa: F401


def grace_block(d, name, duration):
    return ("grace: {duration: %s, files: {cert: {path: %s/%s.prev.crt}, "
            "key: {path: %s/%s.prev.key}}}" % (duration, d, name, d, name))


def spki_sha256_hex(cert_path):
    pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in", str(cert_path)],
                         capture_output=True, check=True, timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True, timeout=30).stdout
    return hashlib.sha256(der).hexdigest()


def journal_serials(path):
    if not path.exists():
        return []
    return [r["serial"] for r in json.loads(path.read_text())["revocations"]]


def wait_until(pred, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def colon(serial_line):
    h = serial_line.split("=", 1)[1].lower()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def test_grace_files_hold_the_previous_certificate_then_it_is_revoked(env, pki):  # noqa: F811
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    audit = env.tmp / "audit.log"
    journal = env.tmp / "state" / "revocations.json"
    journal.parent.mkdir()
    # The grace files take the words of files: (here a pin in hex).
    block = grace_block(d, "tenant1", "3s").replace(
        "}}}", "}, pin: {path: %s/tenant1.prev.pin, format: hex}}}" % d)
    certs = one_cert(d, "tenant1", "1h", block)
    a = env.agent(cert_config(env, rid, sid, certs) +
                  "revoke_journal: %s\naudit: {path: %s}\n" % (journal, audit)).start()
    a.wait_for(r"tenant1: issued serial")
    old = serial_of(d / "tenant1.crt")
    old_pin = spki_sha256_hex(d / "tenant1.crt")
    a.send(signal.SIGUSR1)
    a.wait_for(r"tenant1: issued serial", count=2)
    new = serial_of(d / "tenant1.crt")
    assert old != new
    # The previous certificate and its key, beside the new ones.
    assert serial_of(d / "tenant1.prev.crt") == old
    assert stat.S_IMODE(os.stat(d / "tenant1.prev.key").st_mode) == 0o600
    assert (d / "tenant1.prev.pin").read_text() == old_pin + "\n"
    assert not revoked(env.vs, old)          # inside its grace
    assert wait_until(lambda: colon(old) in journal_serials(journal))
    a.wait_for(r"revoke: tenant1: revoked serial", timeout=20)
    assert revoked(env.vs, old)
    assert not revoked(env.vs, new)
    assert wait_until(lambda: journal_serials(journal) == [])
    assert stat.S_IMODE(os.stat(journal).st_mode) == 0o600
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    kinds = [(e["event"], e.get("name")) for e in events]
    assert ("activation", "tenant1") in kinds
    assert ("grace_end", "tenant1") in kinds
    ends = [e for e in events if e["event"] == "grace_end"]
    assert ends[0]["previous_serial"] == colon(old)
    revs = [e for e in events if e["event"] == "revocation" and e.get("ok")]
    assert revs and revs[0]["serial"] == colon(old)
    assert "PRIVATE KEY" not in audit.read_text()
    assert a.stop() == 0


def test_a_grace_revocation_pending_at_shutdown_is_revoked_after_a_restart(env, pki):  # noqa: F811
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    journal = env.tmp / "revocations.json"
    certs = one_cert(d, "tenant1", "1h", grace_block(d, "tenant1", "3s"))
    config = cert_config(env, rid, sid, certs) + "revoke_journal: %s\n" % journal
    a = env.agent(config).start()
    a.wait_for(r"tenant1: issued serial")
    old = serial_of(d / "tenant1.crt")
    a.send(signal.SIGUSR1)
    a.wait_for(r"tenant1: issued serial", count=2)
    assert wait_until(lambda: colon(old) in journal_serials(journal))
    assert a.stop() == 0
    assert "kept in the journal" in a.log()
    assert not revoked(env.vs, old)
    text = journal.read_text()
    assert "PRIVATE KEY" not in text and "hvs." not in text
    assert stat.S_IMODE(os.stat(journal).st_mode) == 0o600

    # Let the grace end while the agent is down: at the restart the
    # revocation is due at once, and must wait for the login, not fail.
    due = json.loads(text)["revocations"][0]["due_ms"] / 1000
    assert wait_until(lambda: time.time() > due + 0.2, timeout=30)
    b = env.agent(config, name="restarted").start()
    b.wait_for(r"1 revocation pending from the journal")
    b.wait_for(r"revoke: tenant1: revoked serial %s" % colon(old), timeout=20)
    assert revoked(env.vs, old)
    assert "failed" not in b.log()
    assert wait_until(lambda: journal_serials(journal) == [])
    assert b.stop() == 0


def test_a_failing_grace_revocation_is_retried_and_shown_until_it_succeeds(env, pki):  # noqa: F811
    from test_rotation import free_port, http_get
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    journal = env.tmp / "revocations.json"
    port = free_port()
    certs = one_cert(d, "tenant1", "1h", grace_block(d, "tenant1", "1s"))
    a = env.agent(cert_config(env, rid, sid, certs) +
                  "revoke_journal: %s\n" % journal +
                  "listener: {address: \"127.0.0.1:%d\"}\n" % port).start()
    a.wait_for(r"tenant1: issued serial")
    old = serial_of(d / "tenant1.crt")
    env.vs.fault(path_prefix="/v1/pki_int/revoke", status=500, count=-1)
    a.send(signal.SIGUSR1)
    a.wait_for(r"tenant1: issued serial", count=2)
    # More failures than the five a queue without a journal would allow.
    a.wait_for(r"revoke: tenant1: revoking serial \S+ failed", count=6, timeout=30)
    st, body = http_get(port, "/v1/status")
    assert st == 200
    status = json.loads(body)
    revs = [r for r in status["revocations"] if r["serial"] == colon(old)]
    assert revs and revs[0]["state"] == "failing" and revs[0]["failures"] >= 1
    assert status["health"] != "healthy"
    st, m = http_get(port, "/metrics")
    assert "certagent_revocations_failing 1" in m
    assert not revoked(env.vs, old)
    env.vs.clear_faults()
    a.wait_for(r"revoke: tenant1: revoked serial", timeout=20)
    assert revoked(env.vs, old)
    st, m = http_get(port, "/metrics")
    assert "certagent_revocations_failing 0" in m
    assert "certagent_revocations_total 1" in m
    assert a.stop() == 0


def test_lifecycle_keys_are_validated_with_their_position(env, pki, tmp_path):  # noqa: F811
    from conftest import BIN
    rid, sid = pki
    certs = one_cert(tmp_path, "t", "1h",
                     "activation_check: {server_name: x}\n"
                     "          grace: {duration: 7d, files: {previous: {path: /tmp/p.crt}, "
                     "key: {path: rel.key}, cert: {path: /tmp/p.crt, format: pkcs7}, "
                     "pkcs12: {path: /tmp/p.p12}}}")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(cert_config(env, rid, sid, certs).replace(
        "vault:\n", "vault:\n  max_concurrent_requests: 0\n", 1))
    r = subprocess.run([BIN, "check", "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode != 0
    assert "vault.max_concurrent_requests: '0' is out of range" in r.stderr, r.stderr
    assert "certificates[0].activation_check.connect: missing required key" in r.stderr
    assert "certificates[0].grace.files.previous: unknown file kind" in r.stderr
    assert "certificates[0].grace.files.key: path must be absolute" in r.stderr
    # Grace files take the words of files: and are checked the same way.
    assert "certificates[0].grace.files.cert.format: pem or der" in r.stderr, r.stderr
    assert ("certificates[0].grace.files.pkcs12.password_file: set password_file or "
            "password_env") in r.stderr, r.stderr
