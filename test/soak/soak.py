#!/usr/bin/env python3
"""Leak soak: many rotations with hooks and many SIGHUPs against vaultsim.

One agent holds one certificate entry (its hook a command, so every
rotation spawns a process and reads its output) and one template of kv
data.  The soak sends SIGUSR1 and waits for the hook's run after the new
files are written, ROTATIONS times; after every ROTATIONS/HUPS of them it
sends SIGHUP and waits for the reload, so the configuration, the
templates and the hooks are rebuilt HUPS times in between.

It asserts, on the agent process alone (/proc/PID):
  - the open file descriptors at the end are the same number as at the
    start (after the first issuance), so no socket, pipe or file leaks;
    pooled connections to Vault are counted apart (libcurl keeps some
    for reuse, Vault closes idle ones) and must stay within MAX_POOLED;
  - VmRSS grew by less than --max-rss-growth-kb (default 1024) from the
    warm-up (the first tenth of the rotations) to the end, so no memory
    leaks by the rotation or the reload (not under valgrind, whose own
    memory is in the figure);
  - the agent stops with status 0 on SIGTERM: under --valgrind (memcheck,
    --leak-check=full) an error or a definite leak makes that status
    nonzero, so any leak at exit fails.

It prints the figures: fds, RSS at warm-up and at the end, duration.

    soak.py --binary build/rel/certagent --rotations 10000 --hups 2000
    soak.py --binary build/rel/certagent --rotations 200 --hups 50 --valgrind
"""

import argparse
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test" / "vaultsim"))

from harness import Vaultsim  # noqa: E402

# libcurl's connection cache holds a few connections per host; thousands
# of requests leaking their sockets would be far more.
MAX_POOLED = 4

POLICY = """
    path "secret/data/*" { capabilities = ["read"] }
    path "pki_int/issue/*" { capabilities = ["create", "update"] }
"""


class Log:
    """The agent's log, read incrementally: counts of the lines the soak
    waits for, without reading the whole file again each time."""

    PATTERNS = {
        "hook_ok": re.compile(r"hooks: app: exited 0"),
        "wrote": re.compile(r"certs: web: wrote \d+ files from one issuance"),
        "reloaded": re.compile(r"agent: configuration reloaded"),
        "failed": re.compile(r" error "),
    }

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.partial = ""
        self.counts = {k: 0 for k in self.PATTERNS}
        self.errors = []

    def poll(self):
        try:
            with open(self.path, "r", errors="replace") as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            return
        lines = (self.partial + data).split("\n")
        self.partial = lines.pop()
        for line in lines:
            for k, rx in self.PATTERNS.items():
                if rx.search(line):
                    self.counts[k] += 1
                    if k == "failed" and len(self.errors) < 20:
                        self.errors.append(line)


def proc_fds(pid):
    """What each open fd of PID is: its number -> readlink."""
    out = {}
    base = "/proc/%d/fd" % pid
    for fd in os.listdir(base):
        try:
            out[int(fd)] = os.readlink(os.path.join(base, fd))
        except OSError:
            pass
    return out


def vault_sockets(pid, port):
    """The socket inodes of PID's TCP connections to PORT (Vault)."""
    out = set()
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if int(parts[2].rsplit(":", 1)[1], 16) == port:
                        out.add("socket:[%s]" % parts[9])
        except FileNotFoundError:
            pass
    return out


