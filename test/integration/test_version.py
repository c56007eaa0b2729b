"""certagent version names the build: how it is linked, and the libcurl
it runs with (its protocols and features); the small static build
(make small) loads no shared library but libc."""

import subprocess

import pytest

from conftest import BIN


def version_lines():
    r = subprocess.run([BIN, "version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_version_names_the_link_and_libcurls_protocols_and_features():
    lines = version_lines()
    assert lines[0].startswith("certagent ") and "libcurl/" in lines[0]
    link = [l for l in lines if l.startswith("link: ")]
    assert len(link) == 1 and ("static" in link[0] or "shared" in link[0]), lines
    protos = [l for l in lines if " protocols: " in l]
    assert protos and {"http", "https"} <= set(protos[0].split(": ", 1)[1].split()), lines
    feats = [l for l in lines if " features: " in l]
    # The agent refuses a libcurl without an asynchronous resolver, and
    # its control client needs Unix sockets.
    assert feats and {"AsynchDNS", "SSL", "UnixSockets"} <= set(feats[0].split(": ", 1)[1].split())


def test_a_static_build_loads_libc_alone():
    link = [l for l in version_lines() if l.startswith("link: ")][0]
    if not link.startswith("link: static"):
        pytest.skip("a shared build (make small makes the static one)")
    r = subprocess.run(["ldd", BIN], capture_output=True, text=True, timeout=30)
    libs = [l.split()[0] for l in r.stdout.splitlines() if l.strip()]
    others = [l for l in libs if not (l.startswith("linux-vdso") or l.startswith("libc.so")
                                      or "ld-linux" in l)]
    assert others == [], r.stdout
    # Every protocol but HTTP and HTTPS is off in the small build.
    protos = [l for l in version_lines() if " protocols: " in l][0]
    assert sorted(protos.split(": ", 1)[1].split()) == ["http", "https"]
