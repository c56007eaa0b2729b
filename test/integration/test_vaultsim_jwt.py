"""vaultsim's jwt auth method over plain HTTP (hvac's view is in
test_vaultsim_hvac.py). Tokens come from the harness's JWTIssuer.

Run: /usr/bin/python3 -m pytest -q test/integration/test_vaultsim_jwt.py
"""

import base64
import json
import os
import socket
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vaultsim"))

from harness import Vaultsim                                            # noqa: E402
from standins import JWTIssuer, sign_jwt                                 # noqa: E402

ISSUER = "https://ci.example.test"


@pytest.fixture(scope="module")
def vs(tmp_path_factory):
    with Vaultsim(tmp_path_factory.mktemp("vs")) as v:
        yield v


@pytest.fixture(scope="module")
def iss(vs):
    return vs.jwt_setup(key_type="rsa", bound_issuer=ISSUER)


@pytest.fixture(scope="module")
def dead_port():
    """A port picked by binding 0 and held without listening: connections
    to it are refused for as long as the module runs."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def fresh(tmp_path):
    with Vaultsim(tmp_path) as v:
        yield v


def role(vs, name, mount="jwt", **params):
    params.setdefault("role_type", "jwt")
    params.setdefault("user_claim", "sub")
    params.setdefault("bound_audiences", ["vault"])
    params.setdefault("token_policies", ["default"])
    st, body = vs.api("POST", "auth/%s/role/%s" % (mount, name), params)
    assert st in (200, 204), body
    return body


def login(vs, role_name, jwt, mount="jwt"):
    return vs.api("POST", "auth/%s/login" % mount, {"role": role_name, "jwt": jwt}, token=None)


def refused(vs, role_name, jwt, error, mount="jwt"):
    st, body = login(vs, role_name, jwt, mount=mount)
    assert (st, body) == (400, {"errors": [error]})


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# --------------------------------------------------------------------------
# config

def test_config_read(vs, iss):
    st, body = vs.api("GET", "auth/jwt/config")
    assert st == 200
    d = body["data"]
    # TypeCommaStringSlice trims each value, the PEM's final newline too
    assert d["jwt_validation_pubkeys"] == [iss.public_key_pem.strip()]
    assert d["bound_issuer"] == ISSUER and d["namespace_in_state"] is True
    assert d["oidc_discovery_url"] == "" and d["jwks_url"] == "" and d["jwks_pairs"] == []
    assert d["jwt_supported_algs"] == [] and d["provider_config"] == {}
    assert "oidc_client_secret" not in d


@pytest.mark.parametrize("params,error", [
    ({}, "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs' or "
         "'oidc_discovery_url' must be set"),
    ({"jwt_validation_pubkeys": ["junk"], "jwks_url": "https://x.example/keys"},
     "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs' or "
     "'oidc_discovery_url' must be set"),
    ({"jwt_validation_pubkeys": ["junk"]},
     "error parsing public key: data does not contain any valid public keys"),
    ({"jwks_url": "https://127.0.0.1:DEAD/keys"},
     "error checking jwks URL https://127.0.0.1:DEAD/keys"),
    ({"oidc_discovery_url": "https://127.0.0.1:DEAD"}, "error checking oidc discovery URL"),
    ({"oidc_discovery_url": "https://127.0.0.1:DEAD", "oidc_client_id": "x"},
     "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC"),
])
def test_config_errors(vs, dead_port, params, error):
    params = {k: [x.replace("DEAD", str(dead_port)) for x in v] if isinstance(v, list)
              else v.replace("DEAD", str(dead_port)) for k, v in params.items()}
    error = error.replace("DEAD", str(dead_port))
    assert vs.api("POST", "sys/auth/jwt-conf-errors", {"type": "jwt"})[0] in (204, 400)
    st, body = vs.api("POST", "auth/jwt-conf-errors/config", params)
    assert (st, body) == (400, {"errors": [error]})


def test_config_supported_algs(fresh):
    issuer = fresh.jwt_setup(key_type="ec", configure=False)
    st, body = fresh.api("POST", "auth/jwt/config",
                         {"jwt_validation_pubkeys": issuer.public_key_pem,
                          "jwt_supported_algs": ["ES256", "HS256"]})
    assert st == 400
    assert body == {"errors": ['invalid jwt_supported_algs: unsupported signing algorithm '
                               '"HS256"']}
    assert fresh.api("POST", "auth/jwt/config", {"jwt_validation_pubkeys": issuer.public_key_pem,
                                                 "jwt_supported_algs": "RS256"})[0] == 204
    role(fresh, "r")
    refused(fresh, "r", issuer.token(aud="vault"),
            "error validating token: invalid algorithm (alg) header parameter: token signed "
            "with unexpected algorithm")


def test_login_without_config(fresh):
    st, body = login(fresh, "r", "x.y.z")
    assert (st, body) == (400, {"errors": ["could not load configuration"]})


# --------------------------------------------------------------------------
# roles

def test_role_defaults_and_read(vs, iss):
    role(vs, "defaults", bound_audiences="vault,other")
    st, body = vs.api("GET", "auth/jwt/role/defaults")
    assert st == 200
    d = body["data"]
    assert d["role_type"] == "jwt" and d["user_claim"] == "sub"
    assert d["bound_audiences"] == ["vault", "other"]
    assert d["expiration_leeway"] == 0 and d["not_before_leeway"] == 0
    assert d["clock_skew_leeway"] == 0 and d["bound_claims_type"] == "string"
    assert d["bound_claims"] is None and d["claim_mappings"] is None
    assert d["oidc_scopes"] is None and d["allowed_redirect_uris"] is None
    assert d["token_policies"] == ["default"] and d["user_claim_json_pointer"] is False
    st, body = vs.api("LIST", "auth/jwt/role")
    assert st == 200 and "defaults" in body["data"]["keys"]
    assert vs.api("DELETE", "auth/jwt/role/defaults")[0] == 204
    assert vs.api("GET", "auth/jwt/role/defaults")[0] == 404


@pytest.mark.parametrize("params,error", [
    ({"role_type": "saml"}, "invalid 'role_type': saml"),
    ({"role_type": None}, "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or "
                          "unspecified."),
    ({"user_claim": ""}, "a user claim must be defined on the role"),
    ({"bound_audiences": None},
     "must have at least one bound constraint when creating/updating a role"),
    ({"claim_mappings": {"email": "role"}},
     'metadata key "role" is reserved and may not be a mapping destination'),
    ({"claim_mappings": {"a": "x", "b": "x"}}, 'multiple keys are mapped to metadata key "x"'),
    ({"bound_claims_type": "regex"}, "invalid 'bound_claims_type': regex"),
    ({"bound_claims_type": "glob", "bound_claims": {"n": 5}}, "claim is not a string: 5"),
    ({"token_ttl": "2h", "token_max_ttl": "1h"},
     "'token_ttl' cannot be greater than 'token_max_ttl'"),
])
def test_role_validation(vs, iss, params, error):
    body = {"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vault"]}
    body.update(params)
    body = {k: v for k, v in body.items() if v is not None}
    st, resp = vs.api("POST", "auth/jwt/role/bad", body)
    assert (st, resp) == (400, {"errors": [error]})


# --------------------------------------------------------------------------
# login

@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_login_rs256_and_es256(fresh, key_type):
    issuer = fresh.jwt_setup(key_type=key_type)
    role(fresh, "ci", claim_mappings={"repo": "repository", "/ctx/ref": "ref"},
         token_ttl="15m")
    jwt = issuer.token(sub="build-7", aud="vault", repo="app", ctx={"ref": "main"})
    assert json.loads(base64.urlsafe_b64decode(jwt.split(".")[0] + "=="))["alg"] == \
        {"rsa": "RS256", "ec": "ES256"}[key_type]
    st, body = login(fresh, "ci", jwt)
    assert st == 200, body
    auth = body["auth"]
    assert body["mount_type"] == "jwt"
    assert auth["metadata"] == {"role": "ci", "repository": "app", "ref": "main"}
    assert auth["lease_duration"] == 900 and auth["policies"] == ["default"]
    look = fresh.api("GET", "auth/token/lookup-self", token=auth["client_token"])[1]["data"]
    assert look["path"] == "auth/jwt/login" and look["display_name"] == "jwt-build-7"
    t = [t for t in fresh.tokens() if t["accessor"] == auth["accessor"]][0]
    assert t["alias"]["name"] == "build-7"
    assert t["alias"]["metadata"] == {"role": "ci", "repository": "app", "ref": "main"}
    again = login(fresh, "ci", issuer.token(sub="build-7", aud="vault"))[1]["auth"]
    assert again["entity_id"] == auth["entity_id"]


def test_login_argument_errors(vs, iss):
    role(vs, "args")
    jwt = iss.token(aud="vault")
    st, body = vs.api("POST", "auth/jwt/login", {"jwt": jwt}, token=None)
    assert (st, body) == (400, {"errors": ["missing role"]})
    st, body = vs.api("POST", "auth/jwt/login", {"role": "args"}, token=None)
    assert (st, body) == (400, {"errors": ["missing token"]})
    refused(vs, "nope", jwt, 'role "nope" could not be found')
    assert login(vs, "ARGS", jwt)[0] == 200        # role names are lower-cased
    vs.api("POST", "auth/jwt/role/browser", {"user_claim": "sub",
                                             "allowed_redirect_uris": "https://ui/cb"})
    refused(vs, "browser", jwt, "role with oidc role_type is not allowed")


def test_default_role(fresh):
    issuer = fresh.jwt_setup(default_role="Fallback")
    role(fresh, "fallback")
    st, body = fresh.api("POST", "auth/jwt/login", {"jwt": issuer.token(aud="vault")},
                         token=None)
    assert st == 200 and body["auth"]["metadata"]["role"] == "fallback"


def test_audience_rules(vs, iss):
    role(vs, "aud", bound_audiences=["vault", "vault-2"])
    assert login(vs, "aud", iss.token(aud=["other", "vault-2"]))[0] == 200
    assert login(vs, "aud", iss.token(aud="vault"))[0] == 200
    msg = ("error validating token: invalid audience (aud) claim: audience claim does not "
           "match any expected audience")
    refused(vs, "aud", iss.token(aud="other"), msg)
    refused(vs, "aud", iss.token(), msg)                 # bound audiences need an aud
    role(vs, "no-aud", bound_audiences=[], bound_subject="lonely")
    assert login(vs, "no-aud", iss.token(sub="lonely"))[0] == 200
    refused(vs, "no-aud", iss.token(sub="lonely", aud="vault"),
            "audience claim found in JWT but no audiences bound to the role")
    refused(vs, "no-aud", iss.token(sub="lonely", aud=["vault"]),
            "audience claim found in JWT but no audiences bound to the role")


def test_issuer_and_subject(vs, iss):
    role(vs, "subj", bound_subject="deploy")
    assert login(vs, "subj", iss.token(sub="deploy", aud="vault"))[0] == 200
    refused(vs, "subj", iss.token(sub="other", aud="vault"),
            "error validating token: invalid subject (sub) claim")
    refused(vs, "subj", iss.token(sub="deploy", aud="vault", iss="https://evil.example"),
            "error validating token: invalid issuer (iss) claim")
    refused(vs, "subj", iss.token(sub="deploy", aud="vault", iss=None),
            "error validating token: invalid issuer (iss) claim")


def test_bound_claims(vs, iss):
    role(vs, "claims", bound_claims={"env": ["prod", "stage"], "team": "core", "n": 42,
                                     "admin": True, "/ctx/branch": "main"})
    ok = dict(env="stage", team="core", n=42, admin=True, ctx={"branch": "main"})
    assert login(vs, "claims", iss.token(aud="vault", **ok))[0] == 200
    # a list claim matches when any of its values is bound
    assert login(vs, "claims", iss.token(aud="vault", **dict(ok, team=["x", "core"])))[0] == 200
    for name, value in (("env", "dev"), ("team", "Core"), ("n", "42"), ("admin", False),
                        ("ctx", {"branch": "dev"})):
        claim = "/ctx/branch" if name == "ctx" else name
        refused(vs, "claims", iss.token(aud="vault", **dict(ok, **{name: value})),
                'error validating claims: claim "%s" does not match any associated bound '
                'claim values' % claim)
    refused(vs, "claims", iss.token(aud="vault", **dict(ok, env=None)),
            'error validating claims: claim "env" is missing')
    role(vs, "globs", bound_claims_type="glob", bound_claims={"ref": ["refs/heads/*", "v*.*"]})
    assert login(vs, "globs", iss.token(aud="vault", ref="refs/heads/main"))[0] == 200
    assert login(vs, "globs", iss.token(aud="vault", ref="v1.2"))[0] == 200
    refused(vs, "globs", iss.token(aud="vault", ref="refs/tags/x"),
            'error validating claims: claim "ref" does not match any associated bound claim '
            'values')


def test_user_claim_and_groups(vs, iss):
    role(vs, "users", user_claim="email", groups_claim="groups")
    st, body = login(vs, "users", iss.token(aud="vault", email="a@example.com",
                                            groups=["ops", "", "dev"]))
    assert st == 200, body
    t = [t for t in vs.tokens() if t["accessor"] == body["auth"]["accessor"]][0]
    assert t["display_name"] == "jwt-a@example.com"
    assert [g["name"] for g in t["group_aliases"]] == ["ops", "dev"]
    refused(vs, "users", iss.token(aud="vault", groups=["ops"]),
            'claim "email" not found in token')
    refused(vs, "users", iss.token(aud="vault", email=5, groups=["ops"]),
            'claim "email" could not be converted to string')
    refused(vs, "users", iss.token(aud="vault", email="a@example.com"),
            'failed to fetch groups: "groups" claim not found in token')
    refused(vs, "users", iss.token(aud="vault", email="a@example.com", groups=[1]),
            "value 1 in groups claim could not be parsed as string")
    role(vs, "mapped", claim_mappings={"n": "number"})
    refused(vs, "mapped", iss.token(aud="vault", n=7), "error converting claim 'n' to string")


def test_signature_checks(vs, iss, tmp_path):
    role(vs, "sig")
    good = iss.token(aud="vault")
    h, p, s = good.split(".")
    bad = "error validating token: error verifying token signature: no known key " \
          "successfully validated the token signature"
    refused(vs, "sig", h + "." + b64(dict(json.loads(base64.urlsafe_b64decode(p + "==")),
                                          sub="root")) + "." + s, bad)
    other = JWTIssuer(tmp_path / "other", key_type="ec")
    refused(vs, "sig", other.token(aud="vault", iss=ISSUER), bad)
    refused(vs, "sig", b64({"alg": "none"}) + "." + p + ".", bad)
    refused(vs, "sig", "abc.def",
            "error validating token: error verifying token signature: go-jose/go-jose: "
            "compact JWS format must have three parts")
    # PS256 with the same RSA key is a valid signature too
    ps = sign_jwt(iss.key, json.loads(base64.urlsafe_b64decode(p + "==")), alg="PS256")
    assert login(vs, "sig", ps)[0] == 200


def test_time_claims_and_leeways(fresh):
    issuer = fresh.jwt_setup()
    role(fresh, "t")
    t = issuer.token(aud="vault", ttl=300)
    fresh.advance(300 + 50)                           # 60 s clock skew leeway by default
    assert login(fresh, "t", t)[0] == 200
    fresh.advance(15)
    refused(fresh, "t", t, "error validating token: invalid expiration time (exp) claim: token "
                           "is expired")
    now = fresh.sim_now()
    refused(fresh, "t", issuer.token(aud="vault", nbf=int(now) + 120),
            "error validating token: invalid not before (nbf) claim: token not yet valid")
    refused(fresh, "t", issuer.token(aud="vault", now=now + 120),
            "error validating token: invalid not before (nbf) claim: token not yet valid")
    refused(fresh, "t", issuer.token(aud="vault", iat=None, nbf=None, exp=None),
            "error validating token: no issued at (iat), not before (nbf), or expiration time "
            "(exp) claims in token")
    # clock_skew_leeway -1 disables the skew
    role(fresh, "strict", clock_skew_leeway=-1)
    t = issuer.token(aud="vault", ttl=10)
    fresh.advance(11)
    refused(fresh, "strict", t, "error validating token: invalid expiration time (exp) claim: "
                                "token is expired")
    # without exp, expiration_leeway (default 150 s) after iat/nbf stands in for it
    role(fresh, "no-exp", expiration_leeway=30)
    t = issuer.token(aud="vault", exp=None)
    fresh.advance(30 + 50)
    assert login(fresh, "no-exp", t)[0] == 200
    fresh.advance(15)
    refused(fresh, "no-exp", t, "error validating token: invalid expiration time (exp) claim: "
                                "token is expired")


def test_jwks_url_and_key_rotation(fresh):
    issuer = fresh.jwt_setup(key_type="ec", keys="jwks")
    st, body = fresh.api("GET", "auth/jwt/config")
    assert body["data"]["jwks_url"] == issuer.url + "/keys"
    role(fresh, "k")
    assert login(fresh, "k", issuer.token(aud="vault"))[0] == 200
    # a new key with a new kid: Vault fetches the JWKS again
    from cryptography.hazmat.primitives.asymmetric import ec
    new = ec.generate_private_key(ec.SECP256R1())
    issuer.extra_keys.append(("rotated", new))
    now = int(fresh.sim_now())
    rotated = issuer.sign({"sub": "s", "aud": "vault", "iat": now, "exp": now + 60},
                          kid="rotated", key=new)
    assert login(fresh, "k", rotated)[0] == 200
    refused(fresh, "k", issuer.sign({"sub": "s", "aud": "vault", "exp": 2 ** 40},
                                    kid="unknown", key=ec.generate_private_key(ec.SECP256R1())),
            "error validating token: error verifying token signature: failed to verify id "
            "token signature")


def test_oidc_discovery(fresh):
    issuer = fresh.jwt_setup(keys="discovery")
    role(fresh, "d")
    assert login(fresh, "d", issuer.token(aud="vault"))[0] == 200


def test_renewal_follows_the_role(vs, iss):
    role(vs, "renew", token_ttl="10m", token_max_ttl="30m")
    tok = login(vs, "renew", iss.token(aud="vault"))[1]["auth"]["client_token"]
    st, body = vs.api("POST", "auth/token/renew-self", {}, token=tok)
    assert st == 200 and body["auth"]["lease_duration"] == 600
    assert vs.api("DELETE", "auth/jwt/role/renew")[0] == 204
    st, body = vs.api("POST", "auth/token/renew-self", {}, token=tok)
    assert (st, body) == (500, {"errors": ["failed to renew entry: role renew does not exist "
                                           "during renewal"]})


def test_oidc_type_mount(vs):
    assert vs.api("POST", "sys/auth/oidc", {"type": "oidc"})[0] == 204
    st, body = vs.api("GET", "sys/auth")
    assert body["data"]["oidc/"]["type"] == "oidc"
    assert body["data"]["oidc/"]["accessor"].startswith("auth_oidc_")
    issuer = vs.jwt_setup(mount="oidc")
    role(vs, "r", mount="oidc")
    st, body = login(vs, "r", issuer.token(aud="vault", sub="x"), mount="oidc")
    assert st == 200 and body["mount_type"] == "oidc"
    look = vs.api("GET", "auth/token/lookup-self", token=body["auth"]["client_token"])[1]
    assert look["data"]["display_name"] == "oidc-x"
