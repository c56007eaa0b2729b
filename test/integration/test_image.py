"""The container image: unpacked by a real OCI tool (umoci), run from its
root file system in a chroot as uid 65532 (as Kubernetes runs it with
runAsNonRoot): --version, then run --once against vaultsim, writing into
a directory that user owns."""

import json
import os
import shutil
import subprocess

import pytest

IMAGE = os.environ.get("CERTAGENT_IMAGE")   # DIR:TAG, set by make integration


def need(cond, why):
    if not cond:
        pytest.skip(why)


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    need(IMAGE, "CERTAGENT_IMAGE is not set (make integration builds the image and sets it)")
    need(os.geteuid() == 0, "chroot needs root")
    need(shutil.which("umoci"), "umoci is not installed (make deps)")
    bundle = tmp_path_factory.mktemp("bundle") / "b"
    r = subprocess.run(["umoci", "unpack", "--image", IMAGE, str(bundle)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return bundle / "rootfs"


def chroot(rootfs, *args, timeout=60):
    return subprocess.run(["chroot", "--userspec=65532:65532", str(rootfs)] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def test_the_image_has_no_shell_and_runs_as_65532(rootfs):
    config = json.loads(open(str(rootfs.parent / "config.json")).read())
    assert config["process"]["user"]["uid"] == 65532
    assert not (rootfs / "bin" / "sh").exists()
    assert not (rootfs / "usr" / "bin" / "sh").exists()
    r = chroot(rootfs, "/usr/local/bin/certagent", "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("certagent ")


def test_run_once_from_the_image_writes_the_certificate(env, rootfs):
    vs = env.vs
    vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True, max_ttl="1h",
                key_type="ec", key_bits=256)
    vs.policy("pki", 'path "pki_int/issue/*" { capabilities = ["update"] }')
    rid, sid = env.approle_files(token_policies=["default", "pki"])
    run = rootfs / "run" / ("t%d" % os.getpid())
    out = run / "tls"
    out.mkdir(parents=True)
    for name, src in (("ca.pem", vs.tls_ca), ("role-id", rid), ("secret-id", sid)):
        shutil.copy(str(src), str(run / name))
    os.chmod(run / "secret-id", 0o600)
    for p in (run, out, run / "ca.pem", run / "role-id", run / "secret-id"):
        os.chown(p, 65532, 65532)
    inside = "/" + str(run.relative_to(rootfs))
    (run / "agent.yaml").write_text("""
vault: {address: %s, ca_cert: %s/ca.pem}
auth: {method: approle, role_id_file: %s/role-id, secret_id_file: %s/secret-id}
certificates:
  - name: web
    path: pki_int/issue/web
    common_name: web.example.test
    files: {cert: {path: %s/tls/web.crt}, key: {path: %s/tls/web.key}}
""" % (vs.https_addr, inside, inside, inside, inside, inside))
    env.secrets.add(open(str(sid)).read().strip())
    r = chroot(rootfs, "/usr/local/bin/certagent", "run", "--once", "-c",
               inside + "/agent.yaml")
    assert r.returncode == 0, r.stderr
    st = os.stat(out / "web.key")
    assert (st.st_uid, st.st_mode & 0o777) == (65532, 0o600)
    assert "BEGIN CERTIFICATE" in (out / "web.crt").read_text()
    shutil.rmtree(str(run))
