"""Operations: the systemd unit (verified, rated by systemd-analyze
security), the per-application examples (certagent check), the man pages
(certagent.yaml(5) is what the option table generates), `make install`
with PREFIX and DESTDIR, a .deb built, linted, installed, run and purged,
an .rpm built and linted, and the release agent traced (strace) through a
whole life to show it makes no system call, opens no path and no socket
the unit's sandbox would refuse (no systemd runs here to enforce it).

The package builds start from the tree's build/rel (dpkg-buildpackage
-nc, rpmbuild --build-in-place); its objects are compiled again when the
package's flags (Debian's hardening, rpm's) differ from the release
build's, as a build from a clean tree would make them.
The .deb is installed on this machine, as root: the test runs only when
certagent is neither installed as a package nor present in /usr/bin or
/etc/certagent, and purges what it installed whatever happens."""

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("CERTAGENT_BIN", str(ROOT / "certagent"))
UNIT = ROOT / "packaging" / "systemd" / "certagent@.service"
MAN = ROOT / "packaging" / "man"
PER_APP = ROOT / "examples" / "systemd-per-app"
MAX_EXPOSURE = 2.0


def need(cond, why):
    if not cond:
        pytest.skip(why)


# A make above pytest (make check SANITIZE=1) passes its variables down
# through MAKEFLAGS; the package builds and `make install` here must not
# inherit them, nor the jobserver it names.
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}


def run(cmd, **kw):
    kw.setdefault("env", CLEAN_ENV)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    return subprocess.run(cmd, **kw)


def makefile_version():
    return re.search(r"^VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)


@pytest.fixture
def unit_here(tmp_path):
    """The unit as an instance file whose ExecStart is the binary under
    test, with the man pages its Documentation= names on MANPATH."""
    need(shutil.which("systemd-analyze"), "systemd-analyze is not installed (make deps)")
    text = UNIT.read_text().replace("/usr/bin/certagent", os.path.abspath(BIN))
    path = tmp_path / "certagent@orders.service"
    path.write_text(text)
    for sec, page in (("8", "certagent.8"), ("5", "certagent.yaml.5")):
        d = tmp_path / "man" / ("man" + sec)
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(MAN / page, d / page)
    env = dict(CLEAN_ENV, MANPATH=str(tmp_path / "man"), SYSTEMD_LOG_COLOR="0")
    return path, env


def test_the_unit_verifies_clean(unit_here):
    path, env = unit_here
    cmd = ["systemd-analyze", "verify"]
    if not shutil.which("man"):
        cmd.append("--man=no")
    r = run(cmd + [str(path)], env=env)
    print(r.stdout + r.stderr)
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr


def test_the_unit_is_notify_with_watchdog_and_runs_as_the_instance_user():
    text = UNIT.read_text()
    service = dict(re.findall(r"^(\w+)=(.*)$", text.split("\n[Service]\n")[1].split("\n[Install]\n")[0],
                              re.M))
    assert service["Type"] == "notify"
    assert service["User"] == "%i"
    assert service["WatchdogSec"]
    assert "/etc/certagent/%i.yaml" in service["ExecStart"]
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert service["StateDirectory"] == "certagent/%i"


def test_the_unit_exposure_is_at_most_two(unit_here):
    path, env = unit_here
    r = run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(path)], env=env)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    print("systemd-analyze security: exposure %s (at most %.1f)" % (m.group(1), MAX_EXPOSURE))
    assert float(m.group(1)) <= MAX_EXPOSURE, r.stdout


def test_every_per_app_example_passes_check():
    configs = sorted(PER_APP.glob("*.yaml"))
    assert len(configs) >= 4
    for p in configs:
        r = run([BIN, "check", "-c", str(p)], timeout=30)
        assert r.returncode == 0, (p, r.stdout + r.stderr)
        # The one note check may give: an identity nothing renews, which is
        # what the file says it means (provisioned from outside).
        if "note:" in r.stdout:
            assert "nothing renews vault.client_cert" in r.stdout, (p, r.stdout)
            assert "provisioned" in p.read_text(), p


