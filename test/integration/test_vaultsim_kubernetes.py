"""vaultsim's kubernetes auth method over plain HTTP, against the TokenReview
stand-in (test/vaultsim/standins.py). hvac's view is in test_vaultsim_hvac.py.

Run: /usr/bin/python3 -m pytest -q test/integration/test_vaultsim_kubernetes.py
"""

import base64
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vaultsim"))

from harness import Vaultsim                                            # noqa: E402
from standins import JWTIssuer, TokenReviewStandIn                       # noqa: E402

LOCAL_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


@pytest.fixture(scope="module")
def vs(tmp_path_factory):
    with Vaultsim(tmp_path_factory.mktemp("vs")) as v:
        yield v


@pytest.fixture(scope="module")
def k8s(vs):
    return vs.kubernetes_setup()


@pytest.fixture
def fresh(tmp_path):
    with Vaultsim(tmp_path) as v:
        yield v


def role(vs, name, mount="kubernetes", **params):
    params.setdefault("bound_service_account_names", "app")
    params.setdefault("bound_service_account_namespaces", "default")
    params.setdefault("token_policies", "default")
    st, body = vs.api("POST", "auth/%s/role/%s" % (mount, name), params)
    assert st in (200, 204), body
    return body


def login(vs, role_name, jwt, mount="kubernetes"):
    return vs.api("POST", "auth/%s/login" % mount, {"role": role_name, "jwt": jwt}, token=None)


def admin_token(vs, accessor):
    return [t for t in vs.tokens() if t["accessor"] == accessor][0]


def claims_of(jwt):
    p = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


# --------------------------------------------------------------------------
# config

def test_config_read_hides_the_reviewer_jwt(vs, k8s):
    st, body = vs.api("GET", "auth/kubernetes/config")
    assert st == 200
    d = body["data"]
    assert d == {"kubernetes_host": k8s.url, "kubernetes_ca_cert": k8s.ca_pem, "pem_keys": [],
                 "issuer": "", "disable_iss_validation": True, "disable_local_ca_jwt": True,
                 "token_reviewer_jwt_set": True, "use_annotations_as_alias_metadata": False}
    assert k8s.reviewer_jwt not in json.dumps(body)


def test_config_errors(vs):
    assert vs.api("POST", "sys/auth/k8s-errors", {"type": "kubernetes"})[0] == 204
    st, body = vs.api("GET", "auth/k8s-errors/config")
    assert st == 404 and body == {"errors": []}
    st, body = vs.api("POST", "auth/k8s-errors/config", {"kubernetes_ca_cert": "x"})
    assert st == 400 and body == {"errors": ["no host provided"]}
    st, body = vs.api("POST", "auth/k8s-errors/config",
                      {"kubernetes_host": "https://k8s.example", "kubernetes_ca_cert": "junk"})
    assert st == 400
    assert body == {"errors": ["The provided CA PEM data contains no valid certificates"]}
    st, body = vs.api("POST", "auth/k8s-errors/config",
                      {"kubernetes_host": "https://k8s.example", "disable_local_ca_jwt": True,
                       "pem_keys": ["not a key"]})
    assert st == 400
    assert body == {"errors": ["data does not contain any valid RSA or ECDSA public keys"]}
    if not os.path.exists(LOCAL_CA):
        # Outside a pod, the default (use the pod's CA) cannot work.
        st, body = vs.api("POST", "auth/k8s-errors/config",
                          {"kubernetes_host": "https://k8s.example"})
        assert st == 400
        assert body == {"errors": ["open %s: no such file or directory" % LOCAL_CA]}


def test_login_without_config_is_an_internal_error(vs):
    assert vs.api("POST", "sys/auth/k8s-noconf", {"type": "kubernetes"})[0] == 204
    role(vs, "app", mount="k8s-noconf")
    st, body = login(vs, "app", "x.y.z", mount="k8s-noconf")
    assert st == 500 and body == {"errors": ["could not load backend configuration"]}


# --------------------------------------------------------------------------
# roles

