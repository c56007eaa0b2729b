"""vaultsim response wrapping over plain HTTP (the parts hvac has no call for).

Run: /usr/bin/python3 -m pytest -q test/integration/test_vaultsim_wrapping.py
"""

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vaultsim"))

from harness import Vaultsim                                            # noqa: E402

WRAP_INFO_KEYS = {"token", "accessor", "ttl", "creation_time", "creation_path"}


@pytest.fixture(scope="module")
def vs(tmp_path_factory):
    with Vaultsim(tmp_path_factory.mktemp("vs")) as v:
        v.policy("reader", 'path "secret/data/*" { capabilities = ["read"] }')
        yield v


@pytest.fixture
def fresh(tmp_path):
    with Vaultsim(tmp_path) as v:
        yield v


def wrapped(vs, method, path, body=None, ttl="60s", token=None, **kw):
    kw.setdefault("headers", {})["X-Vault-Wrap-TTL"] = ttl
    if token is not None:
        kw["token"] = token
    st, resp = vs.api(method, path, body, **kw)
    assert st == 200, resp
    return resp


def test_wrapped_response_envelope(vs):
    vs.kv_put("w/env", {"k": "v"})
    resp = wrapped(vs, "GET", "secret/data/w/env", ttl="300")
    assert resp["data"] is None and resp["auth"] is None
    assert resp["lease_id"] == "" and resp["lease_duration"] == 0
    assert resp["renewable"] is False and resp["mount_type"] == ""
    info = resp["wrap_info"]
    assert set(info) == WRAP_INFO_KEYS          # no wrapped_accessor for a kv read
    assert info["ttl"] == 300 and info["creation_path"] == "secret/data/w/env"
    assert info["creation_time"].endswith("Z") and info["token"].startswith("hvs.")


def test_unwrap_answers_the_original_response_once(vs):
    vs.kv_put("w/once", {"k": "v"})
    direct = vs.api("GET", "secret/data/w/once")[1]
    resp = wrapped(vs, "GET", "secret/data/w/once")
    wt = resp["wrap_info"]["token"]
    st, hdrs, raw = vs.raw("POST", "sys/wrapping/unwrap", {}, token=wt)
    assert st == 200 and hdrs["content-type"] == "application/json"
    assert not raw.endswith(b"\n")               # the stored JSON, as marshalled at wrap time
    inner = json.loads(raw)
    assert inner["request_id"] == resp["request_id"]
    assert inner["data"] == direct["data"] and inner["mount_type"] == "kv"
    assert inner["wrap_info"] is None
    st, body = vs.api("POST", "sys/wrapping/unwrap", {}, token=wt)
    assert st == 400 and body == {"errors": ["wrapping token is not valid or does not exist"]}
    st, body = vs.api("POST", "sys/wrapping/unwrap", {"token": wt})
    assert st == 400 and body == {"errors": ["wrapping token is not valid or does not exist"]}


def test_wrapped_login_carries_wrapped_accessor(vs):
    role_id, secret_id = vs.approle("wrap-login", token_policies="reader")
    resp = wrapped(vs, "POST", "auth/approle/login", {"role_id": role_id,
                                                      "secret_id": secret_id}, token=None)
    info = resp["wrap_info"]
    assert info["creation_path"] == "auth/approle/login"
    st, inner = vs.api("POST", "sys/wrapping/unwrap", {"token": info["token"]})
    assert st == 200
    assert inner["auth"]["accessor"] == info["wrapped_accessor"]
    assert inner["auth"]["policies"] == ["default", "reader"]
    # The login token was created at wrap time and works.
    st, look = vs.api("GET", "auth/token/lookup-self", token=inner["auth"]["client_token"])
    assert st == 200 and look["data"]["path"] == "auth/approle/login"


def test_lookup_is_unauthenticated_and_does_not_use_the_token(vs):
    resp = wrapped(vs, "POST", "auth/token/create", {"policies": ["reader"]}, ttl="2m")
    wt = resp["wrap_info"]["token"]
    for _ in range(2):
        st, body = vs.api("POST", "sys/wrapping/lookup", {"token": wt}, token=None)
        assert st == 200
        assert body["data"] == {"creation_path": "auth/token/create",
                                "creation_time": resp["wrap_info"]["creation_time"],
                                "creation_ttl": 120}
    st, body = vs.api("POST", "sys/wrapping/lookup", {}, token=wt)
    assert st == 200 and body["data"]["creation_ttl"] == 120
    assert vs.api("POST", "sys/wrapping/unwrap", {"token": wt})[0] == 200
    st, body = vs.api("POST", "sys/wrapping/lookup", {"token": wt}, token=None)
    assert st == 400 and body["errors"] == ["wrapping token is not valid or does not exist"]


