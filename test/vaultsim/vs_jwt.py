"""vaultsim JOSE: compact JWS parsing and verification, and JWT claim
validation as hashicorp/cap's jwt.Validator does it (the library behind
Vault's jwt and kubernetes auth methods), with go-jose's and cap's error
strings. Also the HTTPS client those methods use to reach a JWKS URL, an
OIDC discovery document or the Kubernetes TokenReview API.

Numbers: claims decoded the way Go decodes into interface{} are float64;
cap's getClaim turns a top-level float into json.Number; Vault decodes
request bodies with UseNumber. Num marks a json.Number so that bound claim
comparisons follow Go's interface equality (a string "42" never equals the
number 42, a number inside a list claim never equals a bound number).
"""

import base64
import json
import re
import ssl
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

DEFAULT_LEEWAY = 150        # cap jwt.DefaultLeewaySeconds (nbf/exp synthesis)
DEFAULT_CLOCK_SKEW = 60     # go-jose jwt.DefaultLeeway

_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_EC_SIZES = {"ES256": (32, "secp256r1"), "ES384": (48, "secp384r1"), "ES512": (66, "secp521r1")}
ALL_ALGS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
            "EdDSA"]


class JoseError(Exception):
    pass


class Num(str):
    """A json.Number: the literal text of a JSON number."""


def go_number(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return Num(str(v))
    if isinstance(v, float):
        return Num(repr(v) if v != int(v) else str(int(v)))
    return v


# --------------------------------------------------------------------------
# Parsing (go-jose v3 ParseSigned, compact serialization)

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_decode(s):
    s = s.rstrip("=")
    m = _B64URL.match(s)
    if m.end() != len(s):
        raise JoseError("illegal base64 data at input byte %d" % m.end())
    if len(s) % 4 == 1:
        raise JoseError("illegal base64 data at input byte %d" % (len(s) - 1))
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class JWS:
    def __init__(self, token):
        token = re.sub(r"\s", "", token)
        if token.startswith("{"):
            raise JoseError("go-jose/go-jose: JSON serialization is not supported here")
        parts = token.split(".")
        if len(parts) != 3:
            raise JoseError("go-jose/go-jose: compact JWS format must have three parts")
        raw_header = b64url_decode(parts[0])
        self.payload = b64url_decode(parts[1])
        self.signature = b64url_decode(parts[2])
        try:
            self.header = json.loads(raw_header)
        except ValueError:
            raise JoseError("invalid character looking for beginning of value")
        if not isinstance(self.header, dict):
            raise JoseError("json: cannot unmarshal into Go value of type jose.rawHeader")
        self.alg = self.header.get("alg") if isinstance(self.header.get("alg"), str) else ""
        self.kid = self.header.get("kid") if isinstance(self.header.get("kid"), str) else ""
        self.signing_input = (parts[0] + "." + parts[1]).encode()

    def claims(self):
        try:
            c = json.loads(self.payload)
        except ValueError:
            raise JoseError("invalid character looking for beginning of value")
        if not isinstance(c, dict):
            raise JoseError("json: cannot unmarshal into Go value of type map[string]interface {}")
        return c

    def verify(self, key):
        """True if the signature verifies with key for the header's alg."""
        alg, sig, data = self.alg, self.signature, self.signing_input
        try:
            if alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey) and alg[2:] in _HASHES:
                key.verify(sig, data, padding.PKCS1v15(), _HASHES[alg[2:]]())
                return True
            if alg.startswith("PS") and isinstance(key, rsa.RSAPublicKey) and alg[2:] in _HASHES:
                h = _HASHES[alg[2:]]()
                key.verify(sig, data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size),
                           h)
                return True
            if alg in _EC_SIZES and isinstance(key, ec.EllipticCurvePublicKey):
                size, curve = _EC_SIZES[alg]
                if key.curve.name != curve or len(sig) != 2 * size:
                    return False
                r = int.from_bytes(sig[:size], "big")
                s = int.from_bytes(sig[size:], "big")
                key.verify(encode_dss_signature(r, s), data,
                           ec.ECDSA(_HASHES[alg[2:]]()))
                return True
            if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(sig, data)
                return True
        except (InvalidSignature, ValueError):
            return False
        return False


# --------------------------------------------------------------------------
# Keys

def parse_public_key_pem(pem):
    """certutil.ParsePublicKeyPEM: one PEM block, PKIX public key or certificate."""
    if isinstance(pem, str):
        pem = pem.encode()
    m = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", pem, re.S)
    if m is None:
        raise JoseError("data does not contain any valid public keys")
    if pem[m.end():].strip():
        raise JoseError("unexpected trailing data after parsed PEM block")
    try:
        der = base64.b64decode(b"".join(m.group(2).split()))
    except ValueError:
        raise JoseError("data does not contain any valid public keys")
    try:
        key = serialization.load_der_public_key(der)
    except ValueError:
        try:
            key = x509.load_der_x509_certificate(der).public_key()
        except ValueError:
            raise JoseError("x509: malformed certificate")
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey,
                            ed25519.Ed25519PublicKey)):
        raise JoseError("data does not contain any valid public keys")
    return key


