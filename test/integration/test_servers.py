"""Real servers from Debian take their TLS material from certagent.

PostgreSQL, nginx and gunicorn with uvicorn workers (installed by `make
deps`) are started on 127.0.0.1 with the files a `certificates:` entry
writes, and a signal hook SIGHUPs them through their pid file.  The
server certificate lives 20 s, so certagent renews it about 13 s after
the first issuance.  Each test checks that the server first serves the
first serial, that after the renewal and the hook it serves the new one,
and that a client connecting again and again through the rotation, with
full verification against the CA file certagent wrote, never failed.

Only the Python ssl module (OpenSSL), psql and the servers themselves
speak TLS here: nothing of certagent's is on the other end of a
connection.
"""

import contextlib
import glob
import grp
import http.client
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import textwrap
import threading
import time

import pytest
from cryptography import x509

POLICY = """
    path "pki_int/issue/*" { capabilities = ["create", "update"] }
"""

# A 20 s certificate, not backdated by Vault's usual 30 s: it renews at
# two thirds of its 21 s lifetime (+-5%), 12-14 s after it was issued.
SERVER_TTL = "20s"
WAIT = "wait: {min: 200ms, max: 1s}"
ISSUED = r"server: issued serial ([0-9A-Fa-f:]+)"


@pytest.fixture
def world(env):
    env.vs.policy("servers", POLICY)
    env.vs.pki_role("server", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256, not_before_duration="1s")
    env.vs.pki_role("client", allow_any_name=True, server_flag=False, client_flag=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    return env.approle_files(token_policies=["default", "servers"])


def agent_config(env, world, d, hook, owner=None, client=False):
    """An agent that writes the server's set into D (the leaf, its key,
    the root as ca.pem and fullchain.pem = leaf + intermediate for the
    server to send) and runs HOOK on every change; with CLIENT, also a
    client identity (cert, chain, key in one file) for mutual TLS."""
    rid, sid = world
    key_owner = ", owner: %s" % owner if owner else ""
    certs = """
        - name: server
          path: pki_int/issue/server
          common_name: server.example.test
          alt_names: [server.example.test]
          ip_sans: [127.0.0.1]
          ttl: %(ttl)s
          files:
            cert: {path: %(d)s/server.crt}
            key: {path: %(d)s/server.key%(owner)s}
            ca: {path: %(d)s/ca.pem}
            bundle: {path: %(d)s/fullchain.pem, parts: [cert, chain]}
          on_change: [%(hook_name)s]
          %(wait)s
        """ % {"d": d, "ttl": SERVER_TTL, "owner": key_owner,
               "hook_name": hook.split(":")[0], "wait": WAIT}
    if client:
        certs += """
        - name: client
          path: pki_int/issue/client
          common_name: client.example.test
          ttl: 30m
          files:
            bundle: {path: %s/client.pem, parts: [cert, chain, key]}
        """ % d
    text = env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false")
    text += "hooks:\n  %s\n" % hook
    text += "certificates:\n" + textwrap.indent(textwrap.dedent(certs).strip("\n"), "  ")
    return text + "\n"


# ------------------------------------------------------------------ helpers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gone(Exception):
    """Raised by a wait_until predicate when waiting longer is pointless."""


def wait_until(what, pred, timeout=15.0, interval=0.05):
    """Poll PRED until it returns a true value, and return it; its last
    exception or value is in the failure message."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last = v
        except Gone:
            raise
        except Exception as e:   # noqa: BLE001 - reported below
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %.0fs; last: %s" % (what, timeout, last))
        time.sleep(interval)


def vault_serial(text):
    """Vault's "39:dd:2e:..." as an integer."""
    return int(text.replace(":", ""), 16)


def file_serial(path):
    return x509.load_pem_x509_certificate(pathlib.Path(path).read_bytes()).serial_number


def tls_connect(port, ca, client=None, starttls=None, timeout=5.0):
    """A verified TLS connection to 127.0.0.1:PORT: the chain to CA and
    the IP address SAN checked by OpenSSL; CLIENT is a PEM file with our
    certificate, chain and key.  STARTTLS "postgres" sends PostgreSQL's
    SSLRequest first, as libpq does."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if client:
        ctx.load_cert_chain(str(client))
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if starttls == "postgres":
            sock.sendall(struct.pack("!ii", 8, 80877103))
            answer = sock.recv(1)
            if answer != b"S":
                raise AssertionError("PostgreSQL refused SSL: %r" % answer)
        return ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    except BaseException:
        sock.close()
        raise


def served_serial(port, ca, client=None, starttls=None):
    """The serial of the certificate the server presents now."""
    with tls_connect(port, ca, client, starttls) as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(True)).serial_number


def https_get(port, ca, client=None, path="/"):
    """GET PATH on a new verified connection: (status, body, serial)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if client:
        ctx.load_cert_chain(str(client))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    try:
        conn.connect()
        serial = x509.load_der_x509_certificate(conn.sock.getpeercert(True)).serial_number
        conn.request("GET", path, headers={"Connection": "close"})
        r = conn.getresponse()
        return r.status, r.read(65536).decode(errors="replace"), serial
    finally:
        conn.close()


class Load(threading.Thread):
    """Calls CONNECT again and again until stopped: one new connection
    each time.  CONNECT raises on any failure and returns the serial it
    saw (or None)."""

    def __init__(self, connect, pause=0.02):
        super().__init__(daemon=True)
        self.connect = connect
        self.pause = pause
        self.ok = []          # (monotonic time, serial)
        self.failures = []    # (monotonic time, error)
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            t = time.monotonic()
            try:
                v = self.connect()
            except Exception as e:   # noqa: BLE001 - every failure is the finding
                self.failures.append((t, "%s: %s" % (type(e).__name__, e)))
            else:
                self.ok.append((t, v))
            self._stop_event.wait(self.pause)

    def stop(self):
        self._stop_event.set()
        self.join(30)
        assert not self.is_alive(), "the connection loop did not stop"


def rotate_under_load(a, hook, server_pid, served, connect, tolerate=None):
    """The common part of every test: the server serves the first serial
    and has had the first hook run; then, with CONNECT looping, certagent
    renews, signals SERVER_PID, and the server serves the new serial.
    TOLERATE names a failure the server itself may cause while it swaps
    (a substring of the failure text); at most 2% of the connections.
    Returns (first serial, new serial, the Load)."""
    first = vault_serial(a.wait_for(ISSUED)[0])
    wait_until("the server serves the first serial", lambda: served() == first)
    # The first issuance's hook ran (retried until the pid file appeared).
    sent = r"hooks: %s: sent SIGHUP to pid %d \(from " % (hook, server_pid)
    a.wait_for(sent, timeout=15)
    load = Load(connect)
    load.start()
    try:
        new = vault_serial(a.wait_for(ISSUED, count=2, timeout=40)[1])
        assert new != first
        a.wait_for(sent, count=2, timeout=15)
        wait_until("the server serves the new serial after its SIGHUP",
                   lambda: served() == new, timeout=10)
        seen_new = time.monotonic()
        # Keep connecting for a while after the switch: the old workers
        # or backends are going away now.
        time.sleep(1.5)
    finally:
        load.stop()
    failures = [f for f in load.failures if not (tolerate and tolerate in f[1])]
    assert failures == [], "connections failed during the rotation: %s (of %d)" % (
        failures[:5], len(load.ok) + len(load.failures))
    assert len(load.failures) <= 0.02 * (len(load.ok) + len(load.failures)), load.failures
    assert len(load.ok) >= 20, "too few connections to tell: %d" % len(load.ok)
    assert any(t > seen_new for t, _ in load.ok), "no connection after the switch"
    return first, new, load


def stop_process(p, sig=signal.SIGTERM, timeout=15):
    if p is None or p.poll() is not None:
        return
    p.send_signal(sig)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def service_account():
    """Who the servers that refuse root run as: ourselves, or, as root,
    'nobody' and its primary group.  (uid, gid, user name, group name)."""
    if os.geteuid() != 0:
        pw = pwd.getpwuid(os.geteuid())
    else:
        pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid, pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name


def as_service():
    """Popen arguments that run a child as the service account."""
    if os.geteuid() != 0:
        return {}
    uid, gid, _, _ = service_account()
    return {"user": uid, "group": gid, "extra_groups": []}


def wait_pid_file(what, path, proc, log):
    """Wait until PROC wrote its pid to PATH; it must be PROC's pid."""
    def written():
        if proc.poll() is not None:
            raise Gone("%s exited %s; its log:\n%s" % (
                what, proc.returncode, pathlib.Path(log).read_text(errors="replace")))
        return path.exists() and path.read_text().strip()
    pid = wait_until("%s writes its pid file" % what, written, timeout=30)
    assert pid == str(proc.pid), (pid, proc.pid)


@contextlib.contextmanager
def service_dir(prefix):
    """A directory the service account owns.  pytest's tmp_path sits under
    a 0700 directory of root's that 'nobody' cannot enter."""
    d = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    try:
        uid, gid, _, _ = service_account()
        os.chown(d, uid, gid)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def need(path_or_name, package):
    found = shutil.which(path_or_name) if "/" not in path_or_name else (
        path_or_name if os.access(path_or_name, os.X_OK) else None)
    if not found:
        pytest.skip("%s not installed (Debian package %s; `make deps` installs it)" %
                    (path_or_name, package))
    return found


# --------------------------------------------------------------- PostgreSQL


def postgres_bindir():
    """Debian's /usr/lib/postgresql/N/bin (the newest), else the PATH."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                  key=lambda p: int(re.search(r"/(\d+)/bin/", p).group(1)))
    if dirs:
        return os.path.dirname(dirs[-1])
    return os.path.dirname(need("postgres", "postgresql"))


def test_postgresql_reloads_a_rotated_certificate_on_sighup_without_a_failed_connection(
        env, world):
    bindir = postgres_bindir()
    for tool in ("initdb", "postgres", "psql"):
        need(os.path.join(bindir, tool), "postgresql")
    uid, gid, user, _ = service_account()
    port = free_port()
    pg = None
    with service_dir("certagent-pg-") as base:
        data, tls, pid_file = base / "data", base / "tls", base / "postgres.pid"
        tls.mkdir()
        # The key must be 0600 and owned by the server's user, or
        # PostgreSQL refuses to start: certagent (root here) chowns it.
        os.chown(tls, uid, gid)
        # initdb first: it is the slow part, and must not eat into the
        # certificate's 13 s.
        r = subprocess.run([os.path.join(bindir, "initdb"), "-D", str(data), "-U", "certagent",
                            "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                           capture_output=True, text=True, timeout=120, cwd=str(base),
                           **as_service())
        assert r.returncode == 0, r.stdout + r.stderr
        with open(data / "postgresql.conf", "a") as f:
            f.write(textwrap.dedent("""
                listen_addresses = '127.0.0.1'
                port = %d
                unix_socket_directories = ''
                ssl = on
                ssl_cert_file = '%s'
                ssl_key_file = '%s'
                external_pid_file = '%s'
                fsync = off
                max_connections = 20
                shared_buffers = 16MB
                """ % (port, tls / "fullchain.pem", tls / "server.key", pid_file)))
        # TLS only, from loopback.
        (data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 trust\n")

        # postmaster.pid holds more than the pid (data dir, port, ...):
        # the hook takes its first line.
        a = env.agent(agent_config(env, world, tls,
                                   "postgres: {signal: SIGHUP, pid_file: %s}"
                                   % (data / "postmaster.pid"),
                                   owner=user)).start()
        a.wait_for(ISSUED)
        st = os.stat(tls / "server.key")
        assert (st.st_uid, st.st_mode & 0o777) == (uid, 0o600)
        log_path = env.tmp / "postgres.log"
        log = open(log_path, "ab")
        try:
            pg = subprocess.Popen([os.path.join(bindir, "postgres"), "-D", str(data)],
                                  cwd=str(base), stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, **as_service())
            wait_pid_file("postgres", pid_file, pg, log_path)

            ca = tls / "ca.pem"
            conninfo = ("host=127.0.0.1 port=%d dbname=postgres user=certagent "
                        "sslmode=verify-full sslrootcert=%s connect_timeout=5" % (port, ca))

            def psql_select_1():
                r = subprocess.run([os.path.join(bindir, "psql"), "-X", "-At", "-c",
                                    "select 1", conninfo], capture_output=True, text=True,
                                   timeout=15, stdin=subprocess.DEVNULL)
                if r.returncode != 0 or r.stdout.strip() != "1":
                    raise AssertionError("psql exit %d: %s" % (r.returncode,
                                                              (r.stdout + r.stderr).strip()))
                return True

            # Until recovery is done, postgres answers "starting up".
            wait_until("psql connects", psql_select_1, timeout=30)
            rotate_under_load(a, "postgres", pg.pid,
                              lambda: served_serial(port, ca, starttls="postgres"),
                              psql_select_1)
            assert file_serial(tls / "server.crt") == served_serial(port, ca,
                                                                    starttls="postgres")
            assert pg.poll() is None, "postgres exited"
            assert a.stop() == 0
        finally:
            stop_process(pg, signal.SIGINT)   # fast shutdown
            log.close()


# -------------------------------------------------------------------- nginx


def test_nginx_with_client_certificates_reloads_a_rotated_certificate_without_a_failed_connection(
        env, world):
    nginx = need("nginx", "nginx")
    d = env.tmp / "tls"
    d.mkdir()
    prefix = env.tmp / "nginx"
    prefix.mkdir()
    pid_file = prefix / "nginx.pid"
    port = free_port()
    user = ""
    if os.geteuid() == 0:
        _, _, name, group = service_account()
        user = "user %s %s;" % (name, group)
    conf = prefix / "nginx.conf"
    conf.write_text(textwrap.dedent("""
        %(user)s
        daemon off;
        master_process on;
        worker_processes 2;
        pid %(p)s/nginx.pid;
        error_log %(p)s/error.log info;
        events { worker_connections 64; }
        http {
            access_log %(p)s/access.log;
            client_body_temp_path %(p)s/client_body;
            proxy_temp_path %(p)s/proxy;
            fastcgi_temp_path %(p)s/fastcgi;
            uwsgi_temp_path %(p)s/uwsgi;
            scgi_temp_path %(p)s/scgi;
            server {
                listen 127.0.0.1:%(port)d ssl;
                ssl_certificate %(d)s/fullchain.pem;
                ssl_certificate_key %(d)s/server.key;
                ssl_client_certificate %(d)s/ca.pem;
                ssl_verify_client on;
                ssl_verify_depth 2;
                location / {
                    default_type text/plain;
                    return 200 "client $ssl_client_verify $ssl_client_s_dn\\n";
                }
            }
        }
        """) % {"user": user, "p": prefix, "port": port, "d": d})
    a = env.agent(agent_config(env, world, d,
                               "nginx: {signal: SIGHUP, pid_file: %s}" % pid_file,
                               client=True)).start()
    a.wait_for(ISSUED)
    a.wait_for(r"client: issued serial")
    ca, client = d / "ca.pem", d / "client.pem"
    log = open(env.tmp / "nginx.log", "ab")
    srv = None
    try:
        r = subprocess.run([nginx, "-t", "-q", "-p", str(prefix), "-e", str(prefix / "error.log"),
                            "-c", str(conf)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        srv = subprocess.Popen([nginx, "-p", str(prefix), "-e", str(prefix / "error.log"),
                                "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT)
        wait_pid_file("nginx", pid_file, srv, prefix / "error.log")

        # Client certificates are enforced: none, and nginx answers 400.
        status, body, _ = wait_until("nginx answers", lambda: https_get(port, ca))
        assert status == 400 and "No required SSL certificate" in body, (status, body)

        def get():
            status, body, serial = https_get(port, ca, client)
            if status != 200 or body != "client SUCCESS CN=client.example.test\n":
                raise AssertionError("HTTP %d: %r" % (status, body))
            return serial

        first, new, load = rotate_under_load(a, "nginx", srv.pid,
                                             lambda: served_serial(port, ca, client), get)
        served = {s for _, s in load.ok}
        assert {first, new} <= served, "the loop saw serials %s" % served
        assert file_serial(d / "server.crt") == new
        assert srv.poll() is None, "nginx exited"
        assert a.stop() == 0
    finally:
        stop_process(srv)
        log.close()


# ------------------------------------------------- gunicorn + uvicorn workers

ASGI_APP = '''
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello from asgi\\n"})
'''


def test_gunicorn_with_uvicorn_workers_reloads_a_rotated_certificate_on_sighup(env, world):
    gunicorn = need("gunicorn", "gunicorn")
    r = subprocess.run(["/usr/bin/python3", "-c", "import uvicorn.workers"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip("uvicorn not importable by /usr/bin/python3 (Debian package "
                    "python3-uvicorn; `make deps` installs it): %s" % r.stderr.strip())
    d = env.tmp / "tls"
    d.mkdir()
    app_dir = env.tmp / "app"
    app_dir.mkdir()
    (app_dir / "asgi_app.py").write_text(ASGI_APP)
    pid_file = env.tmp / "gunicorn.pid"
    port = free_port()
    a = env.agent(agent_config(env, world, d,
                               "gunicorn: {signal: SIGHUP, pid_file: %s}" % pid_file,
                               client=True)).start()
    a.wait_for(ISSUED)
    a.wait_for(r"client: issued serial")
    ca, client = d / "ca.pem", d / "client.pem"
    log = open(env.tmp / "gunicorn.log", "ab")
    srv = None
    try:
        # As examples/uvicorn/agent.yaml runs it: mutual TLS, the master
        # SIGHUPed through its pid file starts new workers, which load the
        # new files, and retires the old ones gracefully.
        srv = subprocess.Popen([gunicorn, "-k", "uvicorn.workers.UvicornWorker", "-w", "2",
                                "--bind", "127.0.0.1:%d" % port,
                                "--certfile", str(d / "fullchain.pem"),
                                "--keyfile", str(d / "server.key"),
                                "--ca-certs", str(ca), "--cert-reqs", "2",
                                "--pid", str(pid_file), "--graceful-timeout", "10",
                                "--chdir", str(app_dir), "asgi_app:app"],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        wait_pid_file("gunicorn", pid_file, srv, env.tmp / "gunicorn.log")

        def get():
            status, body, serial = https_get(port, ca, client)
            if status != 200 or body != "hello from asgi\n":
                raise AssertionError("HTTP %d: %r" % (status, body))
            return serial

        wait_until("gunicorn answers", get, timeout=30)
        # --cert-reqs 2: a client without a certificate is refused.
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            https_get(port, ca)

        # On SIGHUP gunicorn starts new workers and stops the old ones;
        # uvicorn's worker can close a connection it has just accepted as
        # it exits (gunicorn's own behaviour, with any certificate
        # manager: seen in about one run of ten, one connection in ~500).
        first, new, load = rotate_under_load(a, "gunicorn", srv.pid,
                                             lambda: served_serial(port, ca, client), get,
                                             tolerate="RemoteDisconnected")
        served = {s for _, s in load.ok}
        assert {first, new} <= served, "the loop saw serials %s" % served
        assert file_serial(d / "server.crt") == new
        assert srv.poll() is None, "gunicorn exited"
        assert a.stop() == 0
    finally:
        stop_process(srv)
        log.close()
