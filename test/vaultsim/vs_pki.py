"""vaultsim PKI secrets engine and X.509 helpers (python3-cryptography).

Follows builtin/logical/pki of HashiCorp Vault: role checks, name
validation, TTL capping, 30 s NotBefore backdate, issuer NotAfter
behaviour, CRLs. X.509 validity uses the real wall clock (clients check
certificates with their own clocks); leases use the simulated clock.
"""

import base64
import datetime
import ipaddress
import re
import secrets
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vs_core import (Response, VaultError, bad_request, envelope, new_uuid,
                     no_content, not_found, parse_bool, parse_duration, parse_int,
                     parse_str_list, raw, rand_base62, rfc3339, unsupported)

UTC = datetime.timezone.utc


# --------------------------------------------------------------------------
# Key and certificate helpers

EC_CURVES = {224: ec.SECP224R1, 256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}


def validate_key_type_length(key_type, key_bits):
    """certutil.ValidateKeyTypeLength; returns the effective key_bits."""
    if key_type == "rsa":
        if key_bits == 0:
            return 2048
        if key_bits not in (2048, 3072, 4096, 8192):
            raise bad_request("unsupported bit length for RSA key: %d" % key_bits)
        return key_bits
    if key_type == "ec":
        if key_bits == 0:
            return 256
        if key_bits not in EC_CURVES:
            raise bad_request("unsupported bit length for EC key: %d" % key_bits)
        return key_bits
    if key_type == "ed25519":
        return 0
    if key_type == "any":
        return 0
    raise bad_request("unknown key type %s" % key_type)


def generate_key(key_type, key_bits):
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_bits or 2048)
    if key_type == "ec":
        return ec.generate_private_key(EC_CURVES[key_bits or 256]())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise bad_request("unknown key type %s" % key_type)


def key_type_of(pub):
    if isinstance(pub, rsa.RSAPublicKey):
        return "rsa", pub.key_size
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return "ec", pub.curve.key_size
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "ed25519", 0
    return "unknown", 0