def test_role_read_list_delete(vs, k8s):
    role(vs, "Reader", bound_service_account_names=["app", "web-*"], audience="vault",
         token_ttl="10m", token_max_ttl="1h", alias_name_source="serviceaccount_name")
    st, body = vs.api("GET", "auth/kubernetes/role/reader")
    assert st == 200
    d = body["data"]
    assert d["bound_service_account_names"] == ["app", "web-*"]
    assert d["bound_service_account_namespaces"] == ["default"]
    assert d["bound_service_account_namespace_selector"] == ""
    assert d["audience"] == "vault" and d["alias_name_source"] == "serviceaccount_name"
    assert d["token_ttl"] == 600 and d["token_max_ttl"] == 3600
    assert d["token_policies"] == ["default"] and d["token_type"] == "default"
    assert "policies" not in d and "ttl" not in d
    st, body = vs.api("LIST", "auth/kubernetes/role")
    assert st == 200 and "reader" in body["data"]["keys"]
    assert vs.api("DELETE", "auth/kubernetes/role/reader")[0] == 204
    assert vs.api("GET", "auth/kubernetes/role/reader")[0] == 404


def test_role_deprecated_token_fields_are_echoed(vs, k8s):
    st, body = vs.api("POST", "auth/kubernetes/role/legacy",
                      {"bound_service_account_names": "app",
                       "bound_service_account_namespaces": "default",
                       "policies": "a,b", "ttl": 300, "max_ttl": "1h"})
    assert st == 204, body
    d = vs.api("GET", "auth/kubernetes/role/legacy")[1]["data"]
    assert d["policies"] == d["token_policies"] == ["a", "b"]
    assert d["ttl"] == d["token_ttl"] == 300 and d["max_ttl"] == d["token_max_ttl"] == 3600
    assert "audience" not in d      # only when set


@pytest.mark.parametrize("params,error", [
    ({"bound_service_account_names": ""}, '"bound_service_account_names" can not be empty'),
    ({"bound_service_account_names": ["*", "app"]}, 'can not mix "*" with values'),
    ({"bound_service_account_namespaces": ""},
     '"bound_service_account_namespaces" can not be empty if '
     '"bound_service_account_namespace_selector" is not set'),
    ({"bound_service_account_namespaces": ["*", "x"]}, 'can not mix "*" with values'),
    ({"alias_name_source": "pod"},
     "invalid alias_name_source, must be one of: serviceaccount_uid, serviceaccount_name"),
    ({"token_ttl": "2h", "token_max_ttl": "1h"},
     "'token_ttl' cannot be greater than 'token_max_ttl'"),
])
def test_role_validation(vs, k8s, params, error):
    body = {"bound_service_account_names": "app", "bound_service_account_namespaces": "default"}
    body.update(params)
    st, resp = vs.api("POST", "auth/kubernetes/role/bad", body)
    assert st == 400 and resp == {"errors": [error]}


# --------------------------------------------------------------------------
# login

def test_login_issues_vaults_token_metadata_and_alias(vs, k8s):
    role(vs, "app", token_ttl="20m", token_max_ttl="1h")
    jwt = k8s.mint("default", "app", uid="1111-uid")
    st, body = login(vs, "app", jwt)
    assert st == 200, body
    auth = body["auth"]
    assert body["mount_type"] == "kubernetes"
    assert auth["metadata"] == {"role": "app", "service_account_name": "app",
                                "service_account_namespace": "default",
                                "service_account_secret_name": "",
                                "service_account_uid": "1111-uid"}
    assert auth["policies"] == ["default"] and auth["lease_duration"] == 1200
    assert auth["renewable"] is True and auth["token_type"] == "service"
    st, look = vs.api("GET", "auth/token/lookup-self", token=auth["client_token"])
    assert look["data"]["path"] == "auth/kubernetes/login"
    assert look["data"]["display_name"] == "kubernetes-default-app"
    t = admin_token(vs, auth["accessor"])
    assert t["alias"]["name"] == "1111-uid" and t["alias"]["mount_type"] == "kubernetes"
    assert t["alias"]["metadata"] == {"service_account_name": "app",
                                      "service_account_namespace": "default",
                                      "service_account_secret_name": "",
                                      "service_account_uid": "1111-uid"}
    # the same service account is the same entity
    again = login(vs, "app", k8s.mint("default", "app", uid="1111-uid"))[1]["auth"]
    assert again["entity_id"] == auth["entity_id"]


