"""/metrics passes promtool's lint on a live scrape, and carries the
histograms, the requests by kind and status, lease expiry and build info."""

import re
import shutil
import subprocess
import textwrap

import pytest

from test_rotation import free_port, http_get, wait_status


def test_a_live_scrape_passes_promtool_and_has_every_family(env):
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (make deps installs prometheus)")
    vs = env.vs
    vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                max_ttl="1h", key_type="ec", key_bits=256)
    vs.db_role("app", default_ttl="1h", max_ttl="2h")
    vs.policy("m", """
        path "pki_int/issue/*" { capabilities = ["update"] }
        path "database/creds/*" { capabilities = ["read"] }
    """)
    rid, sid = env.approle_files(token_policies=["default", "m"])
    d = env.tmp / "out"
    d.mkdir()
    port = free_port()
    top = textwrap.dedent("""
        listener: {address: "127.0.0.1:%d"}
        hooks:
          note: {command: ["/bin/true"]}
        certificates:
          - name: web
            path: pki_int/issue/web
            common_name: web.example.test
            files: {cert: {path: %s/web.crt}, key: {path: %s/web.key}}
            on_change: [note]
            wait: {min: 0s, max: 0s}
        templates:
          - destination: %s/db.conf
            contents: '{{ with secret "database/creds/app" }}{{ .Data.username }}{{ end }}'
        """ % (port, d, d, d))
    a = env.agent(env.approle_config(rid, sid, top=top)).start()
    a.wait_for(r"every file is in place")
    a.wait_for(r"hooks: note: .*exited|hooks: note: started")
    wait_status(port, "/readyz", 200)
    import time
    time.sleep(0.5)
    st, m = http_get(port, "/metrics")
    assert st == 200
    r = subprocess.run(["promtool", "check", "metrics"], input=m, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    for family in ("certagent_vault_request_duration_seconds_bucket",
                   "certagent_vault_responses_total{class=\"pki\",code=\"200\"}",
                   "certagent_vault_responses_total{class=\"auth\",code=\"200\"}",
                   "certagent_hook_duration_seconds_bucket{hook=\"note\",le=\"+Inf\"} 1",
                   "certagent_lease_expiry_seconds{path=\"database/creds/app\"}",
                   "certagent_build_info{version=\"",
                   "certagent_certificate_renewals_total{name=\"web\"} 1"):
        assert family in m, family
    assert a.stop() == 0