def sign_hash_for(key):
    """Go's x509 default signature hash for a signing key."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        if size >= 521:
            return hashes.SHA512()
        if size >= 384:
            return hashes.SHA384()
        return hashes.SHA256()
    return hashes.SHA256()


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode().strip()


def key_pem(key, pkcs8=False):
    if isinstance(key, ed25519.Ed25519PrivateKey) or pkcs8:
        fmt = serialization.PrivateFormat.PKCS8
    else:
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.PEM, fmt,
                             serialization.NoEncryption()).decode().strip()


def key_der(key, pkcs8=False):
    if isinstance(key, ed25519.Ed25519PrivateKey) or pkcs8:
        fmt = serialization.PrivateFormat.PKCS8
    else:
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())


def hex_colon(b):
    return ":".join("%02x" % x for x in b)


def serial_colon(n):
    length = max(1, (n.bit_length() + 7) // 8)
    return hex_colon(n.to_bytes(length, "big"))


def normalize_serial(s):
    s = (s or "").strip().lower().replace("-", ":")
    return s


def new_serial():
    # certutil.GenerateSerialNumber: uniform in [0, 2^159)
    while True:
        n = secrets.randbits(159)
        if n > 0:
            return n


def utcnow():
    return datetime.datetime.fromtimestamp(int(time.time()), tz=UTC)


def not_after_of(cert):
    return cert.not_valid_after.replace(tzinfo=UTC)


def not_before_of(cert):
    return cert.not_valid_before.replace(tzinfo=UTC)


def ski_of(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def aki_of(cert):
    try:
        return cert.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier).value.key_identifier or b""
    except x509.ExtensionNotFound:
        return b""


def is_self_signed(cert):
    return cert.issuer == cert.subject and (not aki_of(cert) or aki_of(cert) == ski_of(cert))


def build_name(cn, role=None):
    attrs = []
    if role:
        for oid, key in ((NameOID.COUNTRY_NAME, "country"),
                         (NameOID.ORGANIZATION_NAME, "organization"),
                         (NameOID.ORGANIZATIONAL_UNIT_NAME, "ou"),
                         (NameOID.LOCALITY_NAME, "locality"),
                         (NameOID.STATE_OR_PROVINCE_NAME, "province"),
                         (NameOID.STREET_ADDRESS, "street_address"),
                         (NameOID.POSTAL_CODE, "postal_code")):
            for v in role.get(key) or []:
                attrs.append(x509.NameAttribute(oid, v))
    if cn:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def make_ca_cert(key, cn, not_before, not_after, issuer_cert=None, issuer_key=None,
                 pub=None, max_path_len=None, serial=None):
    """Self-signed root (issuer_cert None) or an intermediate signed by issuer."""
    pub = pub or key.public_key()
    subject = build_name(cn) if isinstance(cn, str) else cn
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer_cert.subject if issuer_cert else subject)
         .public_key(pub)
         .serial_number(serial or new_serial())
         .not_valid_before(not_before)
         .not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=True, path_length=max_path_len), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                      key_encipherment=False, data_encipherment=False,
                                      key_agreement=False, key_cert_sign=True, crl_sign=True,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
    if issuer_cert is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier(ski_of(issuer_cert), None, None),
                            critical=False)
        signer = issuer_key
    else:
        b = b.add_extension(x509.AuthorityKeyIdentifier(
            x509.SubjectKeyIdentifier.from_public_key(pub).digest, None, None), critical=False)
        signer = key
    return b.sign(signer, sign_hash_for(signer))


def make_leaf_cert(issuer_cert, issuer_key, pub, subject, not_before, not_after,
                   dns=(), ips=(), uris=(), emails=(), server=True, client=True,
                   key_usage=("DigitalSignature", "KeyAgreement", "KeyEncipherment"),
                   extra_eku=(), serial=None, basic_constraints=False):
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer_cert.subject)
         .public_key(pub)
         .serial_number(serial or new_serial())
         .not_valid_before(not_before)
         .not_valid_after(not_after))
    ku = set(k.lower() for k in key_usage)
    if ku:
        b = b.add_extension(x509.KeyUsage(
            digital_signature="digitalsignature" in ku,
            content_commitment="contentcommitment" in ku,
            key_encipherment="keyencipherment" in ku,
            data_encipherment="dataencipherment" in ku,
            key_agreement="keyagreement" in ku,
            key_cert_sign="certsign" in ku,
            crl_sign="crlsign" in ku,
            encipher_only=False, decipher_only=False), critical=True)
    ekus = []
    if server:
        ekus.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        ekus.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    ekus.extend(extra_eku)
    if ekus:
        b = b.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    if basic_constraints:
        b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    b = b.add_extension(x509.AuthorityKeyIdentifier(ski_of(issuer_cert), None, None),
                        critical=False)
    sans = ([x509.DNSName(d) for d in dns] + [x509.RFC822Name(e) for e in emails] +
            [x509.IPAddress(ipaddress.ip_address(i)) for i in ips] +
            [x509.UniformResourceIdentifier(u) for u in uris])
    if sans:
        # Go marks SAN critical only when the subject is empty.
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=len(subject) == 0)
    return b.sign(issuer_key, sign_hash_for(issuer_key))


def load_pem_certs(text):
    out = []
    for m in re.finditer(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----",
                         text, re.S):
        out.append(x509.load_pem_x509_certificate(m.group(0).encode()))
    return out


def load_pem_key(text):
    m = re.search(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----",
                  text, re.S)
    if not m:
        return None
    return serialization.load_pem_private_key(m.group(0).encode(), password=None)


def same_public_key(a, b):
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return (a.public_bytes(serialization.Encoding.DER, fmt) ==
            b.public_bytes(serialization.Encoding.DER, fmt))


def verify_signed_by(cert, issuer):
    """True if cert's signature verifies with issuer's public key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding
    pub = issuer.public_key()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                       cert.signature_hash_algorithm)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(pub, ed25519.Ed25519PublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


# --------------------------------------------------------------------------
# Name validation (issuing.ValidateNames)

LABEL_RE = r"([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])"
HOSTNAME_RE = re.compile(r"^(\*\.)?(" + LABEL_RE + r"\.)*" + LABEL_RE + r"\.?$")
LEFT_WILD_RE = re.compile(r"^(\*|\*" + LABEL_RE + "|" + LABEL_RE + r"\*|" + LABEL_RE +
                          r"\*" + LABEL_RE + ")$")


def _idna(name):
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _glob(pattern, s):
    """ryanuber/go-glob: '*' matches any run of characters."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == s
    if not s.startswith(parts[0]):
        return False
    pos = len(parts[0])
    for p in parts[1:-1]:
        idx = s.find(p, pos)
        if idx < 0:
            return False
        pos = idx + len(p)
    return s.endswith(parts[-1]) and len(s) - len(parts[-1]) >= pos


def validate_names(role, names, display_name=""):
    for name in names:
        reduced = name
        email_domain = reduced
        wildcard_label = ""
        is_email = False
        is_wild = False
        if "@" in reduced:
            sp = reduced.split("@")
            if len(sp) != 2:
                return name
            reduced = sp[1]
            email_domain = sp[1]
            is_email = True
        if "*" in reduced:
            is_wild = True
            if not role.get("allow_wildcard_certificates", True):
                return name
            if reduced.count("*") > 1:
                return name
            sp = reduced.split(".", 1)
            if len(sp) != 2:
                wildcard_label, reduced = sp[0], ""
            else:
                wildcard_label, reduced = sp[0], sp[1]
                if "*" in reduced:
                    return name
        if is_email and is_wild:
            return name
        if role.get("enforce_hostnames", True):
            if reduced != "":
                conv = _idna(reduced)
                if conv is None or not HOSTNAME_RE.match(conv):
                    return name
            if is_wild and not LEFT_WILD_RE.match(wildcard_label):
                return name
        if role.get("allow_any_name"):
            continue
        if role.get("allow_localhost", True):
            if reduced in ("localhost", "localdomain") or (
                    is_email and email_domain in ("localhost", "localdomain")):
                continue
            if role.get("allow_subdomains"):
                if reduced.endswith(".localhost") or (is_wild and reduced == "localhost"):
                    continue
                if reduced.endswith(".localdomain") or (is_wild and reduced == "localdomain"):
                    continue
        if role.get("allow_token_display_name") and display_name:
            if name == display_name:
                continue
            if role.get("allow_subdomains") and (reduced.endswith("." + display_name) or
                                                 (is_wild and reduced == display_name)):
                continue
        valid = False
        for dom in role.get("allowed_domains") or []:
            if dom == "":
                continue
            if role.get("allow_bare_domains") and (
                    name.lower() == dom.lower() or
                    (is_email and email_domain.lower() == dom.lower())):
                valid = True
                break
            if role.get("allow_subdomains"):
                if reduced.endswith("." + dom) or (is_wild and reduced.lower() == dom.lower()):
                    valid = True
                    break
            if role.get("allow_glob_domains") and "*" in dom and _glob(dom.lower(), name.lower()):
                valid = True
                break
        if valid:
            continue
        return name
    return ""


# --------------------------------------------------------------------------
# The engine

ROLE_DEFAULTS = {
    "ttl": 0, "max_ttl": 0,
    "allow_localhost": True, "allowed_domains": [], "allowed_domains_template": False,
    "allow_bare_domains": False, "allow_subdomains": False, "allow_glob_domains": False,
    "allow_wildcard_certificates": True, "allow_any_name": False,
    "enforce_hostnames": True, "allow_ip_sans": True, "allowed_uri_sans": [],
    "allowed_uri_sans_template": False, "allowed_other_sans": [],
    "allowed_serial_numbers": [], "allowed_user_ids": [],
    "server_flag": True, "client_flag": True, "code_signing_flag": False,
    "email_protection_flag": False, "key_type": "rsa", "key_bits": 2048,
    "signature_bits": 256, "use_pss": False,
    "key_usage": ["DigitalSignature", "KeyAgreement", "KeyEncipherment"],
    "ext_key_usage": [], "ext_key_usage_oids": [],
    "use_csr_common_name": True, "use_csr_sans": True,
    "ou": [], "organization": [], "country": [], "locality": [], "province": [],
    "street_address": [], "postal_code": [],
    "generate_lease": False, "no_store": False, "require_cn": True,
    "policy_identifiers": [], "basic_constraints_valid_for_non_ca": False,
    "not_before_duration": 30, "not_after": "", "issuer_ref": "default",
    "cn_validations": ["email", "hostname"], "allow_token_display_name": False,
    "serial_number_source": "json-csr",
}
ROLE_BOOL = {k for k, v in ROLE_DEFAULTS.items() if isinstance(v, bool)}
ROLE_LIST = {k for k, v in ROLE_DEFAULTS.items() if isinstance(v, list)}
ROLE_DUR = {"ttl", "max_ttl", "not_before_duration"}

PKI_UNAUTH = [re.compile(p) for p in (
    r"^cert/.+$", r"^ca/pem$", r"^ca_chain$", r"^ca$", r"^crl$", r"^crl/pem$",
    r"^crl/delta$", r"^crl/delta/pem$", r"^issuer/[^/]+/(pem|der|json)$",
    r"^issuer/[^/]+/crl(/pem|/der)?$", r"^issuer/[^/]+/crl/delta(/pem|/der)?$",
    r"^issuers/?$", r"^ocsp.*$",
)]


class Issuer:
    def __init__(self, cert, key, chain, name=""):
        self.id = new_uuid()
        self.key_id = new_uuid()
        self.name = name
        self.cert = cert
        self.key = key
        self.chain = chain            # list of certs, self first
        self.leaf_not_after_behavior = "err"
        self.usage = "read-only,issuing-certificates,crl-signing,ocsp-signing"

    def data(self):
        return {
            "issuer_id": self.id,
            "issuer_name": self.name,
            "key_id": self.key_id if self.key else "",
            "certificate": cert_pem(self.cert) + "\n",
            "ca_chain": [cert_pem(c) + "\n" for c in self.chain],
            "leaf_not_after_behavior": self.leaf_not_after_behavior,
            "manual_chain": None,
            "usage": self.usage,
            "revocation_signature_algorithm": "",
            "revoked": False,
            "issuing_certificates": [], "crl_distribution_points": [], "ocsp_servers": [],
        }


class PkiBackend:
    type = "pki"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount
        self.roles = {}
        self.issuers = {}
        self.default_issuer = None
        self.pending_keys = {}        # key_id -> private key
        self.certs = {}               # colon serial -> {"cert", "revoked", "issuer_id"}
        self.crl_number = 1
        # config/crl (Vault 1.12+): delta CRLs are built only with enable_delta
        self.crl_config = {"expiry": "72h", "disable": False, "ocsp_disable": False,
                           "auto_rebuild": False, "auto_rebuild_grace_period": "12h",
                           "enable_delta": False, "delta_rebuild_interval": "15m",
                           "ocsp_expiry": "12h", "cross_cluster_revocation": False,
                           "unified_crl": False, "unified_crl_on_existing_paths": False}
        self.urls = {"issuing_certificates": [], "crl_distribution_points": [],
                     "ocsp_servers": [], "enable_templating": False}

    # ---- plumbing

    def unauthenticated(self, req):
        return req.op in ("read", "list") and any(p.match(req.sub) for p in PKI_UNAUTH)

    def write_op(self, req):
        m = re.match(r"^roles/([^/]+)$", req.sub)
        if m:
            return "update" if m.group(1) in self.roles else "create"
        return "update"

    def add_issuer(self, cert, key, chain, make_default=True, name=""):
        iss = Issuer(cert, key, chain, name)
        self.issuers[iss.id] = iss
        if make_default or self.default_issuer is None:
            self.default_issuer = iss.id
        return iss

    def _issuer(self, ref="default"):
        if ref in (None, "", "default"):
            if self.default_issuer is None:
                raise bad_request("no default issuer currently configured")
            return self.issuers[self.default_issuer]
        if ref in self.issuers:
            return self.issuers[ref]
        for iss in self.issuers.values():
            if iss.name == ref:
                return iss
        raise bad_request("unable to find PKI issuer for reference: %s" % ref)

    def _mount_ttls(self):
        return self.mount.default_ttl(), self.mount.max_ttl()

    # ---- dispatcher

    def handle(self, req):
        s, op = req.sub, req.op
        if s in ("roles", "roles/") and op == "list":
            return self._list(sorted(self.roles))
        m = re.match(r"^roles/([^/]+)$", s)
        if m:
            return self._role(req, m.group(1))
        m = re.match(r"^(?:issuer/([^/]+)/)?(issue|sign)/([^/]+)$", s)
        if m:
            if op not in ("update", "create"):
                raise unsupported()
            return self._issue_sign(req, m.group(3), sign=m.group(2) == "sign",
                                    issuer_ref=m.group(1) or None)
        if s == "revoke":
            if op not in ("update", "create"):
                raise unsupported()
            return self._revoke(req)
        if s in ("certs", "certs/") and op == "list":
            return self._list(sorted(self.certs))
        if s == "ca/pem" and op == "read":
            iss = self._issuer()
            return raw(200, (cert_pem(iss.cert) + "\n").encode(),
                       "application/pem-certificate-chain")
        if s == "ca" and op == "read":
            iss = self._issuer()
            return raw(200, iss.cert.public_bytes(serialization.Encoding.DER),
                       "application/pkix-cert")
        if s == "ca_chain" and op == "read":
            iss = self._issuer()
            return raw(200, "\n".join(cert_pem(c) for c in iss.chain).encode() + b"\n",
                       "application/pkix-cert")
        if s in ("crl", "crl/pem", "cert/crl") and op == "read":
            iss = self._issuer()
            crl = self._build_crl(iss)
            if s == "crl":
                return raw(200, crl.public_bytes(serialization.Encoding.DER),
                           "application/pkix-crl")
            pem = crl.public_bytes(serialization.Encoding.PEM).decode()
            if s == "crl/pem":
                return raw(200, pem.encode(), "application/x-pem-file")
            return envelope({"certificate": pem, "revocation_time": 0,
                             "revocation_time_rfc3339": ""})
        m = re.match(r"^(?:issuer/([^/]+)/)?crl/delta(/pem|/der)?$", s)
        if m and op == "read":
            return self._delta_crl(self._issuer(m.group(1) or "default"), m.group(2))
        m = re.match(r"^issuer/([^/]+)/crl(/pem|/der)?$", s)
        if m and op == "read":
            crl = self._build_crl(self._issuer(m.group(1)))
            if m.group(2) == "/pem":
                return raw(200, crl.public_bytes(serialization.Encoding.PEM),
                           "application/x-pem-file")
            if m.group(2) == "/der":
                return raw(200, crl.public_bytes(serialization.Encoding.DER),
                           "application/pkix-crl")
            return envelope({"crl": crl.public_bytes(serialization.Encoding.PEM).decode()})
        if s == "config/crl":
            if op == "read":
                return envelope(dict(self.crl_config))
            if op in ("update", "create"):
                for k, v in req.data.items():
                    if k not in self.crl_config:
                        continue
                    if isinstance(self.crl_config[k], bool):
                        v = parse_bool(v, self.crl_config[k])
                    self.crl_config[k] = v
                return envelope(dict(self.crl_config))
        if s == "root/replace" and op in ("update", "create"):
            iss = self._issuer(req.data.get("default") or "next")
            self.default_issuer = iss.id
            return envelope({"default": iss.id})
        if s in ("cert/ca_chain",) and op == "read":
            iss = self._issuer()
            chain = "\n".join(cert_pem(c) for c in iss.chain) + "\n"
            return envelope({"certificate": chain, "ca_chain": chain, "revocation_time": 0,
                             "revocation_time_rfc3339": "", "issuer_id": iss.id})
        if s == "cert/ca" and op == "read":
            iss = self._issuer()
            return envelope({"certificate": cert_pem(iss.cert) + "\n", "revocation_time": 0,
                             "revocation_time_rfc3339": "", "issuer_id": iss.id})
        m = re.match(r"^cert/([0-9a-fA-F:\-]+)(/raw(/pem)?)?$", s)
        if m and op == "read":
            return self._read_cert(normalize_serial(m.group(1)), m.group(2), m.group(3))
        m = re.match(r"^(root|intermediate)/generate/(internal|exported|existing|kms)$", s)
        if m:
            if op not in ("update", "create"):
                raise unsupported()
            if m.group(1) == "root":
                return self._root_generate(req, m.group(2))
            return self._intermediate_generate(req, m.group(2))
        if s == "root/sign-intermediate" or re.match(r"^issuer/[^/]+/sign-intermediate$", s):
            return self._sign_intermediate(req)
        if s in ("intermediate/set-signed", "config/ca", "issuers/import/bundle",
                 "issuers/import/cert"):
            if op not in ("update", "create"):
                raise unsupported()
            return self._import(req, s)
        if s == "root" and op == "delete":
            self.issuers.clear()
            self.default_issuer = None
            self.pending_keys.clear()
            return no_content()
        if s in ("issuers", "issuers/") and op == "list":
            keys = sorted(self.issuers)
            if not keys:
                raise not_found()    # Vault answers an empty LIST with a 404
            info = {i: {"issuer_name": self.issuers[i].name, "is_default": i == self.default_issuer}
                    for i in keys}
            return envelope({"keys": keys, "key_info": info})
        m = re.match(r"^issuer/([^/]+)(/json|/pem|/der)?$", s)
        if m:
            return self._issuer_ep(req, m.group(1), m.group(2))
        if s == "config/issuers":
            if op == "read":
                return envelope({"default": self.default_issuer or "",
                                 "default_follows_latest_issuer": False})
            if op in ("update", "create"):
                ref = req.data.get("default") or req.data.get("default_issuer")
                iss = self._issuer(ref)
                self.default_issuer = iss.id
                return envelope({"default": iss.id, "default_follows_latest_issuer": False})
        if s == "config/urls":
            if op == "read":
                return envelope(dict(self.urls))
            if op in ("update", "create"):
                for k in ("issuing_certificates", "crl_distribution_points", "ocsp_servers"):
                    if k in req.data:
                        self.urls[k] = parse_str_list(req.data[k])
                return envelope(dict(self.urls))
        if s == "tidy" and op in ("update", "create"):
            return Response(202, {"request_id": new_uuid(), "lease_id": "", "renewable": False,
                                  "lease_duration": 0, "data": None, "wrap_info": None,
                                  "warnings": ["Tidy operation successfully started. Any "
                                               "information from the operation will be "
                                               "printed to Vault's server logs."],
                                  "auth": None, "mount_type": "pki"})
        if s == "crl/rotate" and op == "read":
            self.crl_number += 1
            return envelope({"success": True})
        raise unsupported() if self._known_prefix(s) else VaultError(
            404, ['unsupported path'])

    def _known_prefix(self, s):
        return s.split("/")[0] in ("roles", "issue", "sign", "cert", "certs", "ca", "crl",
                                   "root", "intermediate", "issuer", "issuers", "config",
                                   "revoke", "ca_chain")

    def _list(self, keys):
        if not keys:
            raise not_found()
        return envelope({"keys": keys})

    # ---- roles

    def _role_data(self, role):
        d = dict(role)
        return d

    def _role(self, req, name):
        op = req.op
        if op == "read":
            role = self.roles.get(name)
            if role is None:
                raise not_found()
            return envelope(self._role_data(role))
        if op == "delete":
            self.roles.pop(name, None)
            return no_content()
        if op in ("create", "update", "patch"):
            base = dict(self.roles.get(name) or ROLE_DEFAULTS)
            base = {k: (list(v) if isinstance(v, list) else v) for k, v in base.items()}
            d = req.data
            for k, v in d.items():
                if k not in ROLE_DEFAULTS and k not in ("lease", "lease_max", "allowed_base_domain",
                                                        "allow_base_domain", "backend"):
                    continue
                if k in ROLE_BOOL:
                    base[k] = parse_bool(v, ROLE_DEFAULTS[k], k)
                elif k in ROLE_LIST:
                    base[k] = parse_str_list(v)
                elif k in ROLE_DUR:
                    base[k] = parse_duration(v, k)
                elif k in ("key_bits", "signature_bits"):
                    base[k] = parse_int(v, 0, k)
                elif k in ROLE_DEFAULTS:
                    base[k] = v if v is not None else ROLE_DEFAULTS[k]
            if "key_bits" not in d and name not in self.roles:
                base["key_bits"] = 0
            base["key_type"] = str(base["key_type"]).lower()
            base["key_bits"] = validate_key_type_length(base["key_type"], base["key_bits"])
            if base["max_ttl"] > 0 and base["ttl"] > base["max_ttl"]:
                raise bad_request('"ttl" value must be less than "max_ttl" value')
            base["ttl"] = int(base["ttl"])
            base["max_ttl"] = int(base["max_ttl"])
            self.roles[name] = base
            return envelope(self._role_data(base))
        raise unsupported()

    # ---- issue / sign

    def _issue_sign(self, req, role_name, sign, issuer_ref=None):
        role = self.roles.get(role_name)
        if role is None:
            raise bad_request("unknown role: %s" % role_name)
        if not sign and role["key_type"] == "any":
            raise bad_request('role key type "any" not allowed for issuing certificates, '
                              'only signing')
        d = req.data
        issuer = self._issuer(issuer_ref or role.get("issuer_ref") or "default")
        if issuer.key is None:
            raise bad_request("unable to sign certificates with an issuer lacking a private key")
        fmt = d.get("format") or "pem"
        if fmt not in ("pem", "der", "pem_bundle"):
            raise bad_request("invalid format specified")
        pk_fmt = d.get("private_key_format") or "der"
        if pk_fmt not in ("", "der", "pem", "pkcs8"):
            raise bad_request('invalid private_key_format specified')

        csr = None
        if sign:
            csr_pem = d.get("csr") or ""
            if not csr_pem:
                raise bad_request("\"csr\" is empty")
            try:
                csr = x509.load_pem_x509_csr(csr_pem.encode())
            except ValueError:
                raise bad_request("certificate request could not be parsed")
            if not csr.is_signature_valid:
                raise bad_request("request signature invalid")
            ktype, kbits = key_type_of(csr.public_key())
            if role["key_type"] != "any":
                if ktype != role["key_type"]:
                    raise bad_request("role requires keys of type %s" % role["key_type"])
                if ktype in ("rsa", "ec") and kbits < role["key_bits"]:
                    raise bad_request("role requires a minimum of a %d-bit key, but CSR's key "
                                      "is %d bits" % (role["key_bits"], kbits))
            elif ktype == "rsa" and kbits < 2048:
                raise bad_request("RSA keys < 2048 bits are unsafe and not supported: got %d"
                                  % kbits)

        # ---- names
        cn = ""
        if csr is not None and role["use_csr_common_name"]:
            attrs = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            cn = attrs[0].value if attrs else ""
        if cn == "":
            cn = d.get("common_name") or ""
            if cn == "" and role["require_cn"]:
                raise bad_request('the common_name field is required, or must be provided in a '
                                  'CSR with "use_csr_common_name" set to true, unless '
                                  '"require_cn" is set to false')
        exclude_cn = parse_bool(d.get("exclude_cn_from_sans"), False, "exclude_cn_from_sans")
        dns, emails, ips, uris = [], [], [], []
        csr_sans = None
        if csr is not None and role["use_csr_sans"]:
            try:
                csr_sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            except x509.ExtensionNotFound:
                csr_sans = x509.SubjectAlternativeName([])
            dns = list(csr_sans.get_values_for_type(x509.DNSName))
            emails = list(csr_sans.get_values_for_type(x509.RFC822Name))
        if cn and not exclude_cn:
            if "@" in cn:
                emails.append(cn)
            else:
                conv = _idna(cn)
                if conv is None:
                    raise bad_request("idna: invalid label %r" % cn)
                if HOSTNAME_RE.match(conv):
                    dns.append(conv)
        warnings = []
        if csr_sans is None:
            alt = d.get("alt_names")
            if alt:
                for v in sorted(set(parse_str_list(alt))):
                    if "@" in v:
                        emails.append(v)
                    else:
                        conv = _idna(v)
                        if conv is None:
                            raise bad_request("idna: invalid label %r" % v)
                        if HOSTNAME_RE.match(conv):
                            dns.append(conv)
        elif d.get("alt_names"):
            warnings.append('the alt_names field was provided but the role is set with '
                            '"use_csr_sans" set to true')
        if sign and role["use_csr_common_name"] and d.get("common_name"):
            warnings.append('the common_name field was provided but the role is set with '
                            '"use_csr_common_name" set to true')
        display = req.token.display_name if req.token else ""
        if cn:
            bad = validate_names(role, [cn], display)
            if bad:
                raise bad_request("common name %s not allowed by this role" % bad)
        bad = validate_names(role, dns, display)
        if bad:
            raise bad_request("subject alternate name %s not allowed by this role" % bad)
        bad = validate_names(role, emails, display)
        if bad:
            raise bad_request("email address %s not allowed by this role" % bad)
        if csr_sans is not None:
            csr_ips = [str(i) for i in csr_sans.get_values_for_type(x509.IPAddress)]
            if csr_ips:
                if not role["allow_ip_sans"]:
                    raise bad_request("IP Subject Alternative Names are not allowed in this "
                                      "role, but was provided some via CSR")
                ips = csr_ips
            csr_uris = list(csr_sans.get_values_for_type(x509.UniformResourceIdentifier))
            if csr_uris:
                if not role["allowed_uri_sans"]:
                    raise bad_request("URI Subject Alternative Names are not allowed in this "
                                      "role, but were provided via CSR")
                for u in csr_uris:
                    if not any(_glob(a, u) for a in role["allowed_uri_sans"]):
                        raise bad_request("URI Subject Alternative Names were provided via CSR "
                                          "which are not valid for this role")
                uris = csr_uris
        else:
            ip_alt = parse_str_list(d.get("ip_sans"))
            if ip_alt:
                if not role["allow_ip_sans"]:
                    raise bad_request("IP Subject Alternative Names are not allowed in this "
                                      "role, but was provided %s" % "[" + " ".join(ip_alt) + "]")
                for v in ip_alt:
                    try:
                        ipaddress.ip_address(v)
                    except ValueError:
                        raise bad_request('the value "%s" is not a valid IP address' % v)
                ips = ip_alt
            uri_alt = parse_str_list(d.get("uri_sans"))
            if uri_alt:
                if not role["allowed_uri_sans"]:
                    raise bad_request("URI Subject Alternative Names are not allowed in this "
                                      "role, but were provided via the API")
                for u in uri_alt:
                    if not any(_glob(a, u) for a in role["allowed_uri_sans"]):
                        raise bad_request("URI Subject Alternative Names were provided via the "
                                          "API which are not valid for this role")
                uris = uri_alt

        # ---- validity (real clock)
        ttl = parse_duration(d.get("ttl"), "ttl")
        not_after_alt = role.get("not_after") or d.get("not_after") or ""
        if ttl > 0 and not_after_alt:
            raise bad_request("Either ttl or not_after should be provided. Both should not be "
                              "provided in the same request.")
        mount_default, mount_max = self._mount_ttls()
        if ttl == 0 and role["ttl"] > 0:
            ttl = role["ttl"]
        max_ttl = role["max_ttl"] if role["max_ttl"] > 0 else 0
        if ttl == 0:
            ttl = mount_default
        if max_ttl == 0:
            max_ttl = mount_max
        if ttl > max_ttl:
            warnings.append('TTL "%s" is longer than permitted maxTTL "%s", so maxTTL is being '
                            'used' % (_go_dur(ttl), _go_dur(max_ttl)))
            ttl = max_ttl
        now = utcnow()
        if not_after_alt:
            try:
                not_after = datetime.datetime.strptime(
                    not_after_alt.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
            except ValueError as e:
                raise bad_request(str(e))
        else:
            not_after = now + datetime.timedelta(seconds=ttl)
        ca_not_after = not_after_of(issuer.cert)
        if not_after > ca_not_after:
            beh = issuer.leaf_not_after_behavior
            if beh == "truncate":
                not_after = ca_not_after
            elif beh == "permit":
                pass
            else:
                raise bad_request("cannot satisfy request, as TTL would result in notAfter of "
                                  "%s that is beyond the expiration of the CA certificate at %s"
                                  % (_rfc_nano(not_after), _rfc_nano(ca_not_after)))
        not_before = now - datetime.timedelta(seconds=role["not_before_duration"])

        # ---- key
        priv = None
        if sign:
            pub = csr.public_key()
        else:
            with self.sim.unlocked():
                priv = generate_key(role["key_type"], role["key_bits"])
            pub = priv.public_key()

        subject = build_name(cn, role)
        ekus = []
        if role["code_signing_flag"]:
            ekus.append(ExtendedKeyUsageOID.CODE_SIGNING)
        if role["email_protection_flag"]:
            ekus.append(ExtendedKeyUsageOID.EMAIL_PROTECTION)
        serial = new_serial()
        cert = make_leaf_cert(issuer.cert, issuer.key, pub, subject, not_before, not_after,
                              dns=sorted(set(dns)), ips=ips, uris=uris, emails=sorted(set(emails)),
                              server=role["server_flag"], client=role["client_flag"],
                              key_usage=role["key_usage"], extra_eku=ekus, serial=serial,
                              basic_constraints=role["basic_constraints_valid_for_non_ca"])
        sn = serial_colon(serial)
        if not role["no_store"]:
            self.certs[sn] = {"cert": cert, "revoked": None, "issuer_id": issuer.id}

        chain = list(issuer.chain)
        if parse_bool(d.get("remove_roots_from_chain"), False):
            chain = [c for c in chain if not is_self_signed(c)]
        data = {"expiration": int(not_after.timestamp()), "serial_number": sn}
        pkcs8 = pk_fmt == "pkcs8"
        if fmt in ("pem", "pem_bundle"):
            data["issuing_ca"] = cert_pem(issuer.cert)
            leaf = cert_pem(cert)
            if fmt == "pem_bundle":
                parts = []
                if priv is not None:
                    parts.append(key_pem(priv, pkcs8))
                parts.append(leaf)
                parts.extend(cert_pem(c) for c in chain)
                data["certificate"] = "\n".join(parts)
            else:
                data["certificate"] = leaf
            if chain:
                data["ca_chain"] = [cert_pem(c) for c in chain]
            if priv is not None:
                data["private_key"] = key_pem(priv, pkcs8)
                data["private_key_type"] = key_type_of(pub)[0]
        else:
            data["certificate"] = base64.b64encode(
                cert.public_bytes(serialization.Encoding.DER)).decode()
            data["issuing_ca"] = base64.b64encode(
                issuer.cert.public_bytes(serialization.Encoding.DER)).decode()
            if chain:
                data["ca_chain"] = [base64.b64encode(c.public_bytes(serialization.Encoding.DER))
                                    .decode() for c in chain]
            if priv is not None:
                data["private_key"] = base64.b64encode(key_der(priv, pkcs8)).decode()
                data["private_key_type"] = key_type_of(pub)[0]

        if role["generate_lease"]:
            lease_ttl = max(0, int((not_after - utcnow()).total_seconds()))
            lease_id = "%s%s/%s/%s" % (self.mount.path, "sign" if sign else "issue", role_name,
                                       rand_base62(24))
            self.sim.add_lease(lease_id, req.token, lease_ttl, renewable=False,
                               mount=self.mount, on_revoke=lambda sn=sn: self._do_revoke(sn))
            return envelope(data, warnings=warnings, lease_id=lease_id,
                            lease_duration=lease_ttl, renewable=False)
        return envelope(data, warnings=warnings)

    # ---- revoke / read / CRL

    def _do_revoke(self, sn):
        ent = self.certs.get(sn)
        if ent and ent["revoked"] is None:
            ent["revoked"] = time.time()
            self.crl_number += 1

    def _revoke(self, req):
        sn = normalize_serial(req.data.get("serial_number") or "")
        if not sn and req.data.get("certificate"):
            certs = load_pem_certs(req.data["certificate"])
            if certs:
                sn = serial_colon(certs[0].serial_number)
        if not sn:
            raise bad_request("The serial number must be provided")
        for iss in self.issuers.values():
            if serial_colon(iss.cert.serial_number) == sn:
                raise bad_request("adding issuer (id: %s) to its own CRL is not allowed"
                                  % iss.id)
        ent = self.certs.get(sn)
        if ent is None:
            raise bad_request("certificate with serial %s not found." % sn)
        if ent["revoked"] is None:
            if not_after_of(ent["cert"]) < utcnow():
                return envelope(None, warnings=["certificate with serial %s already expired; "
                                                "refusing to add to CRL" % sn])
            self._do_revoke(sn)
        t = ent["revoked"]
        return envelope({"revocation_time": int(t), "revocation_time_rfc3339": rfc3339(t),
                         "state": "revoked"})

    def _read_cert(self, sn, raw_suffix, pem_suffix):
        ent = self.certs.get(sn)
        if ent is None:
            if raw_suffix:
                return Response(404, b"", content_type="application/pkix-cert")
            raise not_found()
        cert = ent["cert"]
        if raw_suffix:
            if pem_suffix:
                return raw(200, (cert_pem(cert) + "\n").encode(),
                           "application/pem-certificate-chain")
            return raw(200, cert.public_bytes(serialization.Encoding.DER), "application/pkix-cert")
        t = ent["revoked"]
        return envelope({
            "certificate": cert_pem(cert) + "\n",
            "revocation_time": int(t) if t else 0,
            "revocation_time_rfc3339": rfc3339(t) if t else "",
            "issuer_id": ent["issuer_id"],
        })

    def _build_crl(self, iss):
        """The issuer's CRL as Vault stores it: built again only when a revocation
        or crl/rotate moved crl_number (or the stored one would be stale), so two
        reads in between answer the same bytes."""
        cache = getattr(self, "_crl_cache", None)
        if cache is None:
            cache = self._crl_cache = {}
        hit = cache.get(iss.id)
        if hit and hit[0] == self.crl_number and hit[1] is iss.cert and \
                hit[2].next_update.replace(tzinfo=UTC) > utcnow():
            return hit[2]
        crl = self._make_crl(iss)
        cache[iss.id] = (self.crl_number, iss.cert, crl)
        return crl

    def _make_crl(self, iss):
        now = utcnow()
        b = (x509.CertificateRevocationListBuilder()
             .issuer_name(iss.cert.subject)
             .last_update(now)
             .next_update(now + datetime.timedelta(hours=72)))
        for sn, ent in sorted(self.certs.items()):
            if ent["revoked"] is None or ent["issuer_id"] != iss.id:
                continue
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(ent["cert"].serial_number)
                .revocation_date(datetime.datetime.fromtimestamp(int(ent["revoked"]), tz=UTC))
                .build())
        b = b.add_extension(x509.CRLNumber(self.crl_number), critical=False)
        b = b.add_extension(x509.AuthorityKeyIdentifier(ski_of(iss.cert), None, None),
                            critical=False)
        if iss.key is None:
            raise VaultError(500, ["unable to build CRL: issuer has no key"])
        return b.sign(iss.key, sign_hash_for(iss.key))

    def _delta_crl(self, iss, suffix):
        """crl/delta: empty (200, no body) unless config/crl enables delta CRLs,
        as Vault answers a CRL it has not built.  This sim rebuilds the complete
        CRL on every revocation (auto_rebuild off), so a delta lists nothing."""
        if not self.crl_config["enable_delta"]:
            if suffix:
                return raw(200, b"", "application/x-pem-file" if suffix == "/pem"
                           else "application/pkix-crl")
            return envelope({"crl": ""})
        cache = getattr(self, "_delta_cache", None)
        if cache is None:
            cache = self._delta_cache = {}
        hit = cache.get(iss.id)
        if hit and hit[0] == self.crl_number and hit[1] is iss.cert and \
                hit[2].next_update.replace(tzinfo=UTC) > utcnow():
            return self._crl_answer(hit[2], suffix)
        now = utcnow()
        b = (x509.CertificateRevocationListBuilder()
             .issuer_name(iss.cert.subject)
             .last_update(now)
             .next_update(now + datetime.timedelta(minutes=15)))
        b = b.add_extension(x509.CRLNumber(self.crl_number + 1), critical=False)
        b = b.add_extension(x509.DeltaCRLIndicator(self.crl_number), critical=True)
        b = b.add_extension(x509.AuthorityKeyIdentifier(ski_of(iss.cert), None, None),
                            critical=False)
        crl = b.sign(iss.key, sign_hash_for(iss.key))
        cache[iss.id] = (self.crl_number, iss.cert, crl)
        return self._crl_answer(crl, suffix)

    @staticmethod
    def _crl_answer(crl, suffix):
        if suffix == "/der":
            return raw(200, crl.public_bytes(serialization.Encoding.DER), "application/pkix-crl")
        pem = crl.public_bytes(serialization.Encoding.PEM)
        if suffix == "/pem":
            return raw(200, pem, "application/x-pem-file")
        return envelope({"crl": pem.decode()})

    # ---- CA setup endpoints

    def _ca_ttl(self, d):
        ttl = parse_duration(d.get("ttl"), "ttl")
        mount_default, mount_max = self._mount_ttls()
        if ttl == 0:
            ttl = mount_default
        warnings = []
        if ttl > mount_max:
            warnings.append('TTL "%s" is longer than permitted maxTTL "%s", so maxTTL is being '
                            'used' % (_go_dur(ttl), _go_dur(mount_max)))
            ttl = mount_max
        return ttl, warnings

    def _key_params(self, d):
        kt = (d.get("key_type") or "rsa").lower()
        if kt == "any":
            raise bad_request("invalid key_type: any")
        kb = validate_key_type_length(kt, parse_int(d.get("key_bits"), 0, "key_bits"))
        return kt, kb

    def _root_generate(self, req, gtype):
        d = req.data
        cn = d.get("common_name") or ""
        if not cn:
            raise bad_request("the common_name field is required")
        kt, kb = self._key_params(d)
        ttl, warnings = self._ca_ttl(d)
        with self.sim.unlocked():
            key = generate_key(kt, kb)
        now = utcnow()
        mpl = parse_int(d.get("max_path_length"), -1)
        cert = make_ca_cert(key, cn, now - datetime.timedelta(seconds=30),
                            now + datetime.timedelta(seconds=ttl),
                            max_path_len=None if mpl < 0 else mpl)
        iss = self.add_issuer(cert, key, [cert], make_default=True,
                              name=d.get("issuer_name") or "")
        data = {"certificate": cert_pem(cert), "issuing_ca": cert_pem(cert),
                "serial_number": serial_colon(cert.serial_number),
                "expiration": int(not_after_of(cert).timestamp()),
                "issuer_id": iss.id, "issuer_name": iss.name, "key_id": iss.key_id,
                "key_name": ""}
        if gtype == "exported":
            data["private_key"] = key_pem(key)
            data["private_key_type"] = kt
        return envelope(data, warnings=warnings)

    def _intermediate_generate(self, req, gtype):
        d = req.data
        cn = d.get("common_name") or ""
        if not cn:
            raise bad_request("the common_name field is required")
        kt, kb = self._key_params(d)
        with self.sim.unlocked():
            key = generate_key(kt, kb)
        csr = (x509.CertificateSigningRequestBuilder().subject_name(build_name(cn))
               .sign(key, sign_hash_for(key)))
        key_id = new_uuid()
        self.pending_keys[key_id] = key
        data = {"csr": csr.public_bytes(serialization.Encoding.PEM).decode().strip(),
                "key_id": key_id}
        if gtype == "exported":
            data["private_key"] = key_pem(key)
            data["private_key_type"] = kt
        return envelope(data)

    def _sign_intermediate(self, req):
        if req.op not in ("update", "create"):
            raise unsupported()
        d = req.data
        iss = self._issuer(d.get("issuer_ref") or "default")
        try:
            csr = x509.load_pem_x509_csr((d.get("csr") or "").encode())
        except ValueError:
            raise bad_request("certificate request could not be parsed")
        use_csr = parse_bool(d.get("use_csr_values"), False)
        cn = d.get("common_name") or ""
        subject = csr.subject if use_csr else build_name(cn)
        if not use_csr and not cn:
            raise bad_request("the common_name field is required")
        ttl, warnings = self._ca_ttl(d)
        now = utcnow()
        not_after = now + datetime.timedelta(seconds=ttl)
        ca_na = not_after_of(iss.cert)
        if not_after > ca_na:
            if iss.leaf_not_after_behavior == "truncate":
                not_after = ca_na
            elif iss.leaf_not_after_behavior != "permit":
                raise bad_request("cannot satisfy request, as TTL would result in notAfter of "
                                  "%s that is beyond the expiration of the CA certificate at %s"
                                  % (_rfc_nano(not_after), _rfc_nano(ca_na)))
        mpl = parse_int(d.get("max_path_length"), -1)
        cert = make_ca_cert(None, subject, now - datetime.timedelta(seconds=30), not_after,
                            issuer_cert=iss.cert, issuer_key=iss.key, pub=csr.public_key(),
                            max_path_len=None if mpl < 0 else mpl)
        sn = serial_colon(cert.serial_number)
        self.certs[sn] = {"cert": cert, "revoked": None, "issuer_id": iss.id}
        chain = [cert] + list(iss.chain)
        data = {"certificate": cert_pem(cert), "issuing_ca": cert_pem(iss.cert),
                "ca_chain": [cert_pem(c) for c in chain], "serial_number": sn,
                "expiration": int(not_after.timestamp())}
        return envelope(data, warnings=warnings)

    def _import(self, req, s):
        d = req.data
        text = d.get("certificate") or d.get("pem_bundle") or ""
        try:
            certs = load_pem_certs(text)
            key = load_pem_key(text)
        except ValueError as e:
            raise bad_request("error parsing PEM bundle: %s" % e)
        if not certs:
            raise bad_request("no certificates found in the provided bundle")
        leaf = certs[0]
        if key is None:
            for kid, k in list(self.pending_keys.items()):
                if same_public_key(k.public_key(), leaf.public_key()):
                    key = k
                    del self.pending_keys[kid]
                    break
        elif not same_public_key(key.public_key(), leaf.public_key()):
            raise bad_request("the private key does not match the first certificate")
        if key is None:
            raise bad_request("unable to find a matching private key for the imported issuer")
        iss = self.add_issuer(leaf, key, certs, make_default=True)
        return envelope({"imported_issuers": [iss.id], "imported_keys": [iss.key_id],
                         "mapping": {iss.id: iss.key_id}, "existing_issuers": None,
                         "existing_keys": None})

    def _issuer_ep(self, req, ref, suffix):
        iss = self._issuer(ref)
        if req.op == "read":
            if suffix == "/pem":
                chain = "\n".join(cert_pem(c) for c in iss.chain) + "\n"
                return raw(200, chain.encode(), "application/pem-certificate-chain")
            if suffix == "/der":
                return raw(200, iss.cert.public_bytes(serialization.Encoding.DER),
                           "application/pkix-cert")
            data = iss.data()
            if suffix == "/json":
                data = {"certificate": data["certificate"], "ca_chain": data["ca_chain"],
                        "issuer_id": iss.id, "issuer_name": iss.name}
            return envelope(data)
        if req.op in ("update", "create", "patch") and not suffix:
            d = req.data
            if "leaf_not_after_behavior" in d:
                beh = d["leaf_not_after_behavior"]
                if beh not in ("err", "truncate", "permit"):
                    raise bad_request("Unknown value for field `leaf_not_after_behavior`. "
                                      "Possible values are `err`, `truncate`, and `permit`.")
                iss.leaf_not_after_behavior = beh
            if "issuer_name" in d:
                iss.name = d["issuer_name"] or ""
            return envelope(iss.data())
        if req.op == "delete" and not suffix:
            self.issuers.pop(iss.id, None)
            if self.default_issuer == iss.id:
                self.default_issuer = None
            return no_content()
        raise unsupported()


def _go_dur(secs):
    from vs_core import go_duration
    return go_duration(secs)


def _rfc_nano(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
