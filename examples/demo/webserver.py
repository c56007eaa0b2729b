#!/usr/bin/python3
"""The demo's application: a tiny HTTPS server that reloads its certificate
on SIGHUP, as nginx and PostgreSQL do.

    webserver.py --port PORT --cert web.crt --key web.key [--chain chain.pem]
                 --pid-file web.pid

Python stdlib only (ssl + http.server).  It writes its pid file once it
can take SIGHUP, serves https://127.0.0.1:PORT/ with the certificate
certagent wrote (plus the chain, so that a client trusting only the root
can verify it), and on SIGHUP loads the files again into a new SSLContext:
connections accepted afterwards get the new certificate, connections
already open keep theirs.  A reload that fails (a file missing, a key
that does not match) keeps the old context and says why.  SIGTERM and
SIGINT stop it and remove the pid file; so does the death of its parent.
"""

import argparse
import http.server
import os
import signal
import socketserver
import ssl
import sys
import tempfile


def say(msg):
    print("web server: %s" % msg, flush=True)


def colon_hex(serial):
    """'3F0A..' (as getpeercert() and ssl show it) -> '3f:0a:..' (as Vault)."""
    s = serial.lower()
    if len(s) % 2:
        s = "0" + s
    return ":".join(s[i:i + 2] for i in range(0, len(s), 2))


def cert_facts(path):
    """(serial, notAfter) of the first certificate in PATH, stdlib only.

    ssl._ssl._test_decode_cert is what getpeercert() uses on the wire; it
    is private, so fall back to '?' if a Python lacks it."""
    try:
        d = ssl._ssl._test_decode_cert(path)
        return colon_hex(d["serialNumber"]), d["notAfter"]
    except Exception:  # noqa: BLE001 - a demo; the serial is only shown
        return "?", "?"


def load_context(cert, key, chain):
    """A new server SSLContext with the files as they are now on disk."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if chain:
        # load_cert_chain wants the leaf and its intermediates in one file.
        with tempfile.NamedTemporaryFile("w", prefix="demo-web-", suffix=".pem") as f:
            with open(cert) as a, open(chain) as b:
                f.write(a.read().rstrip("\n") + "\n" + b.read())
            f.flush()
            ctx.load_cert_chain(f.name, key)
    else:
        ctx.load_cert_chain(cert, key)
    return ctx


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        body = ("hello from the certagent demo; serving certificate serial %s\n"
                % self.server.serial).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass    # the demo probes every few seconds; keep the output readable


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, addr, files, parent):
        self.files = files
        self.parent = parent
        self.ctx = load_context(*files)
        self.serial, self.not_after = cert_facts(files[0])
        super().__init__(addr, Handler)

    def reload(self):
        try:
            ctx = load_context(*self.files)
        except (OSError, ssl.SSLError) as e:
            say("reload failed, still serving serial %s: %s" % (self.serial, e))
            return
        serial, not_after = cert_facts(self.files[0])
        self.ctx = ctx
        if serial == self.serial:
            say("SIGHUP: reloaded; certificate unchanged (serial %s)" % serial)
        else:
            say("reloaded certificate serial %s (expires %s)" % (serial, not_after))
        self.serial, self.not_after = serial, not_after

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's own thread,
        # with the context current at accept time.
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass    # a client that hangs up mid-request is not news here

    def service_actions(self):
        # Called by serve_forever about twice a second: if the demo that
        # started us is gone, go too (no orphan server).
        if self.parent and os.getppid() != self.parent:
            raise SystemExit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--chain")
    ap.add_argument("--pid-file", required=True)
    args = ap.parse_args()

    holder = []

    def on_hup(_sig, _frame):
        if holder:              # before the server exists, the first load
            holder[0].reload()  # below reads the files as they are anyway

    def on_stop(_sig, _frame):
        # Once: Ctrl-C's SIGINT and the demo's SIGTERM may both come.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise SystemExit(0)

    # Handlers first, pid file second: a SIGHUP sent as soon as the pid is
    # readable must not meet Python's default action (terminate).
    parent = os.getppid()
    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    tmp = args.pid_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, args.pid_file)
    try:
        server = Server((args.host, args.port), (args.cert, args.key, args.chain), parent)
    except BaseException:
        os.unlink(args.pid_file)
        raise
    holder.append(server)
    say("pid %d, https://%s:%d/, certificate serial %s (expires %s)" % (
        os.getpid(), args.host, args.port, server.serial, server.not_after))
    try:
        server.serve_forever(poll_interval=0.5)
    except SystemExit:
        pass
    finally:
        try:
            os.unlink(args.pid_file)
        except FileNotFoundError:
            pass
        server.server_close()
        say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