def test_per_app_examples_differ_between_test_and_prod():
    """Test and prod differ in mechanics: Vault, trust, mounts, users."""
    import yaml
    prod = yaml.safe_load((PER_APP / "orders.yaml").read_text())
    test = yaml.safe_load((PER_APP / "orders-test.yaml").read_text())
    assert set(prod["vault"]["address"]).isdisjoint([test["vault"]["address"]])
    assert prod["vault"]["ca_cert"] != test["vault"]["ca_cert"]
    assert prod["auth"]["method"] == test["auth"]["method"] == "cert"
    assert prod["auth"]["mount"] != test["auth"]["mount"]
    pmounts = {c["path"].split("/")[0] for c in prod["certificates"]}
    tmounts = {c["path"].split("/")[0] for c in test["certificates"]}
    assert pmounts.isdisjoint(tmounts)
    # Every file an instance writes is below its own state directory,
    # or a directory its drop-in opens.
    for p in PER_APP.glob("*.yaml"):
        user = p.stem
        cfg = yaml.safe_load(p.read_text())
        dropin = PER_APP / "systemd" / ("certagent@%s.service.d" % user) / "paths.conf"
        allowed = ["/var/lib/certagent/%s/" % user]
        if dropin.exists():
            allowed += [l.split("=", 1)[1].strip() + "/"
                        for l in dropin.read_text().splitlines()
                        if l.startswith("ReadWritePaths=")]
        paths = [f["path"] for c in cfg.get("certificates", []) for f in c["files"].values()]
        paths += [t["destination"] for t in cfg.get("templates", [])]
        assert paths, p
        for dest in paths:
            assert any(dest.startswith(a) for a in allowed), (p, dest, allowed)


def mkman():
    tool = pathlib.Path(BIN).parent / "mkman"
    need(tool.exists(), "%s is not built (make integration builds it)" % tool)
    return tool


def test_the_config_man_page_is_what_the_table_generates():
    r = run([str(mkman()), str(MAN / "certagent.yaml.5.in")])
    assert r.returncode == 0, r.stderr
    assert r.stdout == (MAN / "certagent.yaml.5").read_text(), \
        "packaging/man/certagent.yaml.5 differs from the option table: run `make man`"


def test_the_config_man_page_has_an_entry_for_every_key_of_the_table_source():
    """Independent of the generator: every `.key = "..."` written in
    table.c ends the path of an entry of the page."""
    table = (ROOT / "agent" / "config" / "table.c").read_text()
    keys = set(re.findall(r'\.key = "([a-z_]+)"', table))
    page = (MAN / "certagent.yaml.5").read_text()
    entries = re.findall(r"^\.B ([A-Za-z_.\[\]]+)$", page, re.M)
    last = {e.rsplit(".", 1)[-1].replace("[]", "") for e in entries}
    assert len(keys) > 40
    assert keys <= last, "not in certagent.yaml(5): %s" % sorted(keys - last)


def test_the_command_man_page_names_every_command_and_the_version():
    page = (MAN / "certagent.8").read_text()
    assert '"certagent %s"' % makefile_version() in page
    usage = run([BIN, "--help"]).stdout
    commands = set(re.findall(r"certagent (\w+)", usage))
    assert {"run", "check", "exec", "rotate"} <= commands
    for c in commands:
        assert re.search(r"^\.B certagent %s\b" % c, page, re.M), \
            "certagent.8 has no SYNOPSIS line for `certagent %s`" % c
        assert re.search(r"^\.B[R]? %s\b" % c, page, re.M), \
            "certagent.8 does not describe `%s` under COMMANDS" % c
    for section in ("SIGNALS", "EXIT STATUS", "FILES"):
        assert ".SH %s" % section in page


