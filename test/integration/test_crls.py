"""crls: revocation lists kept current for servers that check them.

A certificate revoked at vaultsim is in the CRL file certagent writes
after its next read (`openssl crl -text` lists its serial), and nginx,
started here with ssl_verify_client on and ssl_crl pointing at that file
(reloaded by certagent's signal hook), refuses a client presenting that
certificate while it accepts a client whose certificate is not revoked.
nginx checks the CRLs of the whole chain, so the file holds pki_int's
CRL and the root's; the CA file nginx trusts is a trust bundle of the
same agent.  A CRL that does not verify with the mount's CA never
replaces the file.  Every wait is for a condition.
"""

import os
import re
import subprocess
import textwrap

import pytest

from test_servers import (free_port, https_get, need, service_account, stop_process,
                          wait_pid_file, wait_until)


def crl_text(path):
    r = subprocess.run(["openssl", "crl", "-noout", "-text", "-in", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def crl_count(path):
    try:
        return path.read_text().count("-----BEGIN X509 CRL-----")
    except FileNotFoundError:
        return 0


def serial_hex(serial_colon):
    """Vault's 'aa:bb:..' as openssl crl -text prints it: upper-case hex."""
    return serial_colon.replace(":", "").upper().lstrip("0")


def revoked_serials(path):
    """Every serial of every CRL in PATH, as upper-case hex without colons."""
    out = set()
    text = path.read_text()
    for block in re.findall(r"-----BEGIN X509 CRL-----.*?-----END X509 CRL-----", text, re.S):
        r = subprocess.run(["openssl", "crl", "-noout", "-text"], input=block,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        out |= {m.upper().lstrip("0") for m in
                re.findall(r"Serial Number: ([0-9A-Fa-f]+)", r.stdout)}
    return out


@pytest.fixture
def world(env):
    env.vs.policy("servers", 'path "pki_int/issue/*" { capabilities = ["create", "update"] }')
    env.vs.pki_role("server", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    env.vs.pki_role("client", allow_any_name=True, server_flag=False, client_flag=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    return env.approle_files(token_policies=["default", "servers"])


def client_pem(env, name):
    st, body = env.vs.api("POST", "pki_int/issue/client",
                          {"common_name": "%s.example.test" % name, "ttl": "30m"})
    assert st == 200, body
    d = body["data"]
    p = env.tmp / ("%s.pem" % name)
    p.write_text(d["certificate"] + "\n" + d["issuing_ca"] + "\n" + d["private_key"] + "\n")
    os.chmod(p, 0o600)
    env.secrets.add(d["private_key"])
    return p, d["serial_number"]


def agent_text(env, world, d, hook, refresh="1s"):
    rid, sid = world
    text = env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false")
    text += textwrap.dedent("""
        hooks:
          %(hook)s
        certificates:
          - name: server
            path: pki_int/issue/server
            common_name: server.example.test
            ip_sans: [127.0.0.1]
            ttl: 30m
            files:
              key: {path: %(d)s/server.key}
              bundle: {path: %(d)s/fullchain.pem, parts: [cert, chain]}
        trust_bundles:
          - name: clients-ca
            sources: [{pki: pki_int}, {pki: pki}]
            files: {pem: {path: %(d)s/ca.pem}}
        crls:
          - name: clients
            sources: [{pki: pki_int}, {pki: pki}]
            refresh: %(refresh)s
            files: {pem: {path: %(d)s/crl.pem, mode: "0644"}}
            on_change: [%(name)s]
            wait: {min: 50ms, max: 200ms}
        """) % {"d": d, "hook": hook, "name": hook.split(":")[0], "refresh": refresh}
    return text


def test_a_revoked_serial_appears_in_the_crl_after_the_next_read(env, world):
    d = env.tmp / "tls"
    d.mkdir()
    crl = d / "crl.pem"
    a = env.agent(agent_text(env, world, d, "touch: {command: [sh, -c, 'echo x >> %s/hook.log']}"
                             % d)).start()
    wait_until("both CRLs", lambda: crl_count(crl) == 2)
    wait_until("the first hook run", lambda: (d / "hook.log").exists())
    _, serial = client_pem(env, "bad")
    assert serial_hex(serial) not in revoked_serials(crl)
    # Reads that bring the same CRLs change nothing and run no hook.
    n = a.count(r"crl clients: up to date")
    a.wait_for(r"crl clients: up to date", count=n + 3)
    runs = (d / "hook.log").read_text().count("x")
    assert runs == 1
    st, body = env.vs.api("POST", "pki_int/revoke", {"serial_number": serial})
    assert st == 200, body
    wait_until("the serial in the CRL", lambda: serial_hex(serial) in revoked_serials(crl))
    # The first CRL of the file is pki_int's: openssl crl -text lists the serial.
    text = crl_text(crl)
    assert "Issuer: CN = vaultsim Intermediate CA" in text, text
    assert serial_hex(serial) in {m.upper().lstrip("0") for m in
                                  re.findall(r"Serial Number: ([0-9A-Fa-f]+)", text)}, text
    wait_until("the hook ran for the change",
               lambda: (d / "hook.log").exists() and
               (d / "hook.log").read_text().count("x") > runs)
    assert a.stop() == 0


def test_a_crl_that_does_not_verify_with_the_ca_is_not_written(env, world):
    d = env.tmp / "tls"
    d.mkdir()
    crl = d / "crl.pem"
    a = env.agent(agent_text(env, world, d, "touch: {command: [true]}")).start()
    wait_until("both CRLs", lambda: crl_count(crl) == 2)
    before = crl.read_bytes()
    # pki_int's CA chain now answers with the root only: its CRL cannot verify.
    env.vs.fault(path_prefix="/v1/pki_int/ca_chain", status=200, count=-1,
                 body=open(env.vs.pki_root).read())
    a.wait_for(r"crl clients: pki_int/crl/pem: CRL of .*issued by no certificate of the CA")
    assert crl.read_bytes() == before
    assert a.stop() == 0


def test_nginx_with_ssl_crl_refuses_a_revoked_client_and_accepts_a_valid_one(env, world):
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
        worker_processes 1;
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
                ssl_crl %(d)s/crl.pem;
                location / {
                    default_type text/plain;
                    return 200 "client $ssl_client_verify $ssl_client_s_dn\\n";
                }
            }
        }
        """) % {"user": user, "p": prefix, "port": port, "d": d})
    a = env.agent(agent_text(env, world, d,
                             "nginx: {signal: SIGHUP, pid_file: %s}" % pid_file)).start()
    a.wait_for(r"server: issued serial")
    wait_until("the CA bundle and both CRLs",
               lambda: crl_count(d / "crl.pem") == 2 and (d / "ca.pem").exists())
    good, _ = client_pem(env, "good")
    bad, bad_serial = client_pem(env, "bad")
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
        ca = d / "ca.pem"

        # Before the revocation both clients are in.
        status, body, _ = wait_until("nginx answers", lambda: https_get(port, ca, good))
        assert status == 200 and body == "client SUCCESS CN=good.example.test\n", body
        status, body, _ = https_get(port, ca, bad)
        assert status == 200 and body == "client SUCCESS CN=bad.example.test\n", body

        st, resp = env.vs.api("POST", "pki_int/revoke", {"serial_number": bad_serial})
        assert st == 200, resp
        wait_until("the serial in the CRL",
                   lambda: serial_hex(bad_serial) in revoked_serials(d / "crl.pem"))

        # nginx reloads (the hook) and refuses the revoked client.
        def refused():
            status, body, _ = https_get(port, ca, bad)
            return status == 400 and "certificate" in body.lower() and body
        body = wait_until("nginx refuses the revoked client", refused, timeout=30)
        assert "The SSL certificate error" in body, body
        status, body, _ = https_get(port, ca, good)
        assert status == 200 and body == "client SUCCESS CN=good.example.test\n", body
        assert srv.poll() is None, "nginx exited"
        assert a.stop() == 0
    finally:
        stop_process(srv)
        log.close()


def test_a_delta_crl_is_appended_where_the_server_builds_one(env, world):
    d = env.tmp / "tls"
    d.mkdir()
    crl = d / "crl.pem"
    st, body = env.vs.api("POST", "pki_int/config/crl", {"enable_delta": True,
                                                         "auto_rebuild": True})
    assert st == 200, body
    a = env.agent(agent_text(env, world, d, "touch: {command: [true]}")).start()
    # pki_int: its CRL and its delta CRL; pki (no delta): its CRL alone.
    wait_until("three CRLs", lambda: crl_count(crl) == 3)
    blocks = re.findall(r"-----BEGIN X509 CRL-----.*?-----END X509 CRL-----",
                        crl.read_text(), re.S)
    texts = [subprocess.run(["openssl", "crl", "-noout", "-text"], input=b,
                            capture_output=True, text=True, timeout=30).stdout
             for b in blocks]
    assert "Delta CRL Indicator" in texts[1] and "Intermediate" in texts[1], texts[1]
    assert "Delta CRL Indicator" not in texts[0] + texts[2]
    # The delta is the server's stored one: the same bytes on every read.
    before = crl.read_bytes()
    n = a.count(r"crl clients: up to date")
    a.wait_for(r"crl clients: up to date", count=n + 2)
    assert crl.read_bytes() == before
    assert a.stop() == 0
