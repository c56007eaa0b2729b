"""vaultsim never writes a JWT or a token to its log or its request log, even
verbose and even when a login is refused.

Run: /usr/bin/python3 -m pytest -q test/integration/test_vaultsim_log_secrets.py
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vaultsim"))

from harness import Vaultsim                                            # noqa: E402


def test_jwts_and_tokens_stay_out_of_the_logs(tmp_path):
    secrets = set()
    with Vaultsim(tmp_path, verbose=True) as vs:
        k8s = vs.kubernetes_setup()
        secrets.add(k8s.reviewer_jwt)
        vs.api("POST", "auth/kubernetes/role/app", {"bound_service_account_names": "app",
                                                    "bound_service_account_namespaces": "ns"})
        good, bad = k8s.mint("ns", "app"), k8s.mint("ns", "app")
        k8s.set(bad, authenticated=False)
        for jwt in (good, bad, k8s.mint("other", "app")):
            secrets.add(jwt)
            st, body = vs.api("POST", "auth/kubernetes/login", {"role": "app", "jwt": jwt},
                              token=None)
            if st == 200:
                secrets.add(body["auth"]["client_token"])
        iss = vs.jwt_setup(keys="jwks")
        vs.api("POST", "auth/jwt/role/ci", {"role_type": "jwt", "user_claim": "sub",
                                            "bound_audiences": "vault"})
        for jwt in (iss.token(aud="vault"), iss.token(aud="nope"), iss.token(ttl=-3600)):
            secrets.add(jwt)
            st, body = vs.api("POST", "auth/jwt/login", {"role": "ci", "jwt": jwt}, token=None)
            if st == 200:
                secrets.add(body["auth"]["client_token"])
        vs.approle("r", token_policies="default")
        st, body = vs.api("POST", "auth/approle/role/r/secret-id", {},
                          headers={"X-Vault-Wrap-TTL": "60"})
        wt = body["wrap_info"]["token"]
        secrets.add(wt)
        st, body = vs.api("POST", "sys/wrapping/unwrap", {}, token=wt)
        secrets.add(body["data"]["secret_id"])
        vs.api("POST", "sys/wrapping/unwrap", {}, token=wt)
        requests = repr(vs.requests())
    with open(os.path.join(vs.dir, "vaultsim.log")) as f:
        log = f.read()
    assert "auth/kubernetes/login unauthorized" in log      # it does say why, verbosely
    assert len(secrets) >= 10
    leaked = [s[:12] + "..." for s in secrets if s in log or s in requests]
    assert not leaked