def test_make_install_honours_prefix_and_destdir(tmp_path):
    need(shutil.which("make"), "no make")
    dest = tmp_path / "dest"
    r = run(["make", "-s", "-C", str(ROOT), "install", "PREFIX=/opt/certagent",
             "DESTDIR=%s" % dest])
    assert r.returncode == 0, r.stdout + r.stderr
    root = dest / "opt" / "certagent"
    assert os.access(root / "bin" / "certagent", os.X_OK)
    assert (root / "share" / "man" / "man8" / "certagent.8").is_file()
    assert (root / "share" / "man" / "man5" / "certagent.yaml.5").is_file()
    unit = (root / "lib" / "systemd" / "system" / "certagent@.service").read_text()
    assert "ExecStart=/opt/certagent/bin/certagent run" in unit
    assert "/usr/bin/certagent" not in unit


# ---------------------------------------------------------------------------
# Packages

@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of the tree for a package build, with build/rel (if the
    tree has one): what its flags leave current is not compiled again.

    The packages carry the release build, also under SANITIZE=1 (as the
    image does): the sanitizer run would build and test the very same
    packages again, so it leaves them to the release run."""
    need(pathlib.Path(BIN).parent.name != "san",
         "packages are built from the release build: tested by `make check`")
    dst = tmp_path_factory.mktemp("pkg") / ("certagent-%s" % makefile_version())
    shutil.copytree(ROOT, dst, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "build", "__pycache__",
                                                  "certagent", ".pytest_cache"))
    if (ROOT / "build" / "rel").is_dir():
        shutil.copytree(ROOT / "build" / "rel", dst / "build" / "rel", symlinks=True,
                        ignore=shutil.ignore_patterns("test", "*.tmp"))
    return dst


def dpkg(*args):
    """dpkg, waiting out another process's hold of its lock."""
    for _ in range(60):
        r = run(["dpkg"] + list(args))
        if "lock" not in r.stderr:
            return r
        time.sleep(5)
    return r