def jwk_to_key(jwk):
    kty = jwk.get("kty")
    if kty == "RSA":
        n = int.from_bytes(b64url_decode(jwk["n"]), "big")
        e = int.from_bytes(b64url_decode(jwk["e"]), "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if kty == "EC":
        curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(),
                 "P-521": ec.SECP521R1()}.get(jwk.get("crv"))
        if curve is None:
            raise JoseError("go-jose/go-jose: unsupported elliptic curve '%s'" % jwk.get("crv"))
        x = int.from_bytes(b64url_decode(jwk["x"]), "big")
        y = int.from_bytes(b64url_decode(jwk["y"]), "big")
        return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    raise JoseError("go-jose/go-jose: unknown json web key type '%s'" % kty)


class StaticKeySet:
    """cap jwt.NewStaticKeySet."""

    def __init__(self, keys):
        self.keys = list(keys)

    def verify_signature(self, token):
        jws = JWS(token)
        for key in self.keys:
            if jws.verify(key):
                try:
                    return jws.claims()
                except JoseError:
                    continue
        raise JoseError("no known key successfully validated the token signature")


class NoVerifyKeySet:
    """The kubernetes method's DontVerifySignature (no pem_keys configured)."""

    def verify_signature(self, token):
        return JWS(token).claims()


class RemoteKeySet:
    """go-oidc's RemoteKeySet behind cap's jwt.NewJSONWebKeySet: keys are
    fetched on first use and again when no cached key verifies."""

    def __init__(self, url, ca_pem, fetch):
        self.url = url
        self.ca_pem = ca_pem
        self.fetch = fetch          # fetch(url, ca_pem) -> (status, bytes); may raise OSError
        self.cached = []

    def _remote(self):
        try:
            status, body = self.fetch(self.url, self.ca_pem)
        except (OSError, ssl.SSLError, ValueError) as e:
            raise JoseError('fetching keys oidc: get keys failed: Get "%s": %s' % (self.url, e))
        if status != 200:
            raise JoseError("fetching keys oidc: get keys failed: %d %s" % (status,
                                                                           body.decode(
                                                                               "utf-8",
                                                                               "replace")))
        try:
            doc = json.loads(body)
            keys = []
            for k in doc.get("keys") or []:
                keys.append((k.get("kid") or "", jwk_to_key(k)))
        except (ValueError, KeyError, TypeError, AttributeError, JoseError) as e:
            raise JoseError("fetching keys oidc: failed to decode keys: %s %s"
                            % (e, body.decode("utf-8", "replace")))
        self.cached = keys
        return keys

    def verify_signature(self, token):
        try:
            jws = JWS(token)
        except JoseError as e:
            raise JoseError("oidc: malformed jwt: %s" % e)
        for keys in (self.cached, None):
            if keys is None:
                keys = self._remote()
            for kid, key in keys:
                if jws.kid == "" or kid == jws.kid:
                    if jws.verify(key):
                        return jws.claims()
        raise JoseError("failed to verify id token signature")


# --------------------------------------------------------------------------
# cap jwt.Validator

class Expected:
    def __init__(self, issuer="", subject="", audiences=None, algorithms=None,
                 not_before_leeway=0, expiration_leeway=0, clock_skew_leeway=0, now=None):
        self.issuer = issuer or ""
        self.subject = subject or ""
        self.audiences = list(audiences or [])
        self.algorithms = list(algorithms or [])
        self.not_before_leeway = not_before_leeway
        self.expiration_leeway = expiration_leeway
        self.clock_skew_leeway = clock_skew_leeway
        self.now = now


def _numeric_date(claims, name):
    v = claims.get(name)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise JoseError("json: cannot unmarshal %s into Go struct field Claims.%s of type "
                        "jwt.NumericDate" % (type(v).__name__, name))
    return int(v)


def _audience(claims):
    v = claims.get("aud")
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(a, str) for a in v):
        return list(v)
    raise JoseError("go-jose/go-jose/jwt: expected string or array value to unmarshal to "
                    "Audience")


