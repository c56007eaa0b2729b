"""Logging in from a pod: kubernetes and jwt auth, the token file read
afresh at each login (kubelet rotates it through a ..data link swap),
and an AppRole secret-id delivered as a response-wrapping token."""

import os
import re
import subprocess
import time

import pytest

from conftest import BIN


def base(env, auth, top=""):
    return """
vault:
  address: %s
  ca_cert: %s
  retry: {min_backoff: 200ms, max_backoff: 1s}
auth:
%s
log: {level: debug}
%s
""" % (env.vs.https_addr, env.vs.tls_ca, auth, top)


def projected(d, jwt, version):
    """The kubelet's layout: token -> ..data/token, ..data -> ..VERSION."""
    d.mkdir(exist_ok=True)
    vdir = d / ("..%s" % version)
    vdir.mkdir()
    (vdir / "token").write_text(jwt)
    os.chmod(vdir / "token", 0o644)
    tmp = d / "..data_tmp"
    os.symlink(vdir.name, tmp)
    os.rename(tmp, d / "..data")     # the swap: one rename
    if not (d / "token").is_symlink():
        os.symlink("..data/token", d / "token")
    return d / "token"


@pytest.fixture
def k8s(env):
    stand = env.vs.kubernetes_setup()
    st, body = env.vs.api("POST", "auth/kubernetes/role/app", {
        "bound_service_account_names": ["app"],
        "bound_service_account_namespaces": ["prod"],
        "token_policies": ["default"], "token_ttl": "3s", "token_max_ttl": "3s"})
    assert st in (200, 204), body
    return stand


def k8s_auth(token_path):
    return "  method: kubernetes\n  role: app\n  token_path: %s" % token_path


def test_kubernetes_login_is_reviewed_and_the_rotated_token_is_read_at_each_login(env, k8s):
    first = k8s.mint("prod", "app")
    env.secrets.add(first)
    path = projected(env.tmp / "sa", first, "2026_12_03_1")
    a = env.agent(base(env, k8s_auth(path))).start()
    a.wait_for(r"logged in with kubernetes at auth/kubernetes")
    # kubelet rotates the token; the next login (the token lives 3 s) uses it.
    second = k8s.mint("prod", "app")
    env.secrets.add(second)
    projected(env.tmp / "sa", second, "2026_12_03_2")
    a.wait_for(r"logged in with kubernetes at auth/kubernetes", count=3, timeout=20)
    reviewed = [r["token"] for r in k8s.reviews]
    assert reviewed[0] == first
    assert reviewed[-1] == second
    assert a.stop() == 0


@pytest.mark.parametrize("ns,name,why", [
    ("prod", "intruder", "service account name not authorized"),
    ("dev", "app", "namespace not authorized"),
])
def test_kubernetes_login_of_another_account_gets_vaults_error(env, k8s, ns, name, why):
    tok = k8s.mint(ns, name)
    env.secrets.add(tok)
    path = projected(env.tmp / "sa", tok, "1")
    a = env.agent(base(env, k8s_auth(path))).start()
    a.wait_for(r"login with kubernetes at auth/kubernetes failed: .*%s" % why)
    assert a.proc.poll() is None      # retried with backoff
    assert a.stop() == 0


def test_a_missing_then_empty_token_file_names_the_path_and_is_retried(env, k8s):
    d = env.tmp / "sa"
    d.mkdir()
    path = d / "token"
    a = env.agent(base(env, k8s_auth(path))).start()
    a.wait_for(r"login with kubernetes at auth/kubernetes failed: .*%s" % re.escape(str(path)))
    path.write_text("")
    a.wait_for(r"failed: %s: empty" % re.escape(str(path)))
    tok = k8s.mint("prod", "app")
    env.secrets.add(tok)
    path.write_text(tok)
    a.wait_for(r"logged in with kubernetes at auth/kubernetes")
    assert a.stop() == 0


@pytest.fixture(params=["rsa", "ec"], ids=["RS256", "ES256"])
def jwt(env, request):
    iss = env.vs.jwt_setup(key_type=request.param)
    st, body = env.vs.api("POST", "auth/jwt/role/app", {
        "role_type": "jwt", "bound_audiences": ["vault"], "user_claim": "sub",
        "token_policies": ["default"], "token_ttl": "30s"})
    assert st in (200, 204), body
    return iss


