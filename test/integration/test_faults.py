"""The fault matrix: what goes wrong around the agent, one fault at a time.

Every test follows the same three steps against the real binary and
vaultsim: the agent has put a certificate in place; a fault is injected
(the disk, the file system, the configuration, Vault's answer, the hook,
the clock) and the agent is made to act (a rotation, a SIGHUP); then the
test checks that the files on disk are the old ones byte for byte, that
the error line names the cause, that the agent retried, and that once
the fault is gone it recovers by itself.

What Vault faults test_resilience.py (login: 500s, 429, a timeout, a
dropped connection, bad JSON, an oversized answer) and test_engine.py
(issuance: a key that does not match, a chain that does not verify)
already cover is not repeated here.
"""

import contextlib
import errno
import os
import pathlib
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import textwrap
import time

import pytest

from conftest import BIN, Env
from harness import Vaultsim
from test_certs import issue_requests, openssl, serial_of

WROTE = r"certs: web: wrote 2 files from one issuance"
RETRY = "{min_backoff: 100ms, max_backoff: 500ms}"
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def pki_setup(env, **approle):
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="24h", key_type="ec", key_bits=256)
    env.vs.policy("pki", 'path "pki_int/issue/*" { capabilities = ["create", "update"] }')
    return env.approle_files(token_policies=["default", "pki"], **approle)


@pytest.fixture
def pki(env):
    return pki_setup(env)


def entry(d, ttl="1h", extra=""):
    text = textwrap.dedent("""\
        certificates:
          - name: web
            path: pki_int/issue/web
            common_name: web.example.test
            ttl: %s
            files:
              cert: {path: %s/web.crt}
              key: {path: %s/web.key}
        """ % (ttl, d, d))
    return text + textwrap.indent(textwrap.dedent(extra).strip("\n"), "    ") + "\n"


def config(env, rid, sid, d, ttl="1h", extra="", top="", vault=""):
    return env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false",
                              retry=RETRY, top=top, vault=vault) + entry(d, ttl, extra)


def snapshot(d):
    """Every file under D: its bytes (and what a symlink points to)."""
    out = {}
    for p in sorted(walk(d)):
        if os.path.islink(p):
            out[p] = ("link", os.readlink(p))
        elif os.path.isdir(p):
            out[p] = ("dir",)
        else:
            with open(p, "rb") as f:
                out[p] = ("file", f.read())
    return out


def walk(d):
    for root, dirs, files in os.walk(str(d)):
        for n in dirs + files:
            yield os.path.join(root, n)


def key_matches(d):
    rc, cert_pub = openssl("x509", "-noout", "-pubkey", "-in", str(d / "web.crt"))
    rc2, key_pub = openssl("pkey", "-pubout", "-in", str(d / "web.key"))
    return rc == 0 and rc2 == 0 and cert_pub == key_pub


def fault_then_recover(a, d, cause, first_serial):
    """Rotate now (SIGUSR1) while a fault is on: the attempt and its retry
    fail naming CAUSE and leave D as it was.  The caller then removes the
    fault and checks recovered()."""
    before = snapshot(d)
    a.send(signal.SIGUSR1)
    a.wait_for(r"certs: web: .*%s.*old files kept, next try in" % cause, count=2, timeout=20)
    assert snapshot(d) == before
    assert serial_of(d / "web.crt") == first_serial
    return before


def recovered(a, d, first_serial):
    """The retry after the fault wrote a new, matching set."""
    a.wait_for(WROTE, count=2, timeout=20)
    assert serial_of(d / "web.crt") != first_serial
    assert key_matches(d)


# ------------------------------------------------------------------ the disk

def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def tmpfs(d, size="64k"):
    d.mkdir()
    r = run("mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", str(d))
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs (%s): %s" % (" ".join(r.args), r.stderr.strip()))
    try:
        yield d
    finally:
        run("umount", "-l", str(d))


def fill(d):
    """Fill the file system of D until it has no free block left."""
    p = d / "filler"
    fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    finally:
        os.close(fd)
    return p


def test_a_full_file_system_keeps_the_old_files_and_recovers_when_space_returns(env, pki):
    rid, sid = pki
    with tmpfs(env.tmp / "tls") as d:
        a = env.agent(config(env, rid, sid, d)).start()
        a.wait_for(WROTE)
        first = serial_of(d / "web.crt")
        filler = fill(d)
        fault_then_recover(a, d, r"No space left on device", first)
        assert sorted(os.listdir(d)) == ["filler", "web.crt", "web.key"]   # no temp files left
        filler.unlink()
        recovered(a, d, first)
        assert a.stop() == 0