def test_deb_builds_lints_installs_runs_and_purges(tree):
    need(shutil.which("dpkg-buildpackage"), "dpkg-buildpackage is not installed (make deps)")
    need(os.geteuid() == 0, "installing the .deb needs root")
    need(run(["dpkg-query", "-W", "certagent"]).returncode != 0,
         "a certagent package is installed here already; not touching it")
    need(not os.path.exists("/usr/bin/certagent") and not os.path.exists("/etc/certagent"),
         "/usr/bin/certagent or /etc/certagent exists; not touching this machine")
    shutil.copytree(tree / "packaging" / "debian", tree / "debian")
    # -nc: keep build/rel; noautodbgsym: no -dbgsym package, which is
    # objcopy's work and nothing of ours.
    r = run(["dpkg-buildpackage", "-us", "-uc", "-b", "-nc"], cwd=tree,
            env=dict(CLEAN_ENV, DEB_BUILD_OPTIONS="noautodbgsym"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    deb = tree.parent / ("certagent_%s-1_%s.deb" % (
        makefile_version(), run(["dpkg", "--print-architecture"]).stdout.strip()))
    assert deb.is_file()
    listing = run(["dpkg-deb", "-c", str(deb)]).stdout
    for f in ("./usr/bin/certagent", "./lib/systemd/system/certagent@.service",
              "./usr/share/man/man8/certagent.8.gz", "./usr/share/man/man5/certagent.yaml.5.gz",
              "./etc/certagent/README",
              "./usr/share/doc/certagent/examples/systemd-per-app/orders.yaml"):
        assert f in listing, f
    # The unit runs as the instance's user: the package creates no user.
    postinst = run(["dpkg-deb", "-I", str(deb), "postinst"]).stdout
    assert "adduser" not in postinst and "useradd" not in postinst, postinst

    if shutil.which("lintian"):
        changes = next(tree.parent.glob("certagent_*.changes"))
        r = run(["lintian", "--allow-root", str(changes)])
        print(r.stdout)
        assert not re.search(r"^E: ", r.stdout, re.M), r.stdout

    try:
        r = dpkg("-i", str(deb))
        assert r.returncode == 0, r.stdout + r.stderr
        r = run(["/usr/bin/certagent", "--version"])
        assert r.returncode == 0 and makefile_version() in r.stdout, r.stdout + r.stderr
        examples = sorted(pathlib.Path(
            "/usr/share/doc/certagent/examples/systemd-per-app").glob("*.yaml"))
        assert examples
        for p in examples:
            r = run(["/usr/bin/certagent", "check", "-c", str(p)])
            assert r.returncode == 0, (p, r.stdout + r.stderr)
        assert pathlib.Path("/etc/certagent/README").is_file()
    finally:
        r = dpkg("--purge", "certagent")
    assert r.returncode == 0, r.stdout + r.stderr
    for gone in ("/usr/bin/certagent", "/etc/certagent", "/lib/systemd/system/certagent@.service",
                 "/usr/share/doc/certagent", "/usr/share/certagent"):
        assert not os.path.exists(gone), gone
    assert run(["dpkg-query", "-W", "certagent"]).returncode != 0


def test_rpm_builds_and_rpmlint_finds_no_error(tree, tmp_path):
    need(shutil.which("rpmbuild"), "rpmbuild is not installed (make deps)")
    top = tmp_path / "rpmbuild"
    # --nodeps: the BuildRequires name Fedora's packages, which Debian's
    # rpm database does not have.
    r = run(["rpmbuild", "-bb", "--nodeps", "--build-in-place", "--define", "_topdir %s" % top,
             str(tree / "packaging" / "rpm" / "certagent.spec")], cwd=tree)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rpm = next(top.glob("RPMS/*/certagent-%s-*.rpm" % makefile_version()))
    files = run(["rpm", "-qlp", str(rpm)]).stdout.split()
    for f in ("/usr/bin/certagent", "/usr/lib/systemd/system/certagent@.service",
              "/usr/share/man/man8/certagent.8.gz", "/etc/certagent/README"):
        assert f in files, f
    need(shutil.which("rpmlint"), "rpmlint is not installed (make deps)")
    r = run(["rpmlint", "-r", str(ROOT / "packaging" / "rpm" / "certagent.rpmlintrc"), str(rpm)])
    print(r.stdout)
    assert re.search(r"\b0 errors\b", r.stdout), r.stdout


# ---------------------------------------------------------------------------
# The unit's system call filter, against what the agent really calls

def syscall_groups():
    """{"@group": set of names and "@subgroups"} from systemd-analyze."""
    out = run(["systemd-analyze", "syscall-filter", "--no-pager"]).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), set())
        elif line.startswith("    ") and cur is not None and not line.strip().startswith("#"):
            cur.add(line.strip())
        elif not line.strip():
            cur = None
    return groups


