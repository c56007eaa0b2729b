"""Stand-ins for the systems Vault's JWT-based auth methods talk to.

- TokenReviewStandIn: the Kubernetes API's TokenReview endpoint
  (POST /apis/authentication.k8s.io/v1/tokenreviews) over HTTPS with its own
  CA, answering from a table of token -> service account, and minting
  service account JWTs (projected or legacy secret tokens) signed with its
  own RSA key, so that they look like the real thing.
- JWTIssuer: a key pair (RSA or EC P-256) that signs JWTs with any claims,
  and optionally serves its keys as a JWKS and an OIDC discovery document.

Both run in the test process (a thread each), bind port 0 on 127.0.0.1 and
keep what they were asked in memory (never in a log). The JWT code here is
separate from vaultsim's verifier (vs_jwt) on purpose.

    from standins import TokenReviewStandIn, JWTIssuer
    with TokenReviewStandIn(tmp_path) as k8s:
        jwt = k8s.mint("default", "app")        # authenticated by the table
        k8s.url, k8s.ca_path, k8s.ca_pem
"""

import base64
import datetime
import hashlib
import json
import os
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _json_b64(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def sign_jwt(key, claims, alg=None, kid=None, header=None):
    """A compact JWS of claims. alg defaults to RS256 for RSA keys and ES256
    (ES384, ES512 by curve) for EC keys; header replaces the whole header."""
    if alg is None:
        if isinstance(key, rsa.RSAPrivateKey):
            alg = "RS256"
        else:
            alg = {"secp256r1": "ES256", "secp384r1": "ES384",
                   "secp521r1": "ES512"}[key.curve.name]
    if header is None:
        header = {"alg": alg, "typ": "JWT"}
        if kid:
            header["kid"] = kid
    signing_input = (_json_b64(header) + "." + _json_b64(claims)).encode()
    h = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}.get(alg[2:])
    if alg.startswith("RS"):
        sig = key.sign(signing_input, padding.PKCS1v15(), h)
    elif alg.startswith("PS"):
        sig = key.sign(signing_input, padding.PSS(mgf=padding.MGF1(h),
                                                  salt_length=h.digest_size), h)
    elif alg.startswith("ES"):
        size = (key.curve.key_size + 7) // 8
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(h)))
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    elif alg == "none":
        sig = b""
    else:
        raise ValueError("unsupported alg %s" % alg)
    return signing_input.decode() + "." + b64url(sig)


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo
                                         ).decode()


