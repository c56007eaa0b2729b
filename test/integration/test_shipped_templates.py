"""The templates shipped under templates/ and their examples/*/agent.yaml.

Each set is rendered by the real agent from vaultsim, straight from the
files in the repository (not copies), with its settings given through the
environment as an operator would, and checked with the openssl command
line: chain, key match, names, modes, one issuance per set.  Java checks
(the Kafka PEM stores, the .properties file) run when a JDK is installed.
"""

import datetime
import json
import os
import pathlib
import pwd
import re
import shutil
import socket
import ssl
import stat
import subprocess
import textwrap
import threading

import pytest

from conftest import BIN, ROOT
from test_certs import openssl, pubkey_of_cert, pubkey_of_key

TPL = ROOT / "templates"
EXAMPLES = ROOT / "examples"
SERVER_SETS = {
    "kafka": ["keystore.pem.tpl", "truststore.pem.tpl"],
    "postgresql": ["server.crt.tpl", "server.key.tpl", "root.crt.tpl"],
    "nginx": ["server.crt.tpl", "server.key.tpl", "client-ca.crt.tpl"],
    "uvicorn": ["cert.pem.tpl", "key.pem.tpl", "ca.pem.tpl"],
}

POLICY = """
    path "pki_int/issue/*" { capabilities = ["create", "update"] }
    path "secret/data/*" { capabilities = ["read"] }
"""

PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\n.*?\n-----END \1-----\n", re.S)


