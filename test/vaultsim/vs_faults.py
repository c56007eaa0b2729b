"""Faults that corrupt a real answer, for tests of what a client does with
a reply that is well formed but wrong (the certificate does not match the
key, has expired, is not valid yet, or chains to nobody).

They are not Vault behaviour: Vault never answers so.  They stand for a
broken or compromised server, or a proxy in the way, so that a client's
checks can be tested against a real issuance with one thing changed.
"""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import vs_pki as P

PKI_FAULTS = ("mismatched_key", "expired", "not_yet_valid", "untrusted_chain")


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode().rstrip("\n")


def _new_key_like(pub):
    if isinstance(pub, rsa.RSAPublicKey):
        return rsa.generate_private_key(65537, pub.key_size)
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key, like):
    fmt = (serialization.PrivateFormat.TraditionalOpenSSL
           if like.startswith("-----BEGIN EC") or like.startswith("-----BEGIN RSA")
           else serialization.PrivateFormat.PKCS8)
    return key.private_bytes(serialization.Encoding.PEM, fmt,
                             serialization.NoEncryption()).decode().rstrip("\n")


def _stranger_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    return key, P.make_ca_cert(key, "vaultsim stranger CA", now - datetime.timedelta(days=1),
                               now + datetime.timedelta(days=365))


def _resigned(leaf, not_before, not_after, pub=None):
    """LEAF (same subject and names; its public key unless PUB) signed by
    a stranger CA, valid from NOT_BEFORE to NOT_AFTER."""
    ca_key, ca = _stranger_ca()
    b = (x509.CertificateBuilder()
         .subject_name(leaf.subject)
         .issuer_name(ca.subject)
         .public_key(pub or leaf.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before)
         .not_valid_after(not_after))
    for ext in leaf.extensions:
        if ext.oid in (x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
                       x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER):
            continue
        b = b.add_extension(ext.value, ext.critical)
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                        critical=False)
    return b.sign(ca_key, hashes.SHA256()), ca


def corrupt_pki(body, kind):
    """Change the issue/sign answer BODY (a dict, changed in place) as KIND
    says.  Returns False when BODY holds no certificate."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("certificate"), str):
        return False
    leaf = x509.load_pem_x509_certificate(data["certificate"].encode())
    now = datetime.datetime.now(datetime.timezone.utc)
    if kind == "mismatched_key":
        if isinstance(data.get("private_key"), str):
            other = _new_key_like(leaf.public_key())
            data["private_key"] = _key_pem(other, data["private_key"])
        else:
            # sign mode: the certificate is for another key than the CSR's
            day = datetime.timedelta(days=1)
            cert, _ca = _resigned(leaf, now - day, now + day,
                                  _new_key_like(leaf.public_key()).public_key())
            data["certificate"] = _pem(cert)
        return True
    if kind in ("expired", "not_yet_valid"):
        day = datetime.timedelta(days=1)
        nb, na = ((now - 3 * day, now - day) if kind == "expired" else (now + day, now + 3 * day))
        cert, ca = _resigned(leaf, nb, na)
        data["certificate"] = _pem(cert)
        data["issuing_ca"] = _pem(ca)
        data["ca_chain"] = [_pem(ca)]
        data["expiration"] = int(na.timestamp())
        return True
    if kind == "untrusted_chain":
        _key, ca = _stranger_ca()
        data["issuing_ca"] = _pem(ca)
        data["ca_chain"] = [_pem(ca)]
        return True
    raise ValueError(kind)