def expand(groups, name, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for item in groups.get(name, ()):
        if item.startswith("@"):
            if item not in seen:
                seen.add(item)
                out |= expand(groups, item, seen)
        else:
            out.add(item)
    return out


def unit_allowed_syscalls():
    """The allow-list SystemCallFilter= lines of the unit make: the first
    line's groups, minus every later ~ line's."""
    groups = syscall_groups()
    lines = re.findall(r"^SystemCallFilter=(.*)$", UNIT.read_text(), re.M)
    assert lines and not lines[0].startswith("~")
    allowed = set()
    for item in lines[0].split():
        allowed |= expand(groups, item) if item.startswith("@") else {item}
    for line in lines[1:]:
        assert line.startswith("~"), line
        for item in line[1:].split():
            allowed -= expand(groups, item) if item.startswith("@") else {item}
    return allowed


def test_the_agent_calls_nothing_the_units_syscall_filter_refuses(env, monkeypatch):
    """The release binary, traced through a whole life (login, issuance,
    a signal hook, /metrics, SIGHUP, SIGUSR1, SIGTERM), makes only system
    calls the unit's SystemCallFilter= allows.  (No systemd runs here to
    apply the filter itself; systemd-analyze says what it would allow.)"""
    need(shutil.which("strace"), "strace is not installed (make deps)")
    need(shutil.which("systemd-analyze"), "systemd-analyze is not installed (make deps)")
    need(pathlib.Path(BIN).parent.name != "san",
         "the sanitizer runtime makes calls of its own; the unit runs the release build")
    import conftest
    from test_certs import cert_config
    from test_rotation import free_port, one_cert, wait_status

    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="24h", key_type="ec", key_bits=256)
    env.vs.policy("pki", 'path "pki_int/issue/*" { capabilities = ["create", "update"] }')
    rid, sid = env.approle_files(token_policies=["default", "pki"])
    trace = env.tmp / "strace.out"
    wrapper = env.tmp / "traced-certagent"
    wrapper.write_text('#!/bin/sh\nexec strace -D -f -qq -o "%s" "%s" "$@"\n'
                       % (trace, os.path.abspath(BIN)))
    wrapper.chmod(0o755)
    monkeypatch.setattr(conftest, "BIN", str(wrapper))

    d = env.tmp / "tls"
    d.mkdir()
    app = subprocess.Popen(["sleep", "600"])
    try:
        (env.tmp / "app.pid").write_text("%d\n" % app.pid)
        port = free_port()
        cfg = cert_config(env, rid, sid, one_cert(
            d, extra="on_change: [app, cmd]\n          wait: {min: 0s, max: 0s}"))
        cfg += "hooks:\n  app: {signal: SIGUSR2, pid_file: %s}\n" % (env.tmp / "app.pid")
        cfg += "  cmd: {command: [/bin/true]}\n"
        cfg += "listener:\n  address: 127.0.0.1:%d\n" % port
        a = env.agent(cfg)
        # As under the unit: notifications and watchdog pings.
        manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        manager.bind(str(env.tmp / "notify.sock"))
        a.start(env={"NOTIFY_SOCKET": str(env.tmp / "notify.sock"), "WATCHDOG_USEC": "200000"})
        a.wait_for(r"issued serial", timeout=30)
        a.wait_for(r"app: sent SIGUSR2", timeout=30)
        a.wait_for(r"cmd: exited 0", timeout=30)
        wait_status(port, "/metrics", 200)
        a.send(signal.SIGHUP)
        a.wait_for(r"reload", timeout=30)
        a.send(signal.SIGUSR1)
        a.wait_for(r"issued serial", timeout=30, count=2)
        assert a.stop() == 0
        manager.setblocking(False)
        got = b""
        while True:
            try:
                got += manager.recv(4096) + b"\n"
            except BlockingIOError:
                break
        manager.close()
        assert b"READY=1" in got, got
    finally:
        app.kill()
        app.wait()
    text = trace.read_text()
    calls = set(re.findall(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", text, re.M))
    calls -= {"exit", "exit_group", "resumed"}   # strace's own spellings
    # The trace saw the whole life: network, files, a signal, a child.
    assert {"connect", "rename", "kill", "execve", "fsync"} <= calls, sorted(calls)
    refused = sorted(calls - unit_allowed_syscalls())
    print("system calls made: %d; refused by the unit: %s" % (len(calls), refused))
    assert not refused, refused

    # The rest of the sandbox: ProcSubset=pid leaves only /proc/PID;
    # PrivateDevices= leaves the pseudo devices; ProtectSystem=strict
    # leaves writable only what the configuration names (here, the test's
    # directory; under the unit, its state and runtime directories).
    opened = re.findall(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]+)", ([A-Z_|]+)', text)
    assert opened
    for path, flags in opened:
        if path.startswith("/proc/"):
            assert re.match(r"/proc/(self|thread-self|\d+)/", path), path
        if path.startswith("/dev/"):
            assert path in ("/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                            "/dev/urandom", "/dev/tty"), path
        if re.search(r"O_WRONLY|O_RDWR|O_CREAT", flags) and not path.startswith("/dev/"):
            assert path.startswith(str(env.tmp) + "/"), (path, flags)
    # RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
    families = set(re.findall(r"socket\((AF_[A-Z0-9]+)", text))
    assert families and families <= {"AF_UNIX", "AF_INET", "AF_INET6"}, families