def test_wrapping_token_is_a_one_use_response_wrapping_token(vs):
    resp = wrapped(vs, "POST", "auth/token/create", {"policies": ["reader"]}, ttl="90")
    wt = resp["wrap_info"]["token"]
    st, body = vs.api("POST", "auth/token/lookup", {"token": wt})
    assert st == 200
    d = body["data"]
    assert d["policies"] == ["response-wrapping"] and d["num_uses"] == 1
    assert d["creation_ttl"] == 90 and d["explicit_max_ttl"] == 90
    assert d["renewable"] is False and d["orphan"] is True
    assert d["path"] == "auth/token/create" and d["accessor"] == resp["wrap_info"]["accessor"]
    # It can do nothing but unwrap (and read its cubbyhole/response).
    vs.kv_put("w/deny", {"k": "v"})
    st, body = vs.api("GET", "secret/data/w/deny", token=wt)
    assert st == 403 and body == {"errors": ["permission denied"]}


def test_reading_cubbyhole_response_is_deprecated_and_uses_the_token(vs):
    vs.kv_put("w/cubby", {"k": "v"})
    wt = wrapped(vs, "GET", "secret/data/w/cubby")["wrap_info"]["token"]
    st, body = vs.api("GET", "cubbyhole/response", token=wt)
    assert st == 200
    assert json.loads(body["data"]["response"])["data"]["data"] == {"k": "v"}
    assert body["warnings"] == [
        "Reading from 'cubbyhole/response' is deprecated. Please use sys/wrapping/unwrap to "
        "unwrap responses, as it provides additional security checks and other benefits."]
    st, body = vs.api("POST", "sys/wrapping/unwrap", {}, token=wt)
    assert st == 400 and body["errors"] == ["wrapping token is not valid or does not exist"]


def test_rewrap_gives_a_new_token_for_the_same_response(vs):
    vs.kv_put("w/rewrap", {"k": "v"})
    first = wrapped(vs, "GET", "secret/data/w/rewrap", ttl="10m")["wrap_info"]
    st, body = vs.api("POST", "sys/wrapping/rewrap", {"token": first["token"]})
    assert st == 200 and body["data"] is None
    second = body["wrap_info"]
    assert second["token"] != first["token"]
    assert second["ttl"] == 600 and second["creation_path"] == "secret/data/w/rewrap"
    assert vs.api("POST", "sys/wrapping/unwrap", {"token": first["token"]})[0] == 400
    st, inner = vs.api("POST", "sys/wrapping/unwrap", {"token": second["token"]})
    assert st == 200 and inner["data"]["data"] == {"k": "v"}
    # A wrapping token's own policy does not allow rewrap.
    third = wrapped(vs, "GET", "secret/data/w/rewrap")["wrap_info"]["token"]
    st, body = vs.api("POST", "sys/wrapping/rewrap", {}, token=third)
    assert st == 403 and body == {"errors": ["permission denied"]}


def test_sys_wrapping_wrap(vs):
    st, body = vs.api("POST", "sys/wrapping/wrap", {"a": "b"})
    assert st == 400 and body == {"errors": ["endpoint requires response wrapping to be used"]}
    resp = wrapped(vs, "POST", "sys/wrapping/wrap", {"a": "b", "n": 1})
    assert resp["wrap_info"]["creation_path"] == "sys/wrapping/wrap"
    st, inner = vs.api("POST", "sys/wrapping/unwrap", {"token": resp["wrap_info"]["token"]})
    assert st == 200 and inner["data"] == {"a": "b", "n": 1}


def test_raw_answers_unwrap_raw(vs):
    st, _h, pem = vs.raw("GET", "pki_int/ca/pem", token=None)
    resp = wrapped(vs, "GET", "pki_int/ca/pem")
    st, hdrs, raw = vs.raw("POST", "sys/wrapping/unwrap", {},
                           token=resp["wrap_info"]["token"])
    assert st == 200 and raw == pem
    assert hdrs["content-type"] == "application/pem-certificate-chain"