def test_login_reviews_with_the_reviewer_jwt_and_the_tokens_audiences(vs, k8s):
    role(vs, "app")
    jwt = k8s.mint("default", "app", audiences=["https://kubernetes.default.svc", "extra"])
    k8s.reviews.clear()
    assert login(vs, "app", jwt)[0] == 200
    (r,) = k8s.reviews
    assert r["bearer"] == k8s.reviewer_jwt and r["token"] == jwt
    assert r["audiences"] == ["https://kubernetes.default.svc", "extra"]
    assert r["answer"] == "authenticated"


def test_login_without_reviewer_jwt_uses_the_login_jwt(fresh):
    k8s = fresh.kubernetes_setup(reviewer=False)
    role(fresh, "app")
    jwt = k8s.mint("default", "app")
    assert login(fresh, "app", jwt)[0] == 200
    assert k8s.reviews[-1]["bearer"] == jwt
    # ... which needs the service account to be allowed to create TokenReviews
    denied = k8s.mint("default", "app", can_review=False)
    st, body = login(fresh, "app", denied)
    assert st == 403 and body == {"errors": ["permission denied"]}
    assert k8s.reviews[-1]["answer"] == 403


def test_login_argument_errors(vs, k8s):
    role(vs, "app")
    jwt = k8s.mint("default", "app")
    st, body = vs.api("POST", "auth/kubernetes/login", {"jwt": jwt}, token=None)
    assert st == 400 and body == {"errors": ["missing role"]}
    st, body = vs.api("POST", "auth/kubernetes/login", {"role": "app"}, token=None)
    assert st == 400 and body == {"errors": ["missing jwt"]}
    st, body = login(vs, "Nope", jwt)
    assert st == 400 and body == {"errors": ['invalid role name "Nope"']}
    assert login(vs, "APP", jwt)[0] == 200          # role names are case-insensitive


def test_bound_names_and_namespaces(vs, k8s):
    role(vs, "globs", bound_service_account_names=["web-*", "api"],
         bound_service_account_namespaces=["team-*"])
    assert login(vs, "globs", k8s.mint("team-a", "web-1"))[0] == 200
    assert login(vs, "globs", k8s.mint("team-b", "api"))[0] == 200
    st, body = login(vs, "globs", k8s.mint("team-a", "db"))
    assert st == 403 and body == {"errors": ["service account name not authorized"]}
    st, body = login(vs, "globs", k8s.mint("prod", "api"))
    assert st == 403 and body == {"errors": ["namespace not authorized"]}
    role(vs, "any", bound_service_account_names="*", bound_service_account_namespaces="*")
    assert login(vs, "any", k8s.mint("anything", "anyone"))[0] == 200


def test_review_failures_are_permission_denied(vs, k8s):
    role(vs, "app")
    gone = k8s.mint("default", "app")
    k8s.set(gone, authenticated=False)               # e.g. the service account was deleted
    assert login(vs, "app", gone) == (403, {"errors": ["permission denied"]})
    other_uid = k8s.mint("default", "app")
    k8s.set(other_uid, uid="someone-else")            # the review names another account
    assert login(vs, "app", other_uid) == (403, {"errors": ["permission denied"]})
    not_sa = k8s.mint("default", "app")
    k8s.set(not_sa, username="jane@example.com")
    assert login(vs, "app", not_sa) == (403, {"errors": ["permission denied"]})
    unknown = k8s.mint("default", "app", register=False)
    assert login(vs, "app", unknown) == (403, {"errors": ["permission denied"]})


