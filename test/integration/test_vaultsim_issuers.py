"""vaultsim's issuers, CA chain and CRL endpoints, driven by python3-hvac.

The trust bundles and CRLs of certagent read these; here a client nobody
here wrote checks they answer as Vault's PKI API documents: the issuers
LIST with keys and key_info, issuer/<ref>/json, ca_chain and crl/pem as
raw PEM (not JSON), crl/delta/pem empty until config/crl enables delta
CRLs, root/replace and config/issuers for the default issuer, and a
rollover that leaves the old intermediate an issuer of the mount.

Run: /usr/bin/python3 -m pytest -q test/integration/test_vaultsim_issuers.py
"""

import os
import sys

import pytest

hvac = pytest.importorskip("hvac")

from cryptography import x509                                           # noqa: E402
from cryptography.hazmat.primitives import serialization               # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vaultsim"))

from harness import Vaultsim                                            # noqa: E402


@pytest.fixture
def vs(tmp_path):
    with Vaultsim(tmp_path) as v:
        yield v


def client(vs, token=None):
    return hvac.Client(url=vs.https_addr, verify=vs.tls_ca,
                       token=token if token is not None else vs.root_token)


def pems(text):
    end = "-----END CERTIFICATE-----"
    return [x509.load_pem_x509_certificate((part + end).encode())
            for part in text.split(end) if "BEGIN CERTIFICATE" in part]


def test_issuers_list_has_keys_and_key_info_and_each_issuer_reads_as_json(vs):
    c = client(vs)
    listed = c.list("pki_int/issuers")
    keys = listed["data"]["keys"]
    info = listed["data"]["key_info"]
    assert len(keys) == 1 and set(info) == set(keys)
    assert info[keys[0]]["is_default"] is True
    assert "issuer_name" in info[keys[0]]
    one = c.read("pki_int/issuer/%s/json" % keys[0])["data"]
    assert one["issuer_id"] == keys[0]
    cert = pems(one["certificate"])[0]
    assert cert.subject.rfc4514_string() == "CN=vaultsim Intermediate CA"
    assert isinstance(one["ca_chain"], list) and one["ca_chain"]
    # "default" is a reference too, and the LIST needs no token (as in Vault).
    assert c.read("pki_int/issuer/default/json")["data"]["issuer_id"] == keys[0]
    assert client(vs, token="").list("pki_int/issuers")["data"]["keys"] == keys


def test_ca_chain_and_crl_pem_are_raw_pem_not_json(vs):
    c = client(vs)
    r = c.adapter.get("/v1/pki_int/ca_chain")
    text = r.text if hasattr(r, "text") else r
    assert text.startswith("-----BEGIN CERTIFICATE-----"), text[:80]
    chain = hvac.Client(url=vs.https_addr, verify=vs.tls_ca).secrets.pki \
        .read_ca_certificate_chain(mount_point="pki_int")
    assert chain.startswith("-----BEGIN CERTIFICATE-----")
    r = c.adapter.get("/v1/pki_int/crl/pem")
    text = r.text if hasattr(r, "text") else r
    crl = x509.load_pem_x509_crl(text.encode())
    assert crl.issuer.rfc4514_string() == "CN=vaultsim Intermediate CA"
    # cert/ca is the JSON form of the CA.
    ca = c.read("pki_int/cert/ca")["data"]["certificate"]
    assert pems(ca)[0].subject == crl.issuer


def test_a_revoked_serial_is_in_the_next_crl_signed_by_the_issuer(vs):
    c = client(vs)
    vs.pki_role("web", allowed_domains="example.com", allow_subdomains=True,
                max_ttl="1h")
    issued = c.secrets.pki.generate_certificate("web", "a.example.com",
                                                mount_point="pki_int")["data"]
    c.secrets.pki.revoke_certificate(issued["serial_number"], mount_point="pki_int")
    r = c.adapter.get("/v1/pki_int/crl/pem")
    crl = x509.load_pem_x509_crl((r.text if hasattr(r, "text") else r).encode())
    leaf = pems(issued["certificate"])[0]
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
    issuer = pems(issued["issuing_ca"])[0]
    assert crl.is_signature_valid(issuer.public_key())
    # The per-issuer CRL is the same list.
    iid = c.read("pki_int/issuer/default/json")["data"]["issuer_id"]
    r = c.adapter.get("/v1/pki_int/issuer/%s/crl/pem" % iid)
    per = x509.load_pem_x509_crl((r.text if hasattr(r, "text") else r).encode())
    assert per.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None


def test_delta_crl_is_empty_until_config_crl_enables_it(vs):
    c = client(vs)
    r = c.adapter.get("/v1/pki_int/crl/delta/pem")
    assert r.status_code == 200 and r.content == b""
    assert c.secrets.pki.read_crl_configuration(mount_point="pki_int")["data"][
        "enable_delta"] is False
    c.secrets.pki.set_crl_configuration(mount_point="pki_int",
                                        extra_params={"enable_delta": True,
                                                      "auto_rebuild": True})
    assert c.secrets.pki.read_crl_configuration(mount_point="pki_int")["data"][
        "enable_delta"] is True
    r = c.adapter.get("/v1/pki_int/crl/delta/pem")
    delta = x509.load_pem_x509_crl(r.content)
    assert delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).critical


def test_a_rollover_keeps_the_old_issuer_and_root_replace_moves_the_default(vs):
    c = client(vs)
    old = c.read("pki_int/issuer/default/json")["data"]["issuer_id"]
    new = vs.pki_rollover()["issuer_id"]
    assert new != old
    listed = c.list("pki_int/issuers")["data"]
    assert set(listed["keys"]) == {old, new}
    assert listed["key_info"][new]["is_default"] and not listed["key_info"][old]["is_default"]
    assert c.read("pki_int/config/issuers")["data"]["default"] == new
    # Leaves come from the new default issuer now.
    vs.pki_role("web", allowed_domains="example.com", allow_subdomains=True, max_ttl="1h")
    issued = c.secrets.pki.generate_certificate("web", "b.example.com",
                                                mount_point="pki_int")["data"]
    new_cert = pems(c.read("pki_int/issuer/%s/json" % new)["data"]["certificate"])[0]
    assert pems(issued["certificate"])[0].issuer == new_cert.subject
    assert pems(issued["issuing_ca"])[0] == new_cert
    # root/replace makes the old one the default again.
    resp = c.write("pki_int/root/replace", default=old)
    assert resp["data"]["default"] == old
    assert c.read("pki_int/config/issuers")["data"]["default"] == old
    # Deleting an issuer drops it from the LIST.
    c.delete("pki_int/issuer/%s" % new)
    assert c.list("pki_int/issuers")["data"]["keys"] == [old]


def test_the_issuers_api_of_an_unknown_path_is_a_404(vs):
    c = client(vs)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.read("pki_int/issuer/nope/json")
    # a mount without issuers: LIST answers 404, as Vault does for an empty list
    assert vs.api("POST", "sys/mounts/pki_empty", {"type": "pki"})[0] == 204
    st, _ = vs.api("LIST", "pki_empty/issuers")
    assert st == 404
    crl_der = c.adapter.get("/v1/pki_int/crl")
    assert x509.load_der_x509_crl(crl_der.content).public_bytes(
        serialization.Encoding.DER) == crl_der.content
