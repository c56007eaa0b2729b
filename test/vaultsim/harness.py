"""Test harness for vaultsim: start it, talk to it, set things up.

    import sys; sys.path.insert(0, "<repo>/test/vaultsim")
    from harness import Vaultsim

    with Vaultsim(tmp_path) as vs:
        role_id, secret_id = vs.approle("app", token_policies=["app"])
        st, body = vs.api("GET", "sys/health")

Stdlib only (plus python3-cryptography for client_cert()). See README.md.
"""

import datetime
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
VAULTSIM = os.path.join(HERE, "vaultsim.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

ROOT = object()   # sentinel: use the root token


class VaultsimError(Exception):
    pass


class Vaultsim:
    """A running vaultsim process.

    Vaultsim(tmpdir, token_style="hvs", server_name=None, http_port=0, https_port=0,
             extra_args=(), startup_timeout=10, verbose=False)
    """

    def __init__(self, tmpdir, token_style="hvs", server_name=None, http_port=0,
                 https_port=0, extra_args=(), startup_timeout=10.0, verbose=False,
                 subdir="vaultsim", tls_ca_from=None):
        self.dir = os.path.join(str(tmpdir), subdir) if subdir else str(tmpdir)
        self.token_style = token_style
        self.server_name = server_name
        self.http_port = http_port
        self.https_port = https_port
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.verbose = verbose
        # another Vaultsim (or its dir) whose TLS CA signs this server's cert
        self.tls_ca_from = getattr(tls_ca_from, "dir", tls_ca_from)
        self.proc = None
        self.ready = None
        self._client_ca = None
        self._log = None
        self._standins = []

    # ---- lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        rpath = os.path.join(self.dir, "ready.json")
        try:
            os.unlink(rpath)
        except FileNotFoundError:
            pass
        cmd = [PYTHON, VAULTSIM, "--dir", self.dir, "--http-port", str(self.http_port),
               "--https-port", str(self.https_port), "--token-style", self.token_style]
        if self.server_name:
            cmd += ["--server-name", self.server_name]
        if self.tls_ca_from:
            cmd += ["--tls-ca-from", self.tls_ca_from]
        if self.verbose:
            cmd.append("--verbose")
        cmd += self.extra_args
        self._log = open(os.path.join(self.dir, "vaultsim.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + self.startup_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise VaultsimError("vaultsim exited with %s; see %s" %
                                    (self.proc.returncode, os.path.join(self.dir,
                                                                        "vaultsim.log")))
            try:
                with open(rpath) as f:
                    ready = json.load(f)
                if ready.get("pid") == self.proc.pid:
                    self.ready = ready
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        self.stop()
        raise VaultsimError("vaultsim did not become ready within %ss" % self.startup_timeout)

    def stop(self, timeout=10):
        for s in self._standins:
            s.stop()
        self._standins = []
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    # ---- addresses

    @property
    def http_addr(self):
        return self.ready["http_addr"]

    @property
    def https_addr(self):
        return self.ready["https_addr"]

    @property
    def addr(self):
        return self.https_addr

    @property
    def root_token(self):
        return self.ready["root_token"]

    @property
    def tls_ca(self):
        return self.ready["tls_ca"]

    @property
    def pki_root(self):
        return self.ready["pki_root"]

    @property
    def pid(self):
        return self.ready["pid"]

    # ---- HTTP

    def ssl_context(self, cert=None):
        ctx = ssl.create_default_context(cafile=self.tls_ca)
        if cert:
            ctx.load_cert_chain(cert[0], cert[1])
        return ctx

    def raw(self, method, path, body=None, token=ROOT, cert=None, https=True, headers=None,
            namespace=None, timeout=30):
        """One request; returns (status, headers dict (lower-case keys), body bytes).

        path: "sys/health" or "/v1/sys/health" or "/_sim/..." (absolute).
        token: ROOT (default) = root token, None or "" = no token, else the token.
        cert: (cert_path, key_path) client certificate, HTTPS only.
        """
        base = self.https_addr if https else self.http_addr
        if not path.startswith("/"):
            path = "/v1/" + path
        u = urlsplit(base)
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout,
                                               context=self.ssl_context(cert))
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        hdrs = {}
        if token is ROOT:
            token = self.root_token
        if token:
            hdrs["X-Vault-Token"] = token
        if namespace:
            hdrs["X-Vault-Namespace"] = namespace
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def api(self, method, path, json=None, token=ROOT, cert=None, https=True, headers=None,
            namespace=None, timeout=30):
        """Vault API call; returns (status, parsed JSON or None).

        The root token is sent unless token is given (None/"" sends no token)."""
        st, _h, data = self.raw(method, path, body=json, token=token, cert=cert, https=https,
                                headers=headers, namespace=namespace, timeout=timeout)
        return st, _parse(data)

    def admin(self, method, path, json=None):
        """Side channel under /_sim/ (no token); returns (status, parsed JSON)."""
        if not path.startswith("/"):
            path = "/_sim/" + path
        st, _h, data = self.raw(method, path, body=json, token=None, https=False)
        return st, _parse(data)

    def _admin_ok(self, method, path, json=None):
        st, body = self.admin(method, path, json)
        if st != 200:
            raise VaultsimError("admin %s %s -> %s %s" % (method, path, st, body))
        return body

    def _ok(self, method, path, json=None, token=ROOT, expect=(200, 204), **kw):
        st, body = self.api(method, path, json=json, token=token, **kw)
        if st not in expect:
            raise VaultsimError("%s %s -> %s %s" % (method, path, st, body))
        return body

    # ---- side channel helpers

    def requests(self):
        return self._admin_ok("GET", "requests")

    def clear_requests(self):
        return self._admin_ok("DELETE", "requests")

    def tokens(self):
        return self._admin_ok("GET", "tokens")

    def leases(self):
        return self._admin_ok("GET", "leases")

    def fault(self, **spec):
        """e.g. fault(status=500, count=2, path_prefix="/v1/auth/")."""
        return self._admin_ok("POST", "fault", spec)

    def clear_faults(self):
        return self._admin_ok("DELETE", "fault")

    def seal(self):
        return self._admin_ok("POST", "seal")

    def unseal(self):
        return self._admin_ok("POST", "unseal")

    def standby(self, redirect_to):
        return self._admin_ok("POST", "standby", {"redirect_to": redirect_to})

    def advance(self, seconds):
        return self._admin_ok("POST", "clock", {"advance": seconds})

    def revoke(self, token=None, accessor=None, all=False):
        spec = {"all": True} if all else ({"token": token} if token else {"accessor": accessor})
        return self._admin_ok("POST", "revoke", spec)

    def sim_now(self):
        """vaultsim's simulated clock (seconds since the epoch)."""
        return self._admin_ok("GET", "clock")["now"]

    def pki_config(self, **opts):
        """chain_includes_root=bool, ttl=seconds (new intermediate), key_type, key_bits,
        leaf_not_after_behavior."""
        return self._admin_ok("POST", "pki", opts)

    def pki_rollover(self, ttl=5 * 365 * 86400):
        """A second intermediate in pki_int/ (signed by the root) becomes the default
        issuer; the old one stays an issuer of the mount, as after Vault 1.11's
        intermediate/generate + intermediate/set-signed.  Returns the admin view
        (issuer_id, certificate, ca_chain, root)."""
        return self._admin_ok("POST", "pki", {"ttl": ttl, "keep_old": True})

    # ---- Vault setup helpers (through the real API with the root token)

    def policy(self, name, hcl):
        self._ok("PUT", "sys/policies/acl/%s" % name, {"policy": hcl})

    def approle(self, role, mount="approle", secret_id_params=None, **params):
        """Create/update auth/<mount>/role/<role> with params; returns (role_id, secret_id)."""
        self._ok("POST", "auth/%s/role/%s" % (mount, role), dict(params))
        rid = self._ok("GET", "auth/%s/role/%s/role-id" % (mount, role))["data"]["role_id"]
        if params.get("bind_secret_id") in (False, "false"):
            return rid, None
        sid = self._ok("POST", "auth/%s/role/%s/secret-id" % (mount, role),
                       secret_id_params or {})["data"]["secret_id"]
        return rid, sid

    def approle_login(self, role_id, secret_id, mount="approle"):
        return self._ok("POST", "auth/%s/login" % mount,
                        {"role_id": role_id, "secret_id": secret_id}, token=None)["auth"]

    def client_cert(self, cn, name="client", mount="cert", register=True, days=30,
                    key_type="ec", dns=(), **cert_params):
        """A client certificate for cn, signed by a client CA created once per instance.

        Registers the CA at auth/<mount>/certs/<name> with cert_params (token_policies,
        token_ttl, allowed_common_names, ...). Returns (cert_path, key_path)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        now = datetime.datetime.now(datetime.timezone.utc)
        if self._client_ca is None:
            ca_key = ec.generate_private_key(ec.SECP256R1())
            name_ = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vaultsim client CA")])
            ca = (x509.CertificateBuilder().subject_name(name_).issuer_name(name_)
                  .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                  .not_valid_before(now - datetime.timedelta(minutes=1))
                  .not_valid_after(now + datetime.timedelta(days=3650))
                  .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                  .add_extension(x509.KeyUsage(True, False, False, False, False, True, True,
                                               False, False), True)
                  .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                                 False)
                  .sign(ca_key, hashes.SHA256()))
            ca_path = os.path.join(self.dir, "client-ca.pem")
            with open(ca_path, "wb") as f:
                f.write(ca.public_bytes(serialization.Encoding.PEM))
            self._client_ca = (ca, ca_key, ca_path)
        ca, ca_key, ca_path = self._client_ca
        key = (rsa.generate_private_key(65537, 2048) if key_type == "rsa"
               else ec.generate_private_key(ec.SECP256R1()))
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(ca.subject).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=1))
             .not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 ca_key.public_key()), False))
        if dns:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]),
                                False)
        leaf = b.sign(ca_key, hashes.SHA256())
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in cn)
        cert_path = os.path.join(self.dir, "client-%s.pem" % safe)
        key_path = os.path.join(self.dir, "client-%s-key.pem" % safe)
        with open(cert_path, "wb") as f:
            f.write(leaf.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        os.chmod(key_path, 0o600)
        if register:
            params = dict(cert_params)
            with open(ca_path) as f:
                params["certificate"] = f.read()
            self._ok("POST", "auth/%s/certs/%s" % (mount, name), params)
        return cert_path, key_path

    def pki_role(self, name, mount="pki_int", **params):
        """Create/update <mount>/roles/<name>; returns the role data."""
        params.setdefault("key_type", "ec")
        params.setdefault("key_bits", 256)
        return self._ok("POST", "%s/roles/%s" % (mount, name), params)["data"]

    def kv_put(self, path, data, mount="secret", version=2):
        if version == 2:
            return self._ok("POST", "%s/data/%s" % (mount, path), {"data": data})["data"]
        self._ok("POST", "%s/%s" % (mount, path), data)
        return None

    def kv_secret(self, path, data, mount="secret", version=2):
        return self.kv_put(path, data, mount=mount, version=version)

    def db_role(self, name, db_name="sim", default_ttl="1h", max_ttl="24h", mount="database",
                **params):
        """Configure a (fake) connection <db_name> once and a dynamic role <name>."""
        self._ok("POST", "%s/config/%s" % (mount, db_name),
                 {"plugin_name": "postgresql-database-plugin", "allowed_roles": "*",
                  "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/x",
                  "username": "vault", "password": "vault", "verify_connection": False})
        body = {"db_name": db_name, "default_ttl": default_ttl, "max_ttl": max_ttl,
                "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD "
                                        "'{{password}}' VALID UNTIL '{{expiration}}';"]}
        body.update(params)
        self._ok("POST", "%s/roles/%s" % (mount, name), body)

    def token(self, **params):
        """auth/token/create with the root token; returns the auth block."""
        return self._ok("POST", "auth/token/create", params)["auth"]

    def kubernetes_setup(self, mount="kubernetes", reviewer=True, configure=True, **config):
        """Start a TokenReview stand-in (stopped with this instance) and point
        auth/<mount>/config at it: kubernetes_host, kubernetes_ca_cert,
        disable_local_ca_jwt=true and, with reviewer=True, token_reviewer_jwt
        (a token of kube-system/vault-auth); config overrides any of them.

        Returns the stand-in: .url, .ca_path, .ca_pem, .public_key_pem,
        .reviewer_jwt, .mint(namespace, name, uid=None, audiences=[...],
        ttl=3600, legacy=False, ...) -> JWT (timed by vaultsim's clock and
        authenticated by the stand-in's table), .set(jwt, authenticated=False,
        username=..., uid=..., audiences=..., can_review=...), .add(token, ...),
        .reviews (what vaultsim asked)."""
        from standins import TokenReviewStandIn
        k8s = TokenReviewStandIn(os.path.join(self.dir, "k8s-" + mount.replace("/", "_")),
                                 clock=self.sim_now).start()
        self._standins.append(k8s)
        k8s.reviewer_jwt = k8s.mint("kube-system", "vault-auth") if reviewer else None
        if configure:
            params = {"kubernetes_host": k8s.url, "kubernetes_ca_cert": k8s.ca_pem,
                      "disable_local_ca_jwt": True}
            if reviewer:
                params["token_reviewer_jwt"] = k8s.reviewer_jwt
            params.update(config)
            self._ok("POST", "auth/%s/config" % mount, params)
        return k8s

    def jwt_setup(self, mount="jwt", key_type="rsa", bound_issuer=None, keys="pubkeys",
                  configure=True, **config):
        """A JWT issuer (RSA or EC P-256 key) and auth/<mount>/config trusting it:
        keys="pubkeys" (jwt_validation_pubkeys), "jwks" (jwks_url + jwks_ca_pem
        of an HTTPS server the issuer runs) or "discovery" (oidc_discovery_url);
        bound_issuer is set in the config and as the tokens' iss.

        Returns the issuer: .public_key_pem, .token(sub=..., aud=..., ttl=300,
        **claims) (iat/nbf/exp by vaultsim's clock), .sign(claims, alg=,
        kid=, header=), .key, .kid, .url and .ca_pem when serving."""
        from standins import JWTIssuer
        iss = JWTIssuer(os.path.join(self.dir, "jwt-" + mount.replace("/", "_")),
                        key_type=key_type, issuer=bound_issuer, clock=self.sim_now)
        if keys != "pubkeys":
            iss.serve()
            self._standins.append(iss)
        if configure:
            params = {}
            if keys == "pubkeys":
                params["jwt_validation_pubkeys"] = [iss.public_key_pem]
            elif keys == "jwks":
                params.update(jwks_url=iss.url + "/keys", jwks_ca_pem=iss.ca_pem)
            elif keys == "discovery":
                params.update(oidc_discovery_url=iss.issuer, oidc_discovery_ca_pem=iss.ca_pem)
            if bound_issuer or keys == "discovery":
                params["bound_issuer"] = iss.issuer
            params.update(config)
            self._ok("POST", "auth/%s/config" % mount, params)
        return iss


def _parse(data):
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data