@pytest.fixture
def world(env):
    env.vs.policy("shipped", POLICY)
    env.vs.pki_role("server", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    env.vs.pki_role("kafka", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="rsa", key_bits=2048)
    env.vs.pki_role("client", allow_any_name=True, server_flag=False, client_flag=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    return env.approle_files(token_policies=["default", "shipped"])


def config(env, rid, sid, entries):
    """ENTRIES: (template path, destination, mode[, owner]) rendered with
    error_on_missing_key, so a template that leans on a missing key fails."""
    lines = ["templates:"]
    for src, dest, mode, *owner in entries:
        lines += ["  - source: %s" % src,
                  "    destination: %s" % dest,
                  '    mode: "%s"' % mode,
                  "    error_on_missing_key: true"]
        lines += ["    owner: %s" % o for o in owner]
    return env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false") + \
        "\n".join(lines) + "\n"


def render(env, world, entries, variables, name="agent"):
    """Run an agent over ENTRIES with VARIABLES in its environment and wait
    until every destination has been rendered."""
    rid, sid = world
    a = env.agent(config(env, rid, sid, entries), name=name).start(env=variables)
    for _src, dest, *_rest in entries:
        a.wait_for(r"rendered %s\b" % re.escape(str(dest)))
    return a


def pki_vars(issue, cn, alt="", ips="", ttl=""):
    # Every variable set (empty ones too), so the caller's environment
    # cannot leak into the test.
    return {"PKI_ISSUE_PATH": issue, "PKI_COMMON_NAME": cn, "PKI_ALT_NAMES": alt,
            "PKI_IP_SANS": ips, "PKI_TTL": ttl}


def blocks(path):
    """[(label, pem text)] of the PEM blocks in PATH, in order; nothing else
    may be in the file."""
    text = pathlib.Path(path).read_text()
    found = [(m.group(1), m.group(0)) for m in PEM_RE.finditer(text)]
    assert "".join(b for _l, b in found) == text, "stray text in %s:\n%s" % (path, text)
    return found


def split_to(d, path):
    """Write PATH's leaf certificate, its other certificates and its key to
    separate files in D; return (leaf, chain or None, key or None)."""
    certs = [b for label, b in blocks(path) if label == "CERTIFICATE"]
    keys = [b for label, b in blocks(path) if label.endswith("PRIVATE KEY")]
    base = pathlib.Path(path).name
    leaf = d / (base + ".leaf")
    leaf.write_text(certs[0])
    chain = None
    if len(certs) > 1:
        chain = d / (base + ".chain")
        chain.write_text("".join(certs[1:]))
    key = None
    if keys:
        key = d / (base + ".key")
        key.write_text(keys[0])
        os.chmod(key, 0o600)
    return leaf, chain, key


def assert_verifies(leaf, chain, cafile):
    args = ["verify", "-CAfile", str(cafile)]
    if chain:
        args += ["-untrusted", str(chain)]
    rc, out = openssl(*(args + [str(leaf)]))
    assert rc == 0 and ": OK" in out, out


def sans(cert):
    rc, out = openssl("x509", "-noout", "-ext", "subjectAltName", "-in", str(cert))
    assert rc == 0, out
    return out


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def issue_calls(vs):
    """Every issue request vaultsim saw, whatever its status."""
    return [r for r in vs.requests() if r["path"].startswith("/v1/pki_int/issue/")]


def assert_one_issuance(vs, role):
    calls = issue_calls(vs)
    assert [(r["path"], r["status"]) for r in calls] == \
        [("/v1/pki_int/issue/%s" % role, 200)], calls


def lifetime_seconds(cert):
    rc, out = openssl("x509", "-noout", "-startdate", "-enddate", "-in", str(cert))
    assert rc == 0, out
    got = dict(line.split("=", 1) for line in out.strip().splitlines())
    fmt = "%b %d %H:%M:%S %Y %Z"
    return (datetime.datetime.strptime(got["notAfter"], fmt) -
            datetime.datetime.strptime(got["notBefore"], fmt)).total_seconds()


def java(tmp, source, *args):
    """Run a single-file Java program; skip when no JDK is installed."""
    if shutil.which("java") is None:
        pytest.skip("no java")
    f = tmp / (re.search(r"public class (\w+)", source).group(1) + ".java")
    f.write_text(textwrap.dedent(source))
    r = subprocess.run(["java", str(f)] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


# Loads the PEM stores as Kafka's DefaultSslEngineFactory.PemStore does (an
# unencrypted PKCS#8 key, the certificates after it), then checks the chain
# with a trust manager built from the truststore, as a broker with
# ssl.client.auth=required checks a peer presenting that chain.
KAFKA_PEM_JAVA = r"""
    import java.io.ByteArrayInputStream;
    import java.nio.file.Files;
    import java.nio.file.Path;
    import java.security.KeyFactory;
    import java.security.KeyStore;
    import java.security.PrivateKey;
    import java.security.cert.Certificate;
    import java.security.cert.CertificateFactory;
    import java.security.cert.X509Certificate;
    import java.security.spec.PKCS8EncodedKeySpec;
    import java.util.Base64;
    import java.util.regex.Matcher;
    import java.util.regex.Pattern;
    import javax.net.ssl.KeyManagerFactory;
    import javax.net.ssl.TrustManagerFactory;
    import javax.net.ssl.X509TrustManager;

    public class KafkaPem {
        static final Pattern KEY = Pattern.compile(
            "-----BEGIN PRIVATE KEY-----\\s*([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
        static final Pattern CERT = Pattern.compile(
            "-----BEGIN CERTIFICATE-----\\s*([A-Za-z0-9+/=\\s]+)-----END CERTIFICATE-----");

        static Certificate[] certs(String pem) throws Exception {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            java.util.List<Certificate> out = new java.util.ArrayList<>();
            Matcher m = CERT.matcher(pem);
            while (m.find())
                out.add(cf.generateCertificate(new ByteArrayInputStream(
                    Base64.getMimeDecoder().decode(m.group(1)))));
            return out.toArray(new Certificate[0]);
        }

        public static void main(String[] a) throws Exception {
            String ks = Files.readString(Path.of(a[0]));
            String ts = Files.readString(Path.of(a[1]));
            Matcher m = KEY.matcher(ks);
            if (!m.find() || m.start() != 0)
                throw new Exception("the keystore does not start with a PKCS#8 key");
            byte[] der = Base64.getMimeDecoder().decode(m.group(1));
            PrivateKey key = KeyFactory.getInstance(a[2])
                .generatePrivate(new PKCS8EncodedKeySpec(der));
            Certificate[] chain = certs(ks);
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("kafka", key, new char[0], chain);
            KeyManagerFactory.getInstance("SunX509").init(store, new char[0]);
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            Certificate[] cas = certs(ts);
            for (int i = 0; i < cas.length; i++)
                trust.setCertificateEntry("ca" + i, cas[i]);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(trust);
            X509Certificate[] x = new X509Certificate[chain.length];
            for (int i = 0; i < chain.length; i++)
                x[i] = (X509Certificate) chain[i];
            ((X509TrustManager) tmf.getTrustManagers()[0]).checkClientTrusted(x, a[2]);
            System.out.println("ok " + chain.length + " certificates, " + cas.length + " CAs");
        }
    }
"""

# Properties.load of the rendered file, printed back as JSON.
PROPS_JAVA = r"""
    import java.io.FileReader;
    import java.util.Properties;
    import java.util.TreeSet;

    public class Props {
        static String q(String s) {
            StringBuilder b = new StringBuilder("\"");
            for (char c : s.toCharArray()) {
                if (c == '"' || c == '\\') b.append('\\').append(c);
                else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                else b.append(c);
            }
            return b.append('"').toString();
        }

        public static void main(String[] a) throws Exception {
            Properties p = new Properties();
            try (FileReader r = new FileReader(a[0], java.nio.charset.StandardCharsets.UTF_8)) {
                p.load(r);
            }
            StringBuilder out = new StringBuilder("{");
            for (String k : new TreeSet<>(p.stringPropertyNames())) {
                if (out.length() > 1) out.append(',');
                out.append(q(k)).append(':').append(q(p.getProperty(k)));
            }
            System.out.println(out.append('}'));
        }
    }
"""


def test_kafka_keystore_is_pkcs8_key_then_chain_from_one_issuance(env, world):
    d = env.tmp / "kafka"
    d.mkdir()
    src = TPL / "kafka"
    entries = [(src / "keystore.pem.tpl", d / "keystore.pem", "0600"),
               (src / "truststore.pem.tpl", d / "truststore.pem", "0644"),
               (src / "ssl.properties.tpl", d / "ssl.properties", "0644")]
    variables = pki_vars("pki_int/issue/kafka", "kafka-1.example.test",
                         alt="kafka-1.example.test,localhost", ips="127.0.0.1", ttl="30m")
    variables["KAFKA_SSL_DIR"] = str(d)
    a = render(env, world, entries, variables)

    # The key (PKCS#8, unencrypted) first, then the leaf and its chain.
    labels = [label for label, _b in blocks(d / "keystore.pem")]
    assert labels[0] == "PRIVATE KEY", labels
    assert labels[1:] == ["CERTIFICATE"] * (len(labels) - 1) and len(labels) >= 3, labels
    work = env.tmp / "split"
    work.mkdir()
    leaf, chain, key = split_to(work, d / "keystore.pem")
    assert pubkey_of_cert(leaf) == pubkey_of_key(key)
    assert pubkey_of_cert(d / "keystore.pem") == pubkey_of_key(d / "keystore.pem")
    # The truststore is the chain of the keystore: the same CAs.
    assert [label for label, _b in blocks(d / "truststore.pem")] == \
        ["CERTIFICATE"] * (len(labels) - 2)
    assert (d / "truststore.pem").read_text() == chain.read_text()
    assert_verifies(leaf, chain, env.vs.pki_root)
    assert_verifies(leaf, chain, d / "truststore.pem")
    names = sans(leaf)
    for want in ("DNS:kafka-1.example.test", "DNS:localhost", "IP Address:127.0.0.1"):
        assert want in names, names
    assert lifetime_seconds(leaf) <= 31 * 60, "PKI_TTL=30m not passed to Vault"
    assert mode_of(d / "keystore.pem") == 0o600
    assert (d / "ssl.properties").read_text() == (
        "ssl.keystore.type=PEM\n"
        "ssl.keystore.location=%(d)s/keystore.pem\n"
        "ssl.truststore.type=PEM\n"
        "ssl.truststore.location=%(d)s/truststore.pem\n"
        "ssl.client.auth=required\n" % {"d": d})
    assert_one_issuance(env.vs, "kafka")
    assert a.stop() == 0
    out = java(env.tmp, KAFKA_PEM_JAVA, d / "keystore.pem", d / "truststore.pem", "RSA")
    assert out.startswith("ok "), out


def test_postgresql_set_is_a_verified_cert_key_and_ca_from_one_issuance(env, world):
    d = env.tmp / "pg"
    d.mkdir()
    owner = "postgres"
    try:
        uid = pwd.getpwnam(owner).pw_uid
    except KeyError:
        uid = None
    if os.geteuid() != 0 or uid is None:
        owner, uid = pwd.getpwuid(os.geteuid()).pw_name, os.geteuid()
    src = TPL / "postgresql"
    entries = [(src / "server.crt.tpl", d / "server.crt", "0644"),
               (src / "server.key.tpl", d / "server.key", "0600", owner),
               (src / "root.crt.tpl", d / "root.crt", "0644")]
    a = render(env, world, entries, pki_vars("pki_int/issue/server", "db-1.example.test",
                                             alt="db.example.test", ips="127.0.0.1"))

    # server.crt: the leaf, then the chain; root.crt: that chain.
    leaf, chain, _ = split_to(env.tmp, d / "server.crt")
    assert chain is not None and chain.read_text() == (d / "root.crt").read_text()
    assert_verifies(leaf, chain, env.vs.pki_root)
    assert_verifies(leaf, chain, d / "root.crt")
    assert [label for label, _b in blocks(d / "server.key")] == ["PRIVATE KEY"]
    assert pubkey_of_cert(d / "server.crt") == pubkey_of_key(d / "server.key")
    names = sans(leaf)
    for want in ("DNS:db-1.example.test", "DNS:db.example.test", "IP Address:127.0.0.1"):
        assert want in names, names
    assert mode_of(d / "server.key") == 0o600
    assert os.stat(d / "server.key").st_uid == uid
    assert mode_of(d / "server.crt") == 0o644
    assert_one_issuance(env.vs, "server")
    assert a.stop() == 0


def test_nginx_set_is_a_chained_cert_its_key_and_the_client_ca_from_one_issuance(env, world):
    d = env.tmp / "nginx"
    d.mkdir()
    src = TPL / "nginx"
    entries = [(src / "server.crt.tpl", d / "server.crt", "0644"),
               (src / "server.key.tpl", d / "server.key", "0600"),
               (src / "client-ca.crt.tpl", d / "client-ca.crt", "0644")]
    a = render(env, world, entries, pki_vars("pki_int/issue/server", "www.example.test",
                                             alt="www.example.test,static.example.test",
                                             ips="127.0.0.1,::1", ttl="20m"))
    leaf, chain, _ = split_to(env.tmp, d / "server.crt")
    rc, out = openssl("x509", "-noout", "-subject", "-in", str(leaf))
    assert "CN = www.example.test" in out or "CN=www.example.test" in out, out
    assert chain.read_text() == (d / "client-ca.crt").read_text()
    assert_verifies(leaf, chain, env.vs.pki_root)
    assert_verifies(leaf, chain, d / "client-ca.crt")
    assert pubkey_of_cert(d / "server.crt") == pubkey_of_key(d / "server.key")
    names = sans(leaf)
    for want in ("DNS:www.example.test", "DNS:static.example.test",
                 "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"):
        assert want in names, names
    assert lifetime_seconds(leaf) <= 21 * 60
    assert mode_of(d / "server.key") == 0o600
    assert_one_issuance(env.vs, "server")
    assert a.stop() == 0
    # The snippet names the files these templates make.
    conf = (EXAMPLES / "nginx" / "nginx-tls.conf").read_text()
    for directive, name in (("ssl_certificate", "server.crt"),
                            ("ssl_certificate_key", "server.key"),
                            ("ssl_client_certificate", "client-ca.crt")):
        assert re.search(r"^\s*%s\s+\S*/%s;" % (directive, re.escape(name)), conf, re.M), \
            directive
    assert re.search(r"^\s*ssl_verify_client\s+on;", conf, re.M)


def test_uvicorn_set_is_a_verified_cert_key_and_ca_from_one_issuance(env, world):
    d = env.tmp / "app"
    d.mkdir()
    src = TPL / "uvicorn"
    entries = [(src / "cert.pem.tpl", d / "cert.pem", "0644"),
               (src / "key.pem.tpl", d / "key.pem", "0600"),
               (src / "ca.pem.tpl", d / "ca.pem", "0644")]
    a = render(env, world, entries, pki_vars("pki_int/issue/server", "api.example.test",
                                             alt="localhost", ips="127.0.0.1"))
    leaf, chain, _ = split_to(env.tmp, d / "cert.pem")
    assert chain.read_text() == (d / "ca.pem").read_text()
    assert_verifies(leaf, chain, env.vs.pki_root)
    assert_verifies(leaf, chain, d / "ca.pem")
    assert pubkey_of_cert(d / "cert.pem") == pubkey_of_key(d / "key.pem")
    names = sans(leaf)
    for want in ("DNS:api.example.test", "DNS:localhost", "IP Address:127.0.0.1"):
        assert want in names, names
    assert mode_of(d / "key.pem") == 0o600
    # What gunicorn does with --certfile/--keyfile/--ca-certs/--cert-reqs 2.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(d / "cert.pem"), str(d / "key.pem"))
    ctx.load_verify_locations(str(d / "ca.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    assert_one_issuance(env.vs, "server")
    assert a.stop() == 0


def test_mtls_client_bundle_is_cert_chain_then_key_for_the_client_cn(env, world):
    d = env.tmp / "client"
    d.mkdir()
    dest = d / "client.pem"
    a = render(env, world, [(TPL / "mtls-client" / "client.pem.tpl", dest, "0600")],
               {"CLIENT_ISSUE_PATH": "pki_int/issue/client",
                "CLIENT_COMMON_NAME": "billing-worker", "CLIENT_ALT_NAMES": "",
                "CLIENT_TTL": "15m", "PKI_ISSUE_PATH": ""})
    labels = [label for label, _b in blocks(dest)]
    assert labels[-1] == "PRIVATE KEY" and labels[:-1] == ["CERTIFICATE"] * (len(labels) - 1)
    assert len(labels) >= 3, labels
    leaf, chain, key = split_to(env.tmp, dest)
    assert pubkey_of_cert(leaf) == pubkey_of_key(key)
    assert_verifies(leaf, chain, env.vs.pki_root)
    rc, out = openssl("x509", "-noout", "-subject", "-ext", "extendedKeyUsage",
                      "-in", str(leaf))
    assert re.search(r"CN ?= ?billing-worker", out), out
    assert "TLS Web Client Authentication" in out, out
    assert "DNS:billing-worker" in sans(leaf)
    assert lifetime_seconds(leaf) <= 16 * 60
    assert mode_of(dest) == 0o600
    assert_one_issuance(env.vs, "client")
    assert a.stop() == 0


def _handshake(server_ctx, client_ctx, server_name):
    """One TLS handshake over a socket pair; returns (server error, client
    error, peer certificate seen by the server)."""
    s_sock, c_sock = socket.socketpair()
    result = {}

    def serve():
        try:
            with server_ctx.wrap_socket(s_sock, server_side=True) as t:
                result["peer"] = t.getpeercert()
                t.sendall(b"x")
        except (ssl.SSLError, OSError) as e:
            result["server"] = e

    th = threading.Thread(target=serve)
    th.start()
    client_err = None
    try:
        with client_ctx.wrap_socket(c_sock, server_hostname=server_name) as t:
            t.recv(1)
    except (ssl.SSLError, OSError) as e:
        client_err = e
    th.join(10)
    s_sock.close()
    c_sock.close()
    return result.get("server"), client_err, result.get("peer")


def test_uvicorn_server_and_mtls_client_from_one_agent_complete_a_handshake(env, world):
    d = env.tmp / "both"
    d.mkdir()
    entries = [(TPL / "uvicorn" / "cert.pem.tpl", d / "cert.pem", "0644"),
               (TPL / "uvicorn" / "key.pem.tpl", d / "key.pem", "0600"),
               (TPL / "uvicorn" / "ca.pem.tpl", d / "ca.pem", "0644"),
               (TPL / "mtls-client" / "client.pem.tpl", d / "client.pem", "0600")]
    variables = pki_vars("pki_int/issue/server", "api.example.test")
    variables.update({"CLIENT_ISSUE_PATH": "pki_int/issue/client",
                      "CLIENT_COMMON_NAME": "billing-worker", "CLIENT_ALT_NAMES": "",
                      "CLIENT_TTL": ""})
    a = render(env, world, entries, variables)
    # The server set and the client are two identities: two issuances.
    calls = sorted((r["path"], r["status"]) for r in issue_calls(env.vs))
    assert calls == [("/v1/pki_int/issue/client", 200), ("/v1/pki_int/issue/server", 200)]
    assert pubkey_of_cert(d / "cert.pem") != pubkey_of_cert(d / "client.pem")

    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)   # gunicorn --cert-reqs 2
    server.load_cert_chain(str(d / "cert.pem"), str(d / "key.pem"))
    server.load_verify_locations(str(d / "ca.pem"))
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(env.vs.pki_root)
    client.load_cert_chain(str(d / "client.pem"))       # cert, chain and key in one
    s_err, c_err, peer = _handshake(server, client, "api.example.test")
    assert s_err is None and c_err is None, (s_err, c_err)
    assert ((("commonName", "billing-worker"),),) == \
        tuple(x for x in peer["subject"] if x[0][0] == "commonName")

    # Without a client certificate the same server refuses the client.
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.load_verify_locations(env.vs.pki_root)
    s_err, c_err, _ = _handshake(server, anonymous, "api.example.test")
    assert s_err is not None, "a client without a certificate was accepted"
    assert a.stop() == 0


def test_kv_env_and_properties_hold_exactly_the_secret_from_one_read(env, world):
    secret = {
        "DB_USER": "app",
        "DB_PASSWORD": "s3cr=t:with\\back#slash!",
        "DB_URL": "jdbc:postgresql://db.example.test:5432/app?ssl=true",
        "PORT": 5432,
        "a key": "two words",
    }
    env.vs.kv_put("billing", secret)
    env.secrets.update({"s3cr=t:with\\back#slash!"})
    d = env.tmp / "conf"
    d.mkdir()
    entries = [(TPL / "kv" / "app.env.tpl", d / "app.env", "0640"),
               (TPL / "kv" / "app.properties.tpl", d / "app.properties", "0600")]
    a = render(env, world, entries, {"KV_PATH": "secret/data/billing"})
    # Sorted by key in byte order, as Go ranges over a map.
    assert (d / "app.env").read_text() == (
        "DB_PASSWORD=s3cr=t:with\\back#slash!\n"
        "DB_URL=jdbc:postgresql://db.example.test:5432/app?ssl=true\n"
        "DB_USER=app\n"
        "PORT=5432\n"
        "a key=two words\n")
    assert (d / "app.properties").read_text() == (
        "DB_PASSWORD=s3cr\\=t\\:with\\\\back\\#slash\\!\n"
        "DB_URL=jdbc\\:postgresql\\://db.example.test\\:5432/app?ssl\\=true\n"
        "DB_USER=app\n"
        "PORT=5432\n"
        "a\\ key=two words\n")
    assert mode_of(d / "app.env") == 0o640
    assert mode_of(d / "app.properties") == 0o600
    reads = [r for r in env.vs.requests()
             if r["path"] == "/v1/secret/data/billing" and r["method"] == "GET"]
    assert [r["status"] for r in reads] == [200], reads
    assert a.stop() == 0
    # java.util.Properties reads back exactly the secret.
    out = java(env.tmp, PROPS_JAVA, d / "app.properties")
    assert json.loads(out) == {k: str(v) for k, v in secret.items()}


def test_an_unset_issue_path_fails_every_file_of_the_set_and_writes_nothing(env, world):
    d = env.tmp / "nginx"
    d.mkdir()
    src = TPL / "nginx"
    entries = [(src / n, d / n[:-4], "0600") for n in SERVER_SETS["nginx"]]
    rid, sid = world
    a = env.agent(config(env, rid, sid, entries)).start(
        env=pki_vars("", "www.example.test"))
    for n in SERVER_SETS["nginx"]:
        a.wait_for(r"%s:\d+:\d+: .*empty path; %s kept as it was" % (
            re.escape(str(src / n)), re.escape(str(d / n[:-4]))))
    assert list(d.iterdir()) == []
    assert issue_calls(env.vs) == []
    assert a.stop() == 0


def _issue_call(path):
    """The lines that build and make the issue call, up to `with secret`."""
    lines = path.read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("{{- $issue"))
    end = next(i for i, l in enumerate(lines) if l.startswith("{{- with secret"))
    return lines[start:end + 1]


def test_every_certificate_template_makes_the_identical_issue_call():
    calls = {}
    for name, files in SERVER_SETS.items():
        for f in files:
            calls["%s/%s" % (name, f)] = _issue_call(TPL / name / f)
    first = next(iter(calls.values()))
    assert "private_key_format=pkcs8" in first[-1]
    different = [k for k, v in calls.items() if v != first]
    assert not different, "issue call differs in %s" % different


def test_each_template_opens_with_a_comment_naming_every_variable_it_reads():
    templates = sorted(TPL.glob("*/*.tpl"))
    assert {p.parent.name for p in templates} == \
        {"kafka", "postgresql", "nginx", "uvicorn", "mtls-client", "kv"}
    for p in templates:
        text = p.read_text()
        assert text.startswith("{{- /*\n"), p
        comment, body = text.split("*/ -}}\n", 1)
        used = set(re.findall(r'env "([A-Z_]+)"', body))
        assert used, p
        for var in used:
            assert re.search(r"^\s+%s\s+(required|optional)\b" % var, comment, re.M), \
                "%s: %s not documented as required/optional" % (p, var)


def test_every_example_config_passes_check_and_names_shipped_templates():
    examples = sorted(p for p in EXAMPLES.glob("*/agent.yaml") if p.parent.name != "demo")
    assert {p.parent.name for p in examples} == \
        {"kafka", "postgresql", "nginx", "uvicorn", "mtls-client", "kv",
         "self-renewing-identity"}
    env = dict(os.environ, CERTAGENT_TEMPLATES=str(TPL), AGENT_HOST="web-1.example.com")
    for p in examples:
        r = subprocess.run([BIN, "check", "-c", str(p)], capture_output=True, text=True,
                           env=env, timeout=30)
        assert r.returncode == 0, (p, r.stdout + r.stderr)
        assert "note:" not in r.stdout, (p, r.stdout)
        sources = re.findall(r"source: \$\{CERTAGENT_TEMPLATES:-[^}]*\}/(\S+)", p.read_text())
        assert sources or "templates:" not in p.read_text(), p
        for s in sources:
            assert (TPL / s).is_file(), "%s names %s" % (p, s)


@pytest.mark.parametrize("tset,files,role,cn", [
    ("kafka", ["keystore.pem.tpl", "truststore.pem.tpl"], "kafka", "kafka-1.example.test"),
    ("postgresql", ["server.crt.tpl", "server.key.tpl", "root.crt.tpl"], "server",
     "db-1.example.test"),
    ("nginx", ["server.crt.tpl", "server.key.tpl", "client-ca.crt.tpl"], "server",
     "web-1.example.test"),
    ("uvicorn", ["cert.pem.tpl", "key.pem.tpl", "ca.pem.tpl"], "server",
     "api-1.example.test"),
])
def test_a_restart_keeps_the_rendered_certificate_and_issues_nothing(env, world, tset,
                                                                    files, role, cn):
    """The certificate, its key and its chain are read back from the files
    the set rendered (split over several templates), so a restart neither
    issues nor writes: Vault Agent issues again here (vault#10676)."""
    d = env.tmp / tset
    d.mkdir()
    entries = [(TPL / tset / f, d / f[:-4], "0600") for f in files]
    variables = pki_vars("pki_int/issue/%s" % role, cn, alt=cn, ips="127.0.0.1")
    variables["KAFKA_SSL_DIR"] = str(d)
    a = render(env, world, entries, variables)
    assert a.stop() == 0
    before = {e[1]: (os.stat(e[1]).st_ino, e[1].read_bytes()) for e in entries}

    b = env.agent(config(env, *world, entries), name="again").start(env=variables)
    b.wait_for(r"certs: (\S+): secret pki_int/issue/%s for the templates" % role)
    name = re.search(r"certs: (\S+): secret pki_int/issue/%s for the templates" % role,
                     b.log()).group(1)
    b.wait_for(r"certs: %s: kept the certificate on disk, serial" % re.escape(name))
    for _src, dest, *_rest in entries:
        b.wait_for(r"%s unchanged" % re.escape(str(dest)))
    assert b.stop() == 0
    assert_one_issuance(env.vs, role)
    for dest, (ino, data) in before.items():
        assert os.stat(dest).st_ino == ino and dest.read_bytes() == data
