#!/usr/bin/env python3
"""Write an OCI image layout of certagent, offline, from a built binary.

    build.py --binary build/small/certagent --out build/image --tag certagent:0.1.0

The image is one layer: the binary, exactly the shared libraries it loads
(from ldd; none but libc for the small build), CA certificates, an
/etc/passwd and /etc/group with the non-root user 65532, an empty /tmp;
no shell.  Everything is written as the OCI image spec lays it out
(oci-layout, index.json, blobs/sha256/...), with fixed timestamps and
owners, so the same binary gives the same digest.  The tag and the
manifest digest are printed at the end.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
UID = 65532
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
BIN_PATH = "usr/local/bin/certagent"


def shared_libraries(binary):
    """The files the dynamic loader maps for BINARY (ldd's absolute paths)."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if r.returncode != 0 and "not a dynamic executable" in (r.stdout + r.stderr):
        return []
    libs = []
    for line in r.stdout.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m and os.path.exists(m.group(1)):
            libs.append(m.group(1))
    return libs


def add_dir(tar, name, mode=0o755):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = mode
    ti.mtime = EPOCH
    tar.addfile(ti)


def add_bytes(tar, name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = EPOCH
    tar.addfile(ti, io.BytesIO(data))


def add_link(tar, name, target):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.SYMTYPE
    ti.linkname = target
    ti.mtime = EPOCH
    tar.addfile(ti)


def layer(binary):
    files = {BIN_PATH: (open(binary, "rb").read(), 0o755)}
    for lib in shared_libraries(binary):
        real = os.path.realpath(lib)
        files[lib.lstrip("/")] = (open(real, "rb").read(), 0o755)
    if os.path.exists(CA_BUNDLE):
        files[CA_BUNDLE.lstrip("/")] = (open(CA_BUNDLE, "rb").read(), 0o644)
    files["etc/passwd"] = (b"root:x:0:0:root:/root:/sbin/nologin\n"
                           b"nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n"
                           % (UID, UID), 0o644)
    files["etc/group"] = (b"root:x:0:\nnonroot:x:%d:\n" % UID, 0o644)
    files["etc/nsswitch.conf"] = (b"passwd: files\ngroup: files\nhosts: files dns\n", 0o644)
    dirs = {"tmp": 0o1777, "home/nonroot": 0o755, "etc/certagent": 0o755}
    for f in files:
        parts = f.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.setdefault("/".join(parts[:i]), 0o755)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted(dirs):
            add_dir(tar, d, dirs[d])
        for f in sorted(files):
            data, mode = files[f]
            add_bytes(tar, f, data, mode)
        # /lib64 -> usr/lib64 style links the loader path may need.
        if os.path.islink("/lib64") and not any(f.startswith("lib64/") for f in files):
            add_link(tar, "lib64", os.readlink("/lib64").lstrip("/"))
    tar_bytes = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=EPOCH, compresslevel=9) as g:
        g.write(tar_bytes)
    return tar_bytes, gz.getvalue()


def blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", default="certagent:latest")
    a = ap.parse_args()
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(os.path.join(a.out, "blobs", "sha256"))
    tar_bytes, gz_bytes = layer(a.binary)
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    layer_digest, layer_size = blob(a.out, gz_bytes)
    version = a.tag.split(":", 1)[1] if ":" in a.tag else "latest"
    config = {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine,
                                                                    os.uname().machine),
        "os": "linux",
        "created": "1970-01-01T00:00:00Z" if EPOCH == 0 else None,
        "config": {
            "User": "%d:%d" % (UID, UID),
            "Entrypoint": ["/" + BIN_PATH],
            "Cmd": ["run", "-c", "/etc/certagent/agent.yaml"],
            "WorkingDir": "/",
            "Env": ["SSL_CERT_FILE=" + CA_BUNDLE],
            "Labels": {"org.opencontainers.image.title": "certagent",
                       "org.opencontainers.image.version": version},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "packaging/image/build.py", "created": "1970-01-01T00:00:00Z"}],
    }
    if config["created"] is None:
        del config["created"]
    cfg_digest, cfg_size = blob(a.out, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cfg_digest, "size": cfg_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": layer_size}],
    }
    man_digest, man_size = blob(a.out, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": man_digest, "size": man_size,
                       "annotations": {"org.opencontainers.image.ref.name": version}}],
    }
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(index, f, sort_keys=True)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print("image %s: %s (layer %s, %d bytes compressed, %d uncompressed)" % (
        a.tag, man_digest, layer_digest[:19], layer_size, len(tar_bytes)))


if __name__ == "__main__":
    sys.exit(main())
