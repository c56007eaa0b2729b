"""examples/kubernetes: every manifest holds together, and a pod made of
the init-and-sidecar pattern works: the init container's `run --once`
writes the files, the application starts, the sidecar renews them and
signals it."""

import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from conftest import BIN, ROOT

KUBE = ROOT / "examples" / "kubernetes"
MANIFESTS = sorted(KUBE.glob("*.yaml"))


def docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def deployment(path):
    (dep,) = [d for d in docs(path) if d["kind"] == "Deployment"]
    return dep["spec"]["template"]["spec"]


def agent_config(path):
    (cm,) = [d for d in docs(path) if d["kind"] == "ConfigMap" and "agent.yaml" in d["data"]]
    return cm["data"]["agent.yaml"]


def is_certagent(c):
    return c["image"].startswith("certagent") or "certagent" in " ".join(c.get("command", []))


def test_there_is_one_manifest_per_pattern():
    assert {p.name for p in MANIFESTS} == {"init-and-sidecar.yaml", "native-sidecar.yaml",
                                           "exec.yaml"}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_the_manifest_holds_together(path, tmp_path):
    spec = deployment(path)
    cfg = yaml.safe_load(agent_config(path))
    volumes = {v["name"]: v for v in spec["volumes"]}
    containers = spec.get("initContainers", []) + spec["containers"]
    agents = [c for c in containers if is_certagent(c)]
    assert agents, path
    # Every mount names a volume the pod has.
    for c in containers:
        for m in c.get("volumeMounts", []):
            assert m["name"] in volumes, (c["name"], m["name"])
    # Where the agent writes, the application reads: one shared volume.
    out_dir = cfg["certificates"][0].get("atomic_dir") or \
        os.path.dirname(cfg["certificates"][0]["files"]["cert"]["path"])
    for c in agents:
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert out_dir in mounts, (c["name"], out_dir)
        shared = mounts[out_dir]
        assert volumes[shared].get("emptyDir", {}).get("medium") == "Memory"
    apps = [c for c in spec["containers"] if not is_certagent(c)]
    for c in apps:
        assert shared in [m["name"] for m in c["volumeMounts"]], c["name"]
    # The token file is the projected service account token.
    token = cfg["auth"]["token_path"]
    assert cfg["auth"]["method"] == "kubernetes"
    for c in agents:
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        vol = volumes[mounts[os.path.dirname(token)]]
        (src,) = vol["projected"]["sources"]
        assert src["serviceAccountToken"]["path"] == os.path.basename(token)
        assert src["serviceAccountToken"]["audience"] == "vault"
    assert spec["automountServiceAccountToken"] is False
    # Probes hit the listener the ConfigMap opens, on the pod IP.
    port = int(cfg["listener"]["address"].rsplit(":", 1)[1])
    probed = False
    for c in agents:
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = c.get(kind)
            if probe:
                probed = True
                assert probe["httpGet"]["port"] == port, (c["name"], kind)
                assert "host" not in probe["httpGet"], "kubelet probes the pod IP"
                assert probe["httpGet"]["path"] == ("/healthz" if kind == "livenessProbe"
                                                    else "/readyz"), (c["name"], kind)
    assert probed, path
    # An init container that is not a native sidecar runs --once.
    for c in spec.get("initContainers", []):
        if is_certagent(c) and c.get("restartPolicy") != "Always":
            assert "--once" in c["args"], c["name"]
    # Locked down, and sized from what was measured.
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for c in agents:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert "memory" in c["resources"]["requests"]
    # And certagent accepts its configuration.
    p = tmp_path / "agent.yaml"
    p.write_text(agent_config(path))
    r = subprocess.run([BIN, "check", "-c", str(p)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


APP = r"""
import os, signal, sys, time
run, tls, out = sys.argv[1:4]
assert os.path.exists(os.path.join(tls, "tls.crt")), "started without a certificate"
hups = []
signal.signal(signal.SIGHUP, lambda s, f: hups.append(1) or open(out, "a").write("hup\n"))
open(os.path.join(run, "nginx.pid"), "w").write("%d\n" % os.getpid())
open(out, "a").write("started\n")
while True:
    time.sleep(0.1)
"""


def test_a_pod_of_init_and_sidecar_writes_renews_and_signals(env):
    vs = env.vs
    k8s = vs.kubernetes_setup()
    st, body = vs.api("POST", "auth/kubernetes/role/web", {
        "bound_service_account_names": ["web"], "bound_service_account_namespaces": ["default"],
        "audience": "vault", "token_policies": ["web"], "token_ttl": "1h"})
    assert st in (200, 204), body
    vs.policy("web", 'path "pki_int/issue/web" { capabilities = ["update"] }')
    vs.pki_role("web", allowed_domains="example.com,default.svc", allow_subdomains=True,
                max_ttl="1h", key_type="ec", key_bits=256, not_before_duration="1s")
    pod = env.tmp / "pod"
    dirs = {d: pod / d.strip("/").replace("/", "_") for d in
            ("/tls", "/run/nginx", "/var/run/secrets/vault")}
    for d in dirs.values():
        d.mkdir(parents=True)
    tok = k8s.mint("default", "web", audiences=["vault"])
    env.secrets.add(tok)
    (dirs["/var/run/secrets/vault"] / "token").write_text(tok)
    # The ConfigMap's own configuration, with the pod's paths put where the
    # test has them, Vault's address and CA, and a 20 s certificate.
    cfg = agent_config(KUBE / "init-and-sidecar.yaml")
    for old, new in dirs.items():
        cfg = re.sub(r"(?<=[ :])%s(?=[/\s])" % re.escape(old), str(new), cfg)
    cfg = cfg.replace("https://vault.vault.svc:8200", vs.https_addr)
    cfg = cfg.replace("/etc/certagent/vault-ca/ca.crt", vs.tls_ca)
    cfg = cfg.replace('":8281"', '"127.0.0.1:0"').replace("ttl: 72h", "ttl: 20s")
    cfg = cfg.replace("format: json", "format: text")
    conf = env.tmp / "agent.yaml"
    conf.write_text(cfg)

    # 1. The init container.
    r = subprocess.run([BIN, "run", "--once", "-c", str(conf)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (dirs["/tls"] / "tls.crt").exists() and (dirs["/tls"] / "tls.key").exists()
    assert "nothing running to signal" in r.stderr   # nginx is not up yet
    first = (dirs["/tls"] / "tls.crt").read_text()

    # 2. The application starts, with the files in place.
    out = env.tmp / "app.out"
    app = subprocess.Popen([sys.executable, "-c", APP, str(dirs["/run/nginx"]),
                            str(dirs["/tls"]), str(out)])
    try:
        deadline = time.time() + 10
        while not (out.exists() and "started" in out.read_text()) and time.time() < deadline:
            time.sleep(0.05)
        assert "started" in out.read_text()
        # 3. The sidecar: keeps the files (no issue at start), renews them
        # at two thirds of their life, and signals the application.
        a = env.agent(cfg, name="sidecar").start()
        a.wait_for(r"web: kept the certificate on disk")
        a.wait_for(r"web: wrote 3 files from one issuance", timeout=30)
        a.wait_for(r"hooks: nginx: sent SIGHUP to pid %d" % app.pid, timeout=20)
        deadline = time.time() + 5
        while "hup" not in out.read_text() and time.time() < deadline:
            time.sleep(0.05)
        assert "hup" in out.read_text()
        assert (dirs["/tls"] / "tls.crt").read_text() != first
        assert app.poll() is None
        assert a.stop() == 0
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(timeout=10)
