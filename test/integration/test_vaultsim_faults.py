"""vaultsim's faults on real answers: each changes what it says it does."""

import datetime
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness import Vaultsim


@pytest.fixture
def vs(tmp_path):
    with Vaultsim(tmp_path) as v:
        v.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                   max_ttl="1h", key_type="ec", key_bits=256)
        yield v


def issue(vs):
    st, body = vs.api("POST", "pki_int/issue/web", {"common_name": "a.example.test"})
    assert st == 200, body
    return body["data"]


def pub_of_cert(pem):
    return x509.load_pem_x509_certificate(pem.encode()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pub_of_key(pem):
    return serialization.load_pem_private_key(pem.encode(), None).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_mismatched_key_gives_a_key_of_another_pair(vs):
    vs.fault(path_prefix="/v1/pki_int/issue/", pki="mismatched_key")
    d = issue(vs)
    assert pub_of_cert(d["certificate"]) != pub_of_key(d["private_key"])
    d = issue(vs)   # the fault was used up
    assert pub_of_cert(d["certificate"]) == pub_of_key(d["private_key"])


@pytest.mark.parametrize("kind,past", [("expired", True), ("not_yet_valid", False)])
def test_validity_faults_move_the_window_and_keep_the_key(vs, kind, past):
    vs.fault(path_prefix="/v1/pki_int/issue/", pki=kind)
    d = issue(vs)
    c = x509.load_pem_x509_certificate(d["certificate"].encode())
    now = datetime.datetime.utcnow()
    if past:
        assert c.not_valid_after < now
    else:
        assert c.not_valid_before > now
    assert pub_of_cert(d["certificate"]) == pub_of_key(d["private_key"])
    assert c.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value == \
        "a.example.test"


def test_untrusted_chain_names_a_ca_that_did_not_sign_the_leaf(vs):
    vs.fault(path_prefix="/v1/pki_int/issue/", pki="untrusted_chain")
    d = issue(vs)
    leaf = x509.load_pem_x509_certificate(d["certificate"].encode())
    ca = x509.load_pem_x509_certificate(d["issuing_ca"].encode())
    assert leaf.issuer != ca.subject
    assert d["ca_chain"] == [d["issuing_ca"]]


def test_cut_body_closes_mid_answer(vs):
    vs.fault(path_prefix="/v1/pki_int/issue/", cut_body=True)
    with pytest.raises(Exception):
        vs.api("POST", "pki_int/issue/web", {"common_name": "a.example.test"})
    issue(vs)


def test_slow_body_trickles_the_answer(vs):
    vs.fault(path_prefix="/v1/sys/health", slow_body_ms=20)
    t0 = time.time()
    st, body = vs.api("GET", "sys/health")
    assert st == 200 and body["initialized"] is True
    assert time.time() - t0 >= 0.04


def test_an_unknown_pki_fault_is_refused(vs):
    st, body = vs.admin("POST", "fault", {"pki": "nonsense"})
    assert st == 400
    assert "pki must be one of" in body["errors"][0]