def key_id(key):
    """Kubernetes' kid: base64url(SHA-256(DER public key))."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest())


def jwk(key, kid):
    pub = key.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": kid, "alg": "RS256",
                "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64url(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}
    n = pub.public_numbers()
    size = (pub.curve.key_size + 7) // 8
    return {"kty": "EC", "use": "sig", "kid": kid,
            "crv": {"secp256r1": "P-256", "secp384r1": "P-384",
                    "secp521r1": "P-521"}[pub.curve.name],
            "x": b64url(n.x.to_bytes(size, "big")), "y": b64url(n.y.to_bytes(size, "big"))}


# --------------------------------------------------------------------------
# A small HTTPS server with its own CA

class _TLSServer:
    def __init__(self, dirpath, name):
        self.dir = str(dirpath)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.httpd = None
        self.thread = None
        self.ca_path = os.path.join(self.dir, "%s-ca.pem" % name)
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "%s stand-in CA" % name)])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=1))
              .not_valid_after(now + datetime.timedelta(days=365))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
              .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                           False, False), True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                             False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        import ipaddress
        leaf = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), False)
                .sign(ca_key, hashes.SHA256()))
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
        with open(self.ca_path, "w") as f:
            f.write(self.ca_pem)
        cert_path = os.path.join(self.dir, "%s-server.pem" % name)
        key_path = os.path.join(self.dir, "%s-server-key.pem" % name)
        with open(cert_path, "wb") as f:
            f.write(leaf.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        os.chmod(key_path, 0o600)
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(cert_path, key_path)

    def route(self, method, path, headers, body):
        """(status, JSON-able body). Overridden."""
        return 404, {"error": "not found"}

    def start(self):
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _do(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                try:
                    status, out = outer.route(self.command, self.path.split("?")[0],
                                              self.headers, body)
                except Exception as e:              # a stand-in bug shows as a 500
                    status, out = 500, {"error": repr(e)}
                payload = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _do

        class S(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = self.socket.accept()
                return outer._ctx.wrap_socket(sock, server_side=True), addr

            def handle_error(self, request, client_address):
                pass

        self.httpd = S(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.httpd.server_address[1]


# --------------------------------------------------------------------------
# Kubernetes TokenReview

def _status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}


class TokenReviewStandIn(_TLSServer):
    """The TokenReview API. The table maps a token to
    {authenticated, username, uid, audiences (None = the API server's),
    can_review (may it be the bearer of a TokenReview), error}.

    clock: a function giving the time to mint tokens at (default time.time);
    the harness passes vaultsim's simulated clock."""

    def __init__(self, dirpath, clock=None, issuer=API_AUDIENCE,
                 api_audiences=(API_AUDIENCE,)):
        super().__init__(dirpath, "k8s")
        self.clock = clock or time.time
        self.issuer = issuer
        self.api_audiences = list(api_audiences)
        self.key = rsa.generate_private_key(65537, 2048)
        self.kid = key_id(self.key)
        self.table = {}
        self.reviews = []         # each review: bearer, token, audiences, answer
        self._lock = threading.Lock()

    @property
    def public_key_pem(self):
        return public_pem(self.key)

    def add(self, token, username=None, uid=None, authenticated=True, audiences=None,
            can_review=True, error=""):
        with self._lock:
            self.table[token] = {"authenticated": authenticated, "username": username or "",
                                 "uid": uid or "", "audiences": audiences,
                                 "can_review": can_review, "error": error}
        return token

    def set(self, token, **fields):
        """Change a token's entry: authenticated=False (a deleted account),
        username=..., uid=..., audiences=[...], can_review=False, error=..."""
        with self._lock:
            self.table[token].update(fields)

    def mint(self, namespace, name, uid=None, audiences=(API_AUDIENCE,), ttl=3600,
             legacy=False, secret_name=None, pod=None, now=None, extra_claims=None,
             register=True, **table_fields):
        """A service account JWT for namespace/name, signed with the stand-in's
        key, and (register=True) an entry in the table that authenticates it.
        legacy=True: a pre-1.21 secret token (no aud, exp or iat)."""
        uid = uid or str(uuid.uuid4())
        now = int(self.clock() if now is None else now)
        sub = "system:serviceaccount:%s:%s" % (namespace, name)
        if legacy:
            claims = {"iss": "kubernetes/serviceaccount",
                      "kubernetes.io/serviceaccount/namespace": namespace,
                      "kubernetes.io/serviceaccount/secret.name":
                          secret_name or "%s-token-%s" % (name, uuid.uuid4().hex[:5]),
                      "kubernetes.io/serviceaccount/service-account.name": name,
                      "kubernetes.io/serviceaccount/service-account.uid": uid,
                      "sub": sub}
            aud = None
        else:
            pod = pod or "%s-%s" % (name, uuid.uuid4().hex[:10])
            aud = list(audiences) if audiences is not None else None
            claims = {"exp": now + ttl, "iat": now, "iss": self.issuer, "jti": str(uuid.uuid4()),
                      "kubernetes.io": {"namespace": namespace,
                                        "node": {"name": "node-1", "uid": str(uuid.uuid4())},
                                        "pod": {"name": pod, "uid": str(uuid.uuid4())},
                                        "serviceaccount": {"name": name, "uid": uid},
                                        "warnafter": now + min(ttl, 3607) - 7},
                      "nbf": now, "sub": sub}
            if aud is not None:
                claims["aud"] = aud
        claims.update(extra_claims or {})
        token = sign_jwt(self.key, claims, alg="RS256", kid=self.kid)
        if register:
            fields = {"username": sub, "uid": uid, "audiences": aud}
            fields.update(table_fields)
            self.add(token, **fields)
        return token

    def route(self, method, path, headers, body):
        if path != "/apis/authentication.k8s.io/v1/tokenreviews":
            return _status(404, "NotFound", "the server could not find the requested resource")
        if method != "POST":
            return _status(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource")
        auth = headers.get("Authorization") or ""
        bearer = auth[7:] if auth.startswith("Bearer ") else ""
        try:
            review = json.loads(body)
            spec = review.get("spec") or {}
        except (ValueError, AttributeError):
            review, spec = None, {}
        with self._lock:
            caller = self.table.get(bearer)
            entry = dict(self.table[spec.get("token")]) if spec.get("token") in self.table \
                else None
        record = {"bearer": bearer, "token": spec.get("token"),
                  "audiences": spec.get("audiences")}
        self.reviews.append(record)
        if caller is None or not caller["authenticated"]:
            record["answer"] = 401
            return _status(401, "Unauthorized", "Unauthorized")
        if not caller["can_review"]:
            record["answer"] = 403
            return _status(403, "Forbidden",
                           'tokenreviews.authentication.k8s.io is forbidden: User "%s" cannot '
                           'create resource "tokenreviews" in API group "authentication.k8s.io" '
                           'at the cluster scope' % caller["username"])
        if review is None:
            record["answer"] = 400
            return _status(400, "BadRequest", "the object provided is unrecognized")
        wanted = spec.get("audiences") or list(self.api_audiences)
        out = {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"creationTimestamp": None},
               "spec": {"token": "", "audiences": spec.get("audiences")}}
        if entry is None or not entry["authenticated"] or entry["error"]:
            status = {"user": {}, "error": (entry or {}).get("error") or
                      "[invalid bearer token, service account token is not valid]"}
        else:
            token_auds = entry["audiences"] if entry["audiences"] is not None \
                else list(self.api_audiences)
            both = [a for a in wanted if a in token_auds]
            if not both:
                status = {"user": {}, "error": "[invalid bearer token, token audiences %s is "
                          "invalid for the target audiences %s]"
                          % (json.dumps(token_auds), json.dumps(wanted))}
            else:
                ns = entry["username"].split(":")[2] if entry["username"].count(":") == 3 else ""
                status = {"authenticated": True, "audiences": both,
                          "user": {"username": entry["username"], "uid": entry["uid"],
                                   "groups": ["system:serviceaccounts",
                                              "system:serviceaccounts:%s" % ns,
                                              "system:authenticated"]}}
        out["status"] = status
        record["answer"] = "authenticated" if status.get("authenticated") else status["error"]
        return 201, out


# --------------------------------------------------------------------------
# JWT issuer

class JWTIssuer(_TLSServer):
    """A signing key (key_type "rsa" or "ec") for JWTs with any claims.
    serve() starts an HTTPS server with /.well-known/openid-configuration
    and /keys (the JWKS) for jwks_url and oidc_discovery_url configs."""

    def __init__(self, dirpath, key_type="rsa", issuer=None, clock=None, name="jwt"):
        super().__init__(dirpath, name)
        if key_type == "rsa":
            self.key = rsa.generate_private_key(65537, 2048)
        elif key_type == "ec":
            self.key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError("key_type rsa or ec")
        self.kid = key_id(self.key)
        self.issuer = issuer
        self.clock = clock or time.time
        self.extra_keys = []          # (kid, key) also published in the JWKS

    @property
    def public_key_pem(self):
        return public_pem(self.key)

    def sign(self, claims, alg=None, kid=None, header=None, key=None):
        return sign_jwt(key or self.key, claims, alg=alg, kid=kid or self.kid, header=header)

    def token(self, sub="subject", aud=None, ttl=300, now=None, alg=None, kid=None, **claims):
        """A JWT with iss (the issuer, if set), sub, aud (if given), iat, nbf and
        exp = iat + ttl at the issuer's clock, plus claims (None drops one)."""
        now = int(self.clock() if now is None else now)
        c = {"sub": sub, "iat": now, "nbf": now, "exp": now + ttl}
        if self.issuer:
            c["iss"] = self.issuer
        if aud is not None:
            c["aud"] = aud
        c.update(claims)
        c = {k: v for k, v in c.items() if v is not None}
        return self.sign(c, alg=alg, kid=kid)

    def serve(self):
        self.start()
        if self.issuer is None:
            self.issuer = self.url
        return self

    def route(self, method, path, headers, body):
        if method != "GET":
            return 405, {"error": "method not allowed"}
        if path == "/.well-known/openid-configuration":
            return 200, {"issuer": self.issuer, "jwks_uri": self.url + "/keys",
                         "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
        if path == "/keys":
            keys = [jwk(self.key, self.kid)] + [jwk(k, kid) for kid, k in self.extra_keys]
            return 200, {"keys": keys}
        return 404, {"error": "not found"}