def split_fds(pid, port):
    """PID's fds without its pooled connections to Vault, and how many
    of those there are: libcurl keeps a few open for reuse, and whether
    one is open at a given moment depends on Vault's idle timeout."""
    fds = proc_fds(pid)
    pooled = vault_sockets(pid, port)
    rest = {fd: what for fd, what in fds.items() if what not in pooled}
    return rest, len(fds) - len(rest)


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def wait_count(proc, log, key, n, timeout):
    deadline = time.monotonic() + timeout
    while True:
        log.poll()
        if log.counts[key] >= n:
            return
        if proc.poll() is not None:
            raise SystemExit("soak: the agent exited with %s while waiting for %s #%d" %
                             (proc.returncode, key, n))
        if time.monotonic() > deadline:
            raise SystemExit("soak: %s #%d not seen within %ss (seen %d); errors: %s" %
                             (key, n, timeout, log.counts[key], log.errors))
        time.sleep(0.002)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rotations", type=int, default=10000)
    ap.add_argument("--hups", type=int, default=2000)
    ap.add_argument("--valgrind", action="store_true",
                    help="run the agent under valgrind memcheck; errors and leaks fail")
    ap.add_argument("--max-rss-growth-kb", type=int, default=1024)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if args.rotations < 1 or args.hups < 0:
        ap.error("--rotations must be >= 1 and --hups >= 0")

    work = pathlib.Path(tempfile.mkdtemp(prefix="certagent-soak-"))
    vs = Vaultsim(work).start()
    proc = None
    ok = False
    try:
        vs.policy("app", POLICY)
        vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="24h", key_type="ec", key_bits=256)
        vs.kv_put("app", {"user": "soak"})
        role_id, secret_id = vs.approle("app", token_policies=["default", "app"],
                                        token_ttl="1h", token_max_ttl="24h")
        (work / "role-id").write_text(role_id + "\n")
        (work / "secret-id").write_text(secret_id + "\n")
        os.chmod(work / "secret-id", 0o600)
        out = work / "out"
        out.mkdir()
        tpl = work / "app.tpl"
        tpl.write_text('user={{ with secret "secret/data/app" }}{{ .Data.data.user }}'
                       '{{ end }}\n')
        cfg = work / "agent.yaml"
        cfg.write_text(textwrap.dedent("""\
            vault:
              address: %(addr)s
              ca_cert: %(ca)s
              retry: {min_backoff: 50ms, max_backoff: 500ms}
            auth:
              method: approle
              role_id_file: %(work)s/role-id
              secret_id_file: %(work)s/secret-id
              remove_secret_id_file_after_reading: false
            log: {level: info}
            hooks:
              app: {command: ["sh", "-c", "echo rotated $$CERTAGENT_CERT_SERIAL"], timeout: 30s}
            certificates:
              - name: web
                path: pki_int/issue/web
                common_name: web.example.test
                ttl: 1h
                files:
                  cert: {path: %(out)s/web.crt}
                  key: {path: %(out)s/web.key}
                  chain: {path: %(out)s/chain.pem}
                on_change: [app]
                wait: {min: 0s, max: 1s}
            templates:
              - source: %(tpl)s
                destination: %(out)s/app.env
            """ % {"addr": vs.https_addr, "ca": vs.tls_ca, "work": work, "out": out,
                   "tpl": tpl}))
        log_path = work / "agent.log"
        argv = [args.binary, "run", "-c", str(cfg)]
        if args.valgrind:
            if shutil.which("valgrind") is None:
                raise SystemExit("soak: valgrind not installed (make deps)")
            argv = ["valgrind", "--tool=memcheck", "--leak-check=full",
                    "--show-leak-kinds=definite,indirect",
                    "--errors-for-leak-kinds=definite,indirect",
                    "--error-exitcode=99", "--log-file=%s" % (work / "valgrind.log")] + argv
        slow = 20 if args.valgrind else 1
        logf = open(log_path, "ab")
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        log = Log(log_path)
        wait_count(proc, log, "hook_ok", 1, 30 * slow)
        # Start: the first issuance and its hook are done, nothing in flight.
        time.sleep(0.2 * slow)
        port = int(vs.https_addr.rsplit(":", 1)[1])
        fds_start, pool_start = split_fds(proc.pid, port)
        warm = max(1, args.rotations // 10)
        every = args.rotations // args.hups if args.hups else 0
        hups = 0
        rss_warm = None
        for i in range(1, args.rotations + 1):
            proc.send_signal(signal.SIGUSR1)
            wait_count(proc, log, "hook_ok", i + 1, 30 * slow)
            if every and i % every == 0 and hups < args.hups:
                hups += 1
                proc.send_signal(signal.SIGHUP)
                wait_count(proc, log, "reloaded", hups, 30 * slow)
            if i == warm:
                rss_warm = proc_rss_kb(proc.pid)
                t_warm = time.monotonic()
        while hups < args.hups:
            hups += 1
            proc.send_signal(signal.SIGHUP)
            wait_count(proc, log, "reloaded", hups, 30 * slow)
        time.sleep(0.2 * slow)
        fds_end, pool_end = split_fds(proc.pid, port)
        rss_end = proc_rss_kb(proc.pid)
        t_end = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(120 * slow)
        logf.close()
        log.poll()
        dur = t_end - t0

        print("soak: %d rotations with hooks, %d SIGHUPs%s in %.1fs (%.1f ms per rotation)" % (
            args.rotations, args.hups, " under valgrind" if args.valgrind else "", dur,
            1000 * dur / args.rotations))
        print("soak: open fds: %d at start, %d at the end (besides %d and %d pooled "
              "connections to Vault)" % (len(fds_start), len(fds_end), pool_start, pool_end))
        if os.environ.get("SOAK_DEBUG"):
            print("soak: fds at start %s\nsoak: fds at the end %s" % (sorted(fds_start.items()),
                                                                     sorted(fds_end.items())))
        print("soak: VmRSS: %d KB after warm-up (%d rotations, %.1fs), %d KB at the end "
              "(growth %+d KB)" % (rss_warm, warm, t_warm - t0, rss_end, rss_end - rss_warm))
        print("soak: issuances written %d, hook runs %d, reloads %d, error lines %d; "
              "exit status %d" % (log.counts["wrote"], log.counts["hook_ok"],
                                  log.counts["reloaded"], log.counts["failed"], rc))
        failures = []
        if len(fds_end) != len(fds_start):
            failures.append("open fds changed: %d -> %d: at start %s, at the end %s" % (
                len(fds_start), len(fds_end), sorted(fds_start.items()),
                sorted(fds_end.items())))
        if pool_end > MAX_POOLED:
            failures.append("%d connections to Vault open at the end (at most %d expected)" %
                            (pool_end, MAX_POOLED))
        if not args.valgrind and rss_end - rss_warm >= args.max_rss_growth_kb:
            failures.append("VmRSS grew by %d KB after warm-up (limit %d KB)" %
                            (rss_end - rss_warm, args.max_rss_growth_kb))
        if log.counts["failed"]:
            failures.append("error lines in the log: %s" % log.errors[:5])
        if rc != 0:
            failures.append("exit status %d" % rc)
            if args.valgrind:
                failures.append("valgrind:\n" + (work / "valgrind.log").read_text())
        if failures:
            print("soak: FAILED:\n  " + "\n  ".join(failures))
            return 1
        print("soak: ok")
        ok = True
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        vs.stop()
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("soak: work directory kept: %s" % work)


if __name__ == "__main__":
    sys.exit(main())
