"""activation_check: a new certificate is tested with a TLS handshake to a
real endpoint (a Python ssl server started here, which requires a client
certificate from one CA) before its files replace the old ones."""

import json
import re
import signal
import socket
import ssl
import threading

import pytest

from test_certs import cert_config, serial_of
from test_rotation import free_port, http_get, one_cert, pki  # noqa: F401


class TLSServer:
    """A TLS endpoint that requires a client certificate verified by
    CLIENT_CA; counts the handshakes it accepted and refused."""

    def __init__(self, cert, key, client_ca):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx.load_verify_locations(client_ca)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []      # client certificate CNs
        self.refused = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as s:
                    peer = s.getpeercert()
                    cn = dict(x[0] for x in peer["subject"])["commonName"]
                    self.accepted.append(cn)
                    s.sendall(b"ok\n")
            except (ssl.SSLError, OSError):
                self.refused += 1
                conn.close()

    def close(self):
        self.stopping = True
        self.sock.close()


def server_material(env):
    """A server certificate for 127.0.0.1 from vaultsim's pki_int, and the
    PEM files: server cert+chain, key, and the pki CA bundle (root + int)."""
    st, body = env.vs.api("POST", "pki_int/issue/web",
                          {"common_name": "kms.example.test", "ip_sans": "127.0.0.1"})
    assert st == 200, body
    d = body["data"]
    crt = env.tmp / "kms.crt"
    crt.write_text(d["certificate"] + "\n" + "\n".join(d["ca_chain"]) + "\n")
    key = env.tmp / "kms.key"
    key.write_text(d["private_key"] + "\n")
    bundle = env.tmp / "pki-bundle.pem"
    bundle.write_text(open(env.vs.pki_root).read() + "\n".join(d["ca_chain"]) + "\n")
    return crt, key, bundle


@pytest.fixture
def role_with_ip(env, pki):  # noqa: F811
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="24h", key_type="ec", key_bits=256, allow_ip_sans=True)
    return pki


def check_block(port, ca):
    return ("activation_check: {connect: \"127.0.0.1:%d\", server_name: 127.0.0.1, "
            "ca_file: %s, timeout: 5s}" % (port, ca))


def metric(port, name):
    st, m = http_get(port, "/metrics")
    assert st == 200
    found = re.search(r"^%s (\S+)$" % name, m, re.M)
    return float(found.group(1)) if found else None


def test_activation_check_against_an_endpoint_that_trusts_the_ca_passes_and_writes(
        env, role_with_ip):
    rid, sid = role_with_ip
    crt, key, bundle = server_material(env)
    srv = TLSServer(crt, key, bundle)
    try:
        d = env.tmp / "tls"
        d.mkdir()
        audit = env.tmp / "audit.log"
        certs = one_cert(d, "tenant1", "1h", check_block(srv.port, bundle))
        a = env.agent(cert_config(env, rid, sid, certs) +
                      "audit: {path: %s}\n" % audit).start()
        a.wait_for(r"tenant1: serial \S+ passed its activation check")
        a.wait_for(r"tenant1: issued serial")
        assert (d / "tenant1.crt").exists() and (d / "tenant1.key").exists()
        assert "tenant1.example.test" in srv.accepted
        # The handshake came before the files: the log says so in order.
        log = a.log()
        assert log.index("passed its activation check") < log.index("tenant1: wrote")
        events = [json.loads(line) for line in audit.read_text().splitlines()]
        checks = [e for e in events if e.get("event") == "activation_check"]
        assert checks and checks[0]["name"] == "tenant1" and checks[0]["ok"] is True
        assert "PRIVATE KEY" not in audit.read_text()
        assert a.stop() == 0
    finally:
        srv.close()


def test_activation_check_refused_keeps_the_old_files_and_retries(env, role_with_ip):
    rid, sid = role_with_ip
    crt, key, bundle = server_material(env)
    # This endpoint trusts only vaultsim's TLS CA: it refuses every tenant
    # certificate from pki_int.
    srv = TLSServer(crt, key, env.vs.tls_ca)
    try:
        d = env.tmp / "tls"
        d.mkdir()
        a = env.agent(cert_config(env, rid, sid, one_cert(d, "tenant1", "1h"))).start()
        a.wait_for(r"tenant1: issued serial")
        assert a.stop() == 0
        old_cert = (d / "tenant1.crt").read_bytes()
        old_key = (d / "tenant1.key").read_bytes()
        old_serial = serial_of(d / "tenant1.crt")

        port = free_port()
        audit = env.tmp / "audit.log"
        certs = one_cert(d, "tenant1", "1h", check_block(srv.port, bundle))
        b = env.agent(cert_config(env, rid, sid, certs) +
                      "listener: {address: \"127.0.0.1:%d\"}\n" % port +
                      "audit: {path: %s}\n" % audit, name="checked").start()
        b.wait_for(r"tenant1: kept the certificate on disk")
        b.send(signal.SIGUSR1)
        # Refused, and tried again with backoff: at least two failures.
        b.wait_for(r"tenant1: activation check of serial \S+ failed: .*refused "
                   r"the new certificate.*old files kept", count=2, timeout=30)
        assert metric(port, "certagent_activation_checks_failed_total") >= 2
        assert metric(port, "certagent_activation_checks_passed_total") == 0
        assert srv.refused >= 2 and not srv.accepted
        assert (d / "tenant1.crt").read_bytes() == old_cert
        assert (d / "tenant1.key").read_bytes() == old_key
        assert serial_of(d / "tenant1.crt") == old_serial
        events = [json.loads(line) for line in audit.read_text().splitlines()]
        failed = [e for e in events if e.get("event") == "activation_check"]
        assert len(failed) >= 2 and all(e["ok"] is False for e in failed)
        assert all(e["name"] == "tenant1" and e["target"] == "127.0.0.1:%d" % srv.port
                   for e in failed)
        assert "PRIVATE KEY" not in audit.read_text()
        assert b.stop() == 0
    finally:
        srv.close()
