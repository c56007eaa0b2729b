"""vaultsim's TLS listener: which client certificate a request is made with.

Vault's listener is Go's crypto/tls server: it requests a client certificate
(tls.RequestClientCert), resumes sessions from session tickets (TLS 1.2 and
1.3, no session-ID cache) and restores the peer certificate of the session's
original full handshake on resumption. auth/cert identifies the client by the
certificate of the connection carrying the login request.

Run: /usr/bin/python3 -m pytest -q test/integration/test_vaultsim_tls.py
"""

import http.client
import json
import os
import socket
import ssl
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vaultsim"))

from harness import Vaultsim                                            # noqa: E402


@pytest.fixture(scope="module")
def vs(tmp_path_factory):
    with Vaultsim(tmp_path_factory.mktemp("vs")) as v:
        yield v


@pytest.fixture(scope="module")
def certs(vs):
    """Two client certificates from the same registered CA."""
    a = vs.client_cert("agent-a", name="agents", token_policies="default", token_ttl="10m",
                       token_max_ttl="1h")
    b = vs.client_cert("agent-b", name="agents", token_policies="default", token_ttl="10m",
                       token_max_ttl="1h")
    return a, b


def client_ctx(vs, cert, tls_max=None, tickets=True):
    ctx = ssl.create_default_context(cafile=vs.tls_ca)
    if tls_max is not None:
        ctx.maximum_version = tls_max
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    ctx.load_cert_chain(*cert)
    return ctx


class Conn:
    """One TLS connection to vaultsim's HTTPS listener, optionally resuming."""

    def __init__(self, vs, ctx, session=None):
        port = int(vs.https_addr.rsplit(":", 1)[1])
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
        self.http = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        self.http.sock = self.tls

    def call(self, method, path, body=None, token=None):
        hdrs = {"Content-Type": "application/json"}
        if token:
            hdrs["X-Vault-Token"] = token
        self.http.request(method, "/v1/" + path, body=json.dumps(body or {}), headers=hdrs)
        resp = self.http.getresponse()
        return resp.status, json.loads(resp.read() or b"null")

    @property
    def reused(self):
        return self.tls.session_reused

    @property
    def session(self):
        return self.tls.session

    def close(self):
        self.http.close()


def login_cn(conn):
    st, body = conn.call("POST", "auth/cert/login")
    assert st == 200, body
    return body["auth"]["metadata"]["common_name"], body["auth"]["client_token"]


def test_ready_json_reports_ticket_resumption(vs):
    assert vs.ready["tls_session_resumption"] == "tickets"


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2],
                         ids=["tls1.3", "tls1.2"])
def test_resumed_session_logs_in_as_the_original_certificate(vs, certs, version):
    a, b = certs
    ctx = client_ctx(vs, a, tls_max=version)
    first = Conn(vs, ctx)
    assert not first.reused
    assert login_cn(first)[0] == "agent-a"
    session = first.session
    first.close()
    # The same context now presents B, but resumes A's session: no client
    # certificate is sent on resumption, and the server restores A.
    ctx.load_cert_chain(*b)
    again = Conn(vs, ctx, session=session)
    cn, tok = login_cn(again)
    assert again.reused, "the server did not resume the session"
    assert again.tls.version() == {ssl.TLSVersion.TLSv1_3: "TLSv1.3",
                                   ssl.TLSVersion.TLSv1_2: "TLSv1.2"}[version]
    assert cn == "agent-a"
    again.close()
    # A fresh full handshake with B is B.
    fresh = Conn(vs, ctx)
    assert not fresh.reused
    assert login_cn(fresh)[0] == "agent-b"
    fresh.close()
    logins = [r for r in vs.requests() if r["path"] == "/v1/auth/cert/login"][-3:]
    assert [r["client_cert_cn"] for r in logins] == ["agent-a", "agent-a", "agent-b"]


def test_renew_on_resumed_session_checks_the_original_certificate(vs, certs, tmp_path):
    a, _b = certs
    ctx = client_ctx(vs, a)
    first = Conn(vs, ctx)
    _cn, tok = login_cn(first)
    session = first.session
    first.close()
    # Resume while a certificate from an unregistered CA is loaded: the
    # renewal sees A (restored from the session), so the identity matches.
    with Vaultsim(tmp_path, subdir="other") as other:
        stranger = other.client_cert("stranger", register=False)
    ctx.load_cert_chain(*stranger)
    resumed = Conn(vs, ctx, session=session)
    st, body = resumed.call("POST", "auth/token/renew-self", {"increment": "20m"}, token=tok)
    assert resumed.reused
    assert st == 200, body
    assert body["auth"]["lease_duration"] == 1200
    resumed.close()
    # A full handshake with the stranger's certificate is refused as Vault does.
    fresh = Conn(vs, ctx)
    st, body = fresh.call("POST", "auth/token/renew-self", {}, token=tok)
    assert not fresh.reused
    assert st == 400
    assert body["errors"] == ["invalid certificate or no client certificate supplied"]
    fresh.close()


def test_tls12_session_id_only_gets_a_full_handshake(vs, certs):
    # Go's server keeps no session-ID cache: a TLS 1.2 client that cannot use
    # tickets is not resumed, so the certificate it presents now counts.
    a, b = certs
    ctx = client_ctx(vs, a, tls_max=ssl.TLSVersion.TLSv1_2, tickets=False)
    first = Conn(vs, ctx)
    assert login_cn(first)[0] == "agent-a"
    session = first.session
    first.close()
    ctx.load_cert_chain(*b)
    again = Conn(vs, ctx, session=session)
    cn, _tok = login_cn(again)
    assert not again.reused
    assert cn == "agent-b"
    again.close()


def test_keep_alive_connection_keeps_its_handshake_certificate(vs, certs):
    a, b = certs
    ctx = client_ctx(vs, a)
    conn = Conn(vs, ctx)
    cn1, tok = login_cn(conn)
    # Loading another certificate into the context changes nothing for a
    # connection whose handshake is done.
    ctx.load_cert_chain(*b)
    st, body = conn.call("GET", "auth/token/lookup-self", token=tok)
    assert st == 200 and body["data"]["meta"]["common_name"] == "agent-a"
    cn2, _ = login_cn(conn)
    st, body = conn.call("POST", "auth/token/renew-self", {}, token=tok)
    assert st == 200, body
    port = conn.tls.getsockname()[1]
    conn.close()
    assert cn1 == cn2 == "agent-a"
    mine = [r for r in vs.requests() if r["remote_port"] == port]
    assert len(mine) == 4
    assert {r["client_cert_cn"] for r in mine} == {"agent-a"}


def test_server_close_sends_close_notify(vs):
    # Go's tls.Conn.Close sends close_notify: a client reading to the end of a
    # "Connection: close" answer sees a clean TLS EOF, not a ragged one.
    ctx = ssl.create_default_context(cafile=vs.tls_ca)
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    port = int(vs.https_addr.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1", suppress_ragged_eofs=False)
    tls.sendall(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = tls.recv(65536)      # raises SSLEOFError on a close without close_notify
        if not chunk:
            break
        data += chunk
    tls.close()
    assert data.startswith(b"HTTP/1.1 200 ")
    assert b"Connection: close" in data