def test_errors_and_empty_answers_are_not_wrapped(vs):
    st, body = vs.api("GET", "secret/data/w/missing", headers={"X-Vault-Wrap-TTL": "60"})
    assert st == 404 and body == {"errors": []}
    st, body = vs.api("POST", "auth/approle/login", {"role_id": "nope", "secret_id": "x"},
                      token=None, headers={"X-Vault-Wrap-TTL": "60"})
    assert st == 400 and body == {"errors": ["invalid role or secret ID"]}
    st, hdrs, raw = vs.raw("POST", "kv/w/nowrap", {"a": "b"}, headers={"X-Vault-Wrap-TTL": "60"})
    assert st == 204 and raw == b""
    # X-Vault-Wrap-TTL: 0 means no wrapping
    vs.kv_put("w/zero", {"k": "v"})
    st, body = vs.api("GET", "secret/data/w/zero", headers={"X-Vault-Wrap-TTL": "0"})
    assert st == 200 and body["wrap_info"] is None and body["data"]["data"] == {"k": "v"}


@pytest.mark.parametrize("value,error", [
    ("-5", "requested wrap ttl cannot be negative"),
    ("abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("5xs", 'time: invalid duration "5xs"'),
])
def test_bad_wrap_ttl_header(vs, value, error):
    st, body = vs.api("GET", "sys/mounts", headers={"X-Vault-Wrap-TTL": value})
    assert st == 400 and body == {"errors": [error]}


def test_invalid_wrapping_tokens(vs):
    # an ordinary token is not a wrapping token
    tok = vs.token(policies=["default"])["client_token"]
    st, body = vs.api("POST", "sys/wrapping/unwrap", {}, token=tok)
    assert st == 400 and body == {"errors": ["wrapping token is not valid or does not exist"]}
    st, body = vs.api("POST", "sys/wrapping/unwrap", {"token": "hvs.nonexistent"})
    assert st == 400 and body == {"errors": ["wrapping token is not valid or does not exist"]}
    st, body = vs.api("POST", "sys/wrapping/unwrap", {"token": ""})
    assert st == 403
    assert body == {"errors": ["error validating wrapping token: empty token in request body"]}
    st, body = vs.api("POST", "sys/wrapping/unwrap", {"token": 5})
    assert st == 403
    assert body == {"errors": ["error validating wrapping token: could not decode token in "
                               "request body"]}
    st, body = vs.api("POST", "sys/wrapping/lookup", {}, token=None)
    assert st == 403 and body == {"errors": ["error validating wrapping token: token is empty"]}
    # The wrapping token is checked before the caller's token.
    wt = wrapped(vs, "POST", "sys/wrapping/wrap", {"a": "b"})["wrap_info"]["token"]
    st, body = vs.api("POST", "sys/wrapping/unwrap", {"token": wt}, token=None)
    assert st == 403 and body == {"errors": ["permission denied"]}
    # ... and a third-party unwrap that fails the caller's ACL leaves it usable.
    assert vs.api("POST", "sys/wrapping/unwrap", {"token": wt})[0] == 200


def test_response_wrapping_policy_is_immutable(vs):
    st, body = vs.api("PUT", "sys/policies/acl/response-wrapping",
                      {"policy": 'path "*" { capabilities = ["read"] }'})
    assert st == 400 and body == {"errors": ['cannot update "response-wrapping" policy']}


def test_wrap_ttl_runs_on_the_simulated_clock(fresh):
    fresh.kv_put("w/clock", {"k": "v"})
    wt = wrapped(fresh, "GET", "secret/data/w/clock", ttl="60s")["wrap_info"]["token"]
    fresh.advance(50)
    st, body = fresh.api("POST", "sys/wrapping/lookup", {"token": wt}, token=None)
    assert st == 200 and body["data"]["creation_ttl"] == 60
    fresh.advance(15)
    st, body = fresh.api("POST", "sys/wrapping/unwrap", {"token": wt})
    assert st == 400 and body == {"errors": ["wrapping token is not valid or does not exist"]}
    assert wt not in [t["token"] for t in fresh.tokens()]