def test_reviewer_jwt_rejected_by_the_api_is_permission_denied(fresh):
    k8s = fresh.kubernetes_setup()
    role(fresh, "app")
    k8s.set(k8s.reviewer_jwt, authenticated=False)
    st, body = login(fresh, "app", k8s.mint("default", "app"))
    assert st == 403 and body == {"errors": ["permission denied"]}
    assert k8s.reviews[-1]["answer"] == 401


def test_tokenreview_tls_is_verified_with_kubernetes_ca_cert(fresh, tmp_path):
    other = TokenReviewStandIn(tmp_path / "other")          # another CA, never started
    k8s = fresh.kubernetes_setup(kubernetes_ca_cert=other.ca_pem)
    role(fresh, "app")
    n = len(k8s.reviews)
    st, body = login(fresh, "app", k8s.mint("default", "app"))
    assert st == 403 and body == {"errors": ["permission denied"]}
    assert len(k8s.reviews) == n                              # the handshake failed


def test_role_audience(vs, k8s):
    role(vs, "aud", audience="vault")
    jwt = k8s.mint("default", "app", audiences=["vault", "other"])
    k8s.reviews.clear()
    assert login(vs, "aud", jwt)[0] == 200
    assert k8s.reviews[-1]["audiences"] == ["vault"]
    st, body = login(vs, "aud", k8s.mint("default", "app"))
    assert st == 403
    assert body == {"errors": ["invalid audience (aud) claim: audience claim does not match any "
                               "expected audience"]}


def test_malformed_and_unsigned_jwts(vs, k8s):
    role(vs, "app")
    assert login(vs, "app", "not-a-jwt") == (403, {"errors": ["permission denied"]})
    good = k8s.mint("default", "app")
    h, p, _s = good.split(".")
    st, body = login(vs, "app", h + "." + p + ".")
    assert st == 403
    assert body == {"errors": ["invalid algorithm (alg) header parameter: token must be signed"]}
    hs = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    st, body = login(vs, "app", hs + "." + p + "." + _s)
    assert st == 403
    assert body == {"errors": ["invalid algorithm (alg) header parameter: token signed with "
                               "unexpected algorithm"]}


def test_jwt_times_use_vaults_clock(fresh):
    k8s = fresh.kubernetes_setup()
    role(fresh, "app")
    jwt = k8s.mint("default", "app", ttl=600)
    fresh.advance(600 + 50)                # within go-jose's 60 s clock skew
    assert login(fresh, "app", jwt)[0] == 200
    fresh.advance(15)
    st, body = login(fresh, "app", jwt)
    assert st == 403
    assert body == {"errors": ["invalid expiration time (exp) claim: token is expired"]}
    future = k8s.mint("default", "app", now=fresh.sim_now() + 120)
    st, body = login(fresh, "app", future)
    assert st == 403
    assert body == {"errors": ["invalid not before (nbf) claim: token not yet valid"]}


def test_legacy_secret_token_and_alias_by_name(vs, k8s):
    role(vs, "by-name", alias_name_source="serviceaccount_name")
    jwt = k8s.mint("default", "app", legacy=True, secret_name="app-token-abcde", uid="2222")
    assert "exp" not in claims_of(jwt) and "aud" not in claims_of(jwt)
    st, body = login(vs, "by-name", jwt)
    assert st == 200, body
    assert body["auth"]["metadata"]["service_account_secret_name"] == "app-token-abcde"
    assert body["auth"]["metadata"]["service_account_uid"] == "2222"
    assert admin_token(vs, body["auth"]["accessor"])["alias"]["name"] == "default/app"


def configure(vs, k8s, **params):
    body = {"kubernetes_host": k8s.url, "kubernetes_ca_cert": k8s.ca_pem,
            "disable_local_ca_jwt": True, "token_reviewer_jwt": k8s.reviewer_jwt}
    body.update(params)
    st, resp = vs.api("POST", "auth/kubernetes/config", body)
    assert st == 204, resp