def validate(keysets, token, expected, allow_missing_iat_nbf_exp=False):
    """cap's validateAll. Returns all claims; raises JoseError with cap's text."""
    claims, err = None, None
    for ks in keysets:
        try:
            claims = ks.verify_signature(token)
            break
        except JoseError as e:
            err = e
    if claims is None:
        raise JoseError("error verifying token signature: %s" % err)

    # validateSigningAlgorithm
    algs = expected.algorithms
    bad = [a for a in algs if a not in ALL_ALGS]
    if bad:
        raise JoseError('invalid algorithm (alg) header parameter: unsupported signing '
                        'algorithm "%s"' % bad[0])
    jws = JWS(token)
    if len(jws.signature) == 0:
        raise JoseError("invalid algorithm (alg) header parameter: token must be signed")
    if jws.alg not in (algs or ["RS256"]):
        raise JoseError("invalid algorithm (alg) header parameter: token signed with "
                        "unexpected algorithm")

    iss = claims.get("iss", "")
    sub = claims.get("sub", "")
    for name, v in (("iss", iss), ("sub", sub)):
        if not isinstance(v, str):
            raise JoseError("json: cannot unmarshal %s into Go struct field Claims.%s of type "
                            "string" % (type(v).__name__, name))
    aud = _audience(claims)
    iat = _numeric_date(claims, "iat")
    exp = _numeric_date(claims, "exp")
    nbf = _numeric_date(claims, "nbf")

    if expected.issuer and expected.issuer != iss:
        raise JoseError("invalid issuer (iss) claim")
    if expected.subject and expected.subject != sub:
        raise JoseError("invalid subject (sub) claim")
    if expected.audiences and not any(a in aud for a in expected.audiences):
        raise JoseError("invalid audience (aud) claim: audience claim does not match any "
                        "expected audience")

    if iat == 0 and exp == 0 and nbf == 0:
        if allow_missing_iat_nbf_exp:
            return claims
        raise JoseError("no issued at (iat), not before (nbf), or expiration time (exp) "
                        "claims in token")

    def leeway(v, default):
        return 0 if v < 0 else (default if v == 0 else v)

    if exp == 0:
        exp = max(iat, nbf) + leeway(expected.expiration_leeway, DEFAULT_LEEWAY)
    if nbf == 0:
        nbf = iat if iat != 0 else exp - leeway(expected.not_before_leeway, DEFAULT_LEEWAY)
    skew = leeway(expected.clock_skew_leeway, DEFAULT_CLOCK_SKEW)
    now = expected.now
    if now + skew < nbf:
        raise JoseError("invalid not before (nbf) claim: token not yet valid")
    if now - skew > exp:
        raise JoseError("invalid expiration time (exp) claim: token is expired")
    if iat and now + skew < iat:
        raise JoseError("invalid issued at (iat) claim: token issued in the future")
    return claims


# --------------------------------------------------------------------------
# Claims helpers (vault-plugin-auth-jwt claims.go)

def _json_pointer(doc, pointer):
    cur = doc
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict):
            if part not in cur:
                return None
            cur = cur[part]
        elif isinstance(cur, list):
            if not re.fullmatch(r"[0-9]+", part) or int(part) >= len(cur):
                return None
            cur = cur[int(part)]
        else:
            return None
    return cur


def get_claim(claims, name):
    """getClaim: a "/" prefix is a JSON pointer; a float becomes json.Number."""
    v = _json_pointer(claims, name) if name.startswith("/") else claims.get(name)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return Num(str(int(v)))
    return v


def normalize_list(v):
    """normalizeList: a list, or a string, bool or json.Number made a list."""
    if isinstance(v, list):
        return v, True
    if isinstance(v, (str, bool)):
        return [v], True
    return None, False


def go_value_key(v):
    """Go interface equality: values of different dynamic types never match."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, Num):
        return ("number", str(v))
    if isinstance(v, str):
        return ("string", v)
    if isinstance(v, (int, float)):
        return ("float64", float(v))
    return ("other", id(v))


def go_fmt(v):
    """%v of a decoded JSON value, near enough for error texts."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + " ".join(go_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, go_fmt(v[k])) for k in sorted(v)) + "]"
    if v is None:
        return "<nil>"
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v)


def go_glob(pattern, subj):
    """github.com/ryanuber/go-glob Glob."""
    if pattern == "":
        return subj == pattern
    if pattern == "*":
        return True
    parts = pattern.split("*")
    if len(parts) == 1:
        return subj == pattern
    leading, trailing = pattern.startswith("*"), pattern.endswith("*")
    end = len(parts) - 1
    for i in range(end):
        idx = subj.find(parts[i])
        if i == 0:
            if not leading and idx != 0:
                return False
        elif idx < 0:
            return False
        subj = subj[idx + len(parts[i]):]
    return trailing or subj.endswith(parts[end])


# --------------------------------------------------------------------------
# HTTPS client (Go's net/http with a configured CA pool)

def https_request(method, url, ca_pem=None, headers=None, body=None, timeout=30):
    """(status, body bytes). Raises OSError (URLError, ssl errors) when no
    answer came back, as Go's client.Do returns an error."""
    ctx = None
    if url.startswith("https://"):
        ctx = ssl.create_default_context()
        if ca_pem:
            ctx = ssl.create_default_context(cadata=ca_pem if isinstance(ca_pem, str)
                                             else ca_pem.decode())
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    elif not url.startswith("http://"):
        raise OSError('unsupported protocol scheme "%s"' % url.split(":", 1)[0])
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    req.add_header("User-Agent", "Go-http-client/1.1")
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