def test_a_read_only_file_system_keeps_the_old_files_and_recovers_when_writable(env, pki):
    rid, sid = pki
    with tmpfs(env.tmp / "tls") as d:
        a = env.agent(config(env, rid, sid, d)).start()
        a.wait_for(WROTE)
        first = serial_of(d / "web.crt")
        r = run("mount", "-o", "remount,ro", str(d))
        assert r.returncode == 0, r.stderr
        fault_then_recover(a, d, r"Read-only file system", first)
        r = run("mount", "-o", "remount,rw", str(d))
        assert r.returncode == 0, r.stderr
        recovered(a, d, first)
        assert a.stop() == 0


# ---------------------------------------------- the agent as an unprivileged user

def nobody():
    """(uid, gid) of 'nobody', or skip: the tests that need EACCES run the
    agent as a user that file modes stop, which root is not."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the agent as another user")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    return pw.pw_uid, pw.pw_gid


class Unprivileged:
    """A directory 'nobody' owns, holding copies of what the agent reads
    (pytest's tmp_path sits under a 0700 directory of root's), and a way
    to start an Agent as 'nobody'."""

    def __init__(self, env):
        self.uid, self.gid = nobody()
        self.env = env
        self.dir = tempfile.mkdtemp(prefix="certagent-faults-")
        os.chmod(self.dir, 0o755)
        self.root = pathlib.Path(self.dir)
        self.own(self.root)

    def own(self, p):
        os.chown(p, self.uid, self.gid)
        return p

    def copy(self, src, mode=0o600):
        dst = self.root / os.path.basename(str(src))
        shutil.copyfile(str(src), str(dst))
        os.chmod(dst, mode)
        return self.own(dst)

    def config(self, rid, sid, rest):
        """An AppRole config whose files are copies in this directory."""
        rid2, sid2, ca2 = self.copy(rid), self.copy(sid), self.copy(self.env.vs.tls_ca, 0o644)
        text = self.env.approle_config(rid2, sid2,
                                       auth="remove_secret_id_file_after_reading: false",
                                       retry=RETRY)
        return text.replace("ca_cert: %s" % self.env.vs.tls_ca, "ca_cert: %s" % ca2) + rest

    def agent(self, text, name="agent"):
        a = self.env.agent(text, name=name)
        cfg = self.root / ("%s.yaml" % name)
        shutil.copyfile(str(a.config), str(cfg))
        a.config = self.own(cfg)
        return a

    def start(self, a):
        a._logf = open(a.log_path, "ab")
        argv = ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid,
                "--clear-groups", BIN, "run", "-c", str(a.config)]
        a.proc = subprocess.Popen(argv, stdout=a._logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=self.dir)
        return a

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def unpriv(env):
    u = Unprivileged(env)
    yield u
    for a in env.agents:
        if a.proc is not None and a.proc.poll() is None:
            a.stop()
    u.close()


def test_a_directory_the_agent_may_not_write_keeps_the_old_files_and_recovers(env, pki, unpriv):
    rid, sid = pki
    d = unpriv.root / "tls"
    d.mkdir()
    unpriv.own(d)
    a = unpriv.agent(unpriv.config(rid, sid, entry(d)))
    unpriv.start(a)
    a.wait_for(WROTE)
    first = serial_of(d / "web.crt")
    os.chown(d, 0, 0)          # root's now, 0755: 'nobody' cannot create in it
    fault_then_recover(a, d, r"%s.*Permission denied" % d, first)
    os.chown(d, unpriv.uid, unpriv.gid)
    recovered(a, d, first)
    assert a.stop() == 0


# ------------------------------------------- what stands where a file should be

def test_a_directory_where_a_file_should_be_is_refused_and_the_set_stays_whole(env, pki):
    """A directory in place of web.key is never written into or removed:
    the issuance fails naming the path, web.crt keeps its old bytes too
    (one issuance feeds the whole set, or none of it), and once the
    operator moves the directory away the set is written."""
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    a = env.agent(config(env, rid, sid, d)).start()
    a.wait_for(WROTE)
    first = serial_of(d / "web.crt")
    (d / "web.key").unlink()
    (d / "web.key").mkdir()
    (d / "web.key" / "precious").write_text("keep me\n")
    fault_then_recover(a, d, r"%s/web.key: is a directory, not a file; refusing to replace it"
                       % d, first)
    assert (d / "web.key" / "precious").read_text() == "keep me\n"
    shutil.rmtree(d / "web.key")
    recovered(a, d, first)
    assert a.stop() == 0


def test_a_directory_where_a_file_should_be_at_start_writes_nothing_until_it_goes(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    (d / "web.key").mkdir()
    a = env.agent(config(env, rid, sid, d)).start()
    a.wait_for(r"certs: web: .*%s/web.key.*is a directory, not a file; refusing to replace it.*"
               r"next try in" % d, count=2, timeout=20)
    assert sorted(os.listdir(d)) == ["web.key"]
    assert (d / "web.key").is_dir()
    (d / "web.key").rmdir()
    a.wait_for(WROTE, timeout=20)
    assert key_matches(d)
    assert a.stop() == 0


def test_a_template_destination_that_is_a_symlink_is_replaced_not_followed(env, pki):
    """A symlink where a destination should be is replaced by a regular
    file (rename(2) replaces the link itself); what it pointed to is
    never written.  (An entry's files: test_certs.py.)  A symlink to a
    directory higher up the path is followed like any directory."""
    rid, sid = pki
    real = env.tmp / "real"
    real.mkdir()
    d = env.tmp / "tls"
    os.symlink(real, d)
    victim = env.tmp / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, real / "web.crt")
    call = '"pki_int/issue/web" "common_name=web.example.test"'
    tpl = textwrap.dedent("""\
        templates:
          - destination: %s/web.crt
            contents: '{{ with secret %s }}{{ .Data.certificate }}{{ end }}'
        """ % (d, call))
    a = env.agent(env.approle_config(rid, sid, retry=RETRY) + tpl).start()
    a.wait_for(r"templates: \S+: rendered %s/web.crt" % d)
    assert victim.read_text() == "precious\n"
    assert stat.S_ISREG(os.lstat(real / "web.crt").st_mode)
    assert "BEGIN CERTIFICATE" in (real / "web.crt").read_text()
    assert a.stop() == 0


# ------------------------------------------ the configuration under a SIGHUP

KV_POLICY = """
    path "secret/data/*" { capabilities = ["read"] }
    path "pki_int/issue/*" { capabilities = ["create", "update"] }
"""


def kv_world(env, root):
    """A kv secret rendered through a template file in ROOT, re-read every
    second, beside the certificate entry."""
    env.vs.policy("app", KV_POLICY)
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="24h", key_type="ec", key_bits=256)
    env.vs.kv_put("app", {"user": "alice"})
    tpl = root / "app.tpl"
    tpl.write_text('user={{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ end }}\n')
    d = root / "out"
    d.mkdir()
    rest = entry(d) + textwrap.dedent("""\
        template_config: {static_secret_render_interval: 1s}
        templates:
          - source: %s
            destination: %s/app.env
        """ % (tpl, d))
    return tpl, d, rest


def break_file(path, how):
    """Make PATH missing or unreadable for the agent; return the undo."""
    if how == "deleted":
        aside = path.with_name(path.name + ".aside")
        os.rename(path, aside)
        return lambda: os.rename(aside, path)
    os.chmod(path, 0o000)
    return lambda: os.chmod(path, 0o600)


@pytest.mark.parametrize("what", ["config", "template"])
@pytest.mark.parametrize("how", ["deleted", "unreadable"])
def test_a_sighup_with_a_file_gone_or_unreadable_keeps_the_running_config(env, what, how,
                                                                         request):
    """The file is named with the cause; the running configuration (and
    its templates) go on serving; once the file is back the next SIGHUP
    applies it.  Unreadable needs the agent as a user file modes stop."""
    unpriv = request.getfixturevalue("unpriv") if how == "unreadable" else None
    root = unpriv.root if unpriv else env.tmp
    rid, sid = env.approle_files(token_policies=["default", "app"])
    tpl, d, rest = kv_world(env, root)
    if unpriv:
        unpriv.own(tpl)
        unpriv.own(d)
        a = unpriv.agent(unpriv.config(rid, sid, rest))
        unpriv.start(a)
    else:
        a = env.agent(config(env, rid, sid, d).replace(entry(d), "") + rest).start()
    a.wait_for(WROTE)
    a.wait_for(r"templates: \S+: rendered %s/app.env" % d)
    assert (d / "app.env").read_text() == "user=alice\n"
    before = snapshot(d)
    path = a.config if what == "config" else tpl
    undo = break_file(path, how)
    a.send(signal.SIGHUP)
    cause = "No such file or directory" if how == "deleted" else "Permission denied"
    found = a.wait_for(r"(?m)^.*(?:reload failed; keeping the running configuration|"
                       r"config).*\n?.*%s.*%s.*$" % (path, cause))
    assert a.count(r"reload failed; keeping the running configuration") == 1, found
    assert a.count(r"configuration reloaded") == 0
    assert snapshot(d) == before
    # The old templates still render: a change of the data reaches the file.
    env.vs.kv_put("app", {"user": "bob"})
    a.wait_for(r"templates: \S+: rendered %s/app.env" % d, count=2)
    assert (d / "app.env").read_text() == "user=bob\n"
    undo()
    a.send(signal.SIGHUP)
    a.wait_for(r"configuration reloaded")
    assert a.proc.poll() is None
    assert len(issue_requests(env.vs)) == 1     # nothing issued again by either SIGHUP
    assert a.stop() == 0


# ------------------------------------------------------- Vault's answer to an issuance

TEN_MB = 10 * 1000 * 1000

# (fault spec on the issue path, what the error line must name)
ANSWERS = {
    "truncated_json": ({"malformed": True}, r"a body that is not JSON"),
    "ten_megabytes": ({"huge_bytes": TEN_MB},
                      r"response larger than vault.max_response_size \(4194304 bytes\)"),
    "slow_body": ({"slow_body_ms": 300}, r"Operation timed out"),
    "closed_mid_answer": ({"cut_body": True},
                          r"transfer closed with \d+ bytes remaining|Partial file|"
                          r"Connection reset|Recv failure"),
    "expired": ({"pki": "expired"}, r"fails its check: .*expired"),
    "not_yet_valid": ({"pki": "not_yet_valid"}, r"fails its check: .*not (?:yet )?valid"),
}


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_a_bad_answer_to_an_issuance_keeps_the_old_files_and_is_retried(env, pki, kind):
    spec, cause = ANSWERS[kind]
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    # A slow body outlasts a 1 s request limit (the answer is ~3 KB in
    # 64-byte pieces, one every 300 ms).
    a = env.agent(config(env, rid, sid, d, vault="timeout: 1s")).start()
    a.wait_for(WROTE)
    first = serial_of(d / "web.crt")
    env.vs.fault(path_prefix="/v1/pki_int/issue/web", count=-1, **spec)
    fault_then_recover(a, d, cause, first)
    env.vs.clear_faults()
    recovered(a, d, first)
    assert a.stop() == 0


# ------------------------------------------------------------------ the hook

def hook_world(env, pki, body):
    """An entry whose hook runs the script hook.sh, which starts as BODY."""
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    script = env.tmp / "hook.sh"
    if body is not None:
        script.write_text("#!/bin/sh\n" + body)
        os.chmod(script, 0o755)
    hooks = textwrap.dedent("""\
        hooks:
          app: {command: [%s], timeout: 1s}
        """ % script)
    text = config(env, rid, sid, d, extra="on_change: [app]\nwait: {min: 0s, max: 1s}")
    return env.agent(text.replace("certificates:", hooks + "certificates:")), d, script


HOOKS = {
    "missing": (None, r"hooks: app: cannot run \S+/hook.sh: no such file or directory"),
    "exits_non_zero": ("echo broken >&2\nexit 3\n",
                       r"hooks: app: stderr: broken\n.*hooks: app: exited with status 3"),
    "hangs": ('echo $$ > "$(dirname "$0")/hook.pid"\nexec sleep 60\n',
              r"hooks: app: pid \d+ still running after 1.0s; sending SIGTERM"),
}


@pytest.mark.parametrize("kind", sorted(HOOKS))
def test_a_failing_hook_is_named_retried_and_recovers(env, pki, kind):
    """The files are written once; the hook's failure is logged with its
    cause and count, it is retried after a backoff without a new
    issuance, and once the command works it runs and is done."""
    body, cause = HOOKS[kind]
    a, d, script = hook_world(env, pki, body)
    a.start()
    a.wait_for(WROTE)
    a.wait_for(cause)
    a.wait_for(r"hooks: app: .*failure 2, next try in", timeout=20)
    if kind == "hangs":
        pid = int((env.tmp / "hook.pid").read_text())
        deadline = time.time() + 10
        while time.time() < deadline and os.path.exists("/proc/%d" % pid):
            time.sleep(0.05)
        assert not os.path.exists("/proc/%d" % pid), "the hung hook was not stopped"
    files = snapshot(d)
    script.write_text('#!/bin/sh\necho "ran for $CERTAGENT_CHANGED_FILES"\n')
    os.chmod(script, 0o755)
    a.wait_for(r"hooks: app: exited 0", timeout=20)
    a.wait_for(r"hooks: app: stdout: ran for %s/web" % d)
    assert snapshot(d) == files
    assert len(issue_requests(env.vs)) == 1
    n = a.count(r"hooks: app: started")
    time.sleep(1.5)     # max_backoff is 500 ms: a retry would have come
    assert a.count(r"hooks: app: started") == n
    assert a.stop() == 0


# ------------------------------------------------------------------ the clock

@pytest.fixture
def faked(tmp_path, monkeypatch):
    """An Env whose vaultsim and agents read the wall clock through
    libfaketime, from one file the test rewrites ("+7200" jumps both two
    hours ahead).  Monotonic time is left alone, as a real step of the
    wall clock (NTP, a resumed VM) leaves it."""
    if not os.path.exists(FAKETIME_LIB):
        pytest.skip("libfaketime not installed (Debian package faketime; `make deps`)")
    clock = tmp_path / "faketime"
    clock.write_text("+0\n")
    faked_env = {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME_TIMESTAMP_FILE": str(clock),
                 "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                 "FAKETIME_DONT_RESET": "1"}
    for k, v in faked_env.items():
        monkeypatch.setenv(k, v)
    try:
        vs = Vaultsim(tmp_path, subdir="faked").start()
    finally:
        for k in faked_env:
            monkeypatch.delenv(k)
    e = Env(tmp_path, vs)
    e.clock = clock
    # An ASan build wants its runtime first among the libraries; the
    # preloaded libfaketime comes before it, harmlessly.
    asan = os.environ.get("ASAN_OPTIONS", "")
    e.faked_env = dict(faked_env, ASAN_OPTIONS=(asan + ":" if asan else "") +
                       "verify_asan_link_order=0")
    try:
        yield e
    finally:
        for a in e.agents:
            if a.proc is not None and a.proc.poll() is None:
                a.stop()
        vs.stop()


def not_after(path):
    rc, out = openssl("x509", "-noout", "-enddate", "-in", str(path))
    assert rc == 0, out
    return time.mktime(time.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z"))


def test_a_wall_clock_jump_past_notafter_renews_at_once(faked):
    """The host's clock steps two hours ahead (Vault's with it): the 1 h
    certificate on disk has expired.  The agent notices the step within
    seconds, not when its monotonic renewal timer would have fired 40
    minutes later, and renews; the new certificate is valid at the new
    time."""
    rid, sid = pki_setup(faked, token_ttl="1h", token_max_ttl="24h")
    d = faked.tmp / "tls"
    d.mkdir()
    a = faked.agent(config(faked, rid, sid, d)).start(env=faked.faked_env)
    a.wait_for(WROTE)
    first = serial_of(d / "web.crt")
    faked.clock.write_text("+7200\n")
    a.wait_for(r"agent: the wall clock stepped forward", timeout=20)
    recovered(a, d, first)
    assert not_after(d / "web.crt") > time.time() + 7200
    assert a.stop() == 0


def test_a_wall_clock_jump_backward_issues_nothing_and_keeps_the_schedule(faked):
    """The clock steps a day back: the certificate on disk looks not yet
    valid, but it is what there is; nothing is issued (Vault would issue
    one that looks as invalid), the renewal moves a day later with the
    clock, and when the clock comes back the schedule is as before."""
    rid, sid = pki_setup(faked, token_ttl="1h", token_max_ttl="24h")
    d = faked.tmp / "tls"
    d.mkdir()
    a = faked.agent(config(faked, rid, sid, d)).start(env=faked.faked_env)
    a.wait_for(WROTE)
    before = snapshot(d)
    faked.clock.write_text("-86400\n")
    a.wait_for(r"agent: the wall clock stepped back", timeout=20)
    faked.clock.write_text("+0\n")
    a.wait_for(r"agent: the wall clock stepped forward", timeout=20)
    assert snapshot(d) == before
    assert len(issue_requests(faked.vs)) == 1
    assert a.count(r"will be replaced|EXPIRED|fails its check") == 0
    assert a.stop() == 0