def test_pem_keys_verify_signatures(fresh, tmp_path):
    k8s = fresh.kubernetes_setup()
    configure(fresh, k8s, pem_keys=[k8s.public_key_pem])
    role(fresh, "app")
    assert login(fresh, "app", k8s.mint("default", "app"))[0] == 200
    # Same claims, signed by a key the config does not list: refused before any review.
    forger = JWTIssuer(tmp_path / "forger")
    claims = claims_of(k8s.mint("default", "app", register=False))
    forged = k8s.add(forger.sign(claims, alg="RS256"), username=claims["sub"],
                     uid=claims["kubernetes.io"]["serviceaccount"]["uid"])
    n = len(k8s.reviews)
    assert login(fresh, "app", forged) == (403, {"errors": ["permission denied"]})
    assert len(k8s.reviews) == n


def test_issuer_is_ignored_unless_iss_validation_is_enabled(fresh):
    k8s = fresh.kubernetes_setup(issuer="https://elsewhere.example")
    role(fresh, "app")
    jwt = k8s.mint("default", "app")
    assert claims_of(jwt)["iss"] != "https://elsewhere.example"
    assert login(fresh, "app", jwt)[0] == 200
    configure(fresh, k8s, issuer="https://elsewhere.example", disable_iss_validation=False)
    st, body = login(fresh, "app", jwt)
    assert st == 403 and body == {"errors": ["invalid issuer (iss) claim"]}


def test_renewal_follows_the_role(vs, k8s):
    role(vs, "renew", token_ttl="10m", token_max_ttl="30m")
    tok = login(vs, "renew", k8s.mint("default", "app"))[1]["auth"]["client_token"]
    st, body = vs.api("POST", "auth/token/renew-self", {}, token=tok)
    assert st == 200 and body["auth"]["lease_duration"] == 600
    st, body = vs.api("POST", "auth/token/renew-self", {"increment": "1h"}, token=tok)
    assert st == 200 and 1790 <= body["auth"]["lease_duration"] <= 1800 and body["warnings"]
    assert vs.api("DELETE", "auth/kubernetes/role/renew")[0] == 204
    st, body = vs.api("POST", "auth/token/renew-self", {}, token=tok)
    assert st == 500
    assert body == {"errors": ["failed to renew entry: role renew does not exist during "
                               "renewal"]}


def test_kubernetes_mounts(vs):
    st, body = vs.api("GET", "sys/auth")
    assert body["data"]["kubernetes/"]["type"] == "kubernetes"
    assert vs.api("POST", "sys/auth/k8s-two", {"type": "kubernetes"})[0] == 204
    k2 = vs.kubernetes_setup(mount="k8s-two")
    role(vs, "app", mount="k8s-two")
    st, body = login(vs, "app", k2.mint("default", "app"), mount="k8s-two")
    assert st == 200 and body["auth"]["metadata"]["role"] == "app"
    st, look = vs.api("GET", "auth/token/lookup-self", token=body["auth"]["client_token"])
    assert look["data"]["path"] == "auth/k8s-two/login"
    assert look["data"]["display_name"] == "k8s-two-default-app"


def test_namespace_selector_is_stored_and_validated(vs, k8s):
    sel = '{"matchLabels": {"team": "core"}}'
    role(vs, "sel", bound_service_account_namespaces="",
         bound_service_account_namespace_selector=sel)
    d = vs.api("GET", "auth/kubernetes/role/sel")[1]["data"]
    assert d["bound_service_account_namespace_selector"] == sel
    role(vs, "sel-yaml", bound_service_account_namespaces="",
         bound_service_account_namespace_selector="matchLabels:\n  team: core\n")
    st, body = vs.api("POST", "auth/kubernetes/role/sel-bad",
                      {"bound_service_account_names": "app",
                       "bound_service_account_namespace_selector": "[1, 2]"})
    assert st == 400
    assert body == {"errors": ['invalid "bound_service_account_namespace_selector" configured']}


def test_plugin_versions_in_mount_listing(vs):
    st, body = vs.api("GET", "sys/auth")
    assert body["data"]["kubernetes/"]["running_plugin_version"] == "v0.19.0+builtin"
    assert body["data"]["jwt/"]["running_plugin_version"] == "v0.20.3+builtin"
    assert body["data"]["approle/"]["running_plugin_version"] == "v1.17.0+builtin.vault"