def jwt_auth(path):
    return "  method: jwt\n  role: app\n  token_path: %s" % path


def test_jwt_login_with_a_signed_token(env, jwt):
    tok = jwt.token(sub="spiffe://example.test/app", aud="vault")
    env.secrets.add(tok)
    path = env.tmp / "svid.jwt"
    path.write_text(tok)
    a = env.agent(base(env, jwt_auth(path))).start()
    a.wait_for(r"logged in with jwt at auth/jwt")
    assert a.stop() == 0


@pytest.mark.parametrize("case,why", [
    ("audience", "invalid audience"),
    ("expired", "expired"),
    ("key", "signature"),
])
def test_jwt_login_refused_names_vaults_reason(env, jwt, case, why):
    if case == "audience":
        tok = jwt.token(sub="app", aud="someone-else")
    elif case == "expired":
        tok = jwt.token(sub="app", aud="vault", ttl=-600)
    else:
        other = env.vs.jwt_setup(mount="jwt", key_type="rsa", configure=False)
        tok = other.token(sub="app", aud="vault")
    env.secrets.add(tok)
    path = env.tmp / "svid.jwt"
    path.write_text(tok)
    a = env.agent(base(env, jwt_auth(path))).start()
    a.wait_for(r"login with jwt at auth/jwt failed: .*%s" % why)
    assert a.stop() == 0


@pytest.fixture
def wrapped(env):
    role_id, _sid = env.vs.approle("pod", token_policies=["default"], token_ttl="1h")
    rid = env.tmp / "role-id"
    rid.write_text(role_id + "\n")
    st, headers, raw = env.vs.raw("POST", "auth/approle/role/pod/secret-id",
                                  headers={"X-Vault-Wrap-TTL": "120"})
    assert st == 200, raw
    import json
    wrap = json.loads(raw)["wrap_info"]["token"]
    return rid, wrap


def wrapping_auth(rid, sid, remove="true"):
    return ("  method: approle\n  role_id_file: %s\n  secret_id_file: %s\n"
            "  secret_id_response_wrapping_path: auth/approle/role/pod/secret-id\n"
            "  remove_secret_id_file_after_reading: %s" % (rid, sid, remove))


def test_a_wrapped_secret_id_is_unwrapped_once_and_a_second_use_refused(env, wrapped):
    rid, wrap = wrapped
    sid = env.write_secret("wrapped-sid", wrap)
    a = env.agent(base(env, wrapping_auth(rid, sid))).start()
    a.wait_for(r"unwrapped the secret-id from %s" % re.escape(str(sid)))
    a.wait_for(r"logged in with approle")
    assert not sid.exists()
    assert a.stop() == 0
    # The same wrapping token again (an attacker replaying it, or a copy):
    sid2 = env.write_secret("wrapped-sid-again", wrap)
    b = env.agent(base(env, wrapping_auth(rid, sid2)), name="again").start()
    b.wait_for(r"the wrapping token in %s cannot be used .*wrapping token is not valid "
               r"or does not exist" % re.escape(str(sid2)))
    assert "logged in" not in b.log()
    assert b.stop() == 0


def test_a_wrapping_token_made_elsewhere_is_refused(env, wrapped):
    rid, _wrap = wrapped
    # A token that wraps something else entirely: a kv read.
    env.vs.kv_put("other", {"x": "y"})
    st, headers, raw = env.vs.raw("GET", "secret/data/other", headers={"X-Vault-Wrap-TTL": "60"})
    assert st == 200, raw
    import json
    other = json.loads(raw)["wrap_info"]["token"]
    sid = env.write_secret("wrapped-other", other)
    a = env.agent(base(env, wrapping_auth(rid, sid, remove="false"))).start()
    a.wait_for(r"it was made at secret/data/other, not at auth/approle/role/pod/secret-id: "
               r"refusing it")
    assert "logged in" not in a.log()
    assert a.stop() == 0


def test_check_requires_a_role_for_kubernetes_and_a_token_path_for_jwt(env, tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(base(env, "  method: jwt"))
    r = subprocess.run([BIN, "check", "-c", str(p)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "auth.role: required when auth.method is 'jwt'" in r.stderr
    assert "auth.token_path: required when auth.method is 'jwt'" in r.stderr
    p.write_text(base(env, "  method: kubernetes\n  role: app"))
    r = subprocess.run([BIN, "check", "-c", str(p)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
