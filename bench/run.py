#!/usr/bin/python3
"""make bench: measure certagent against vaultsim on loopback.

    /usr/bin/python3 bench/run.py [--binary PATH] [--quick] [--runs N]
        [--only 1,4,5] [--listener auto|on|off] [--budget SECONDS] [--out FILE]

Prints a markdown table and writes it to bench/results.md (with the date,
nproc and memory).  Every figure is the median of --runs runs (default 5)
with min and max beside it; the n column says how many runs a row has.

The agent's figures come from the operating system's accounting of the
certagent process only: CPU from os.wait4() (getrusage of the child), CPU
at a moment from /proc/PID/task/*/schedstat (nanoseconds), RSS and peak
RSS (VmHWM) from /proc/PID/status.  Not ru_maxrss: Linux carries the
parent's high-water mark into the child at exec, so it would report the
harness's own ~20 MB.  vaultsim runs in its own process, so its cost is
never counted as the agent's; where it matters its CPU is shown beside.

Each figure is one function, fig1_binary() .. fig8_fleet().  Figures that
describe the same experiment share its runs: the issue-mode EC runs of
figure 5 are also the 1,000-certificate point of figure 6 and the fleet of
figure 8.  The largest scale point runs last, as many times as the time
budget (--budget, 840 s) leaves room for.  --quick uses small counts for
development (50 certificates instead of 1,000, 10 s idle instead of 60 s,
3 runs, no budget).

--listener auto (the default) adds `listener: {address: "127.0.0.1:PORT"}`
to the demo configuration of figures 2-4 when `certagent check` accepts
it; on insists (and notes it when the agent rejects it), off leaves it out.

Plain Python 3 (stdlib) + test/vaultsim/harness.py.  Linux only (/proc).
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "vaultsim"))
import harness  # noqa: E402
from harness import Vaultsim  # noqa: E402


CLK_TCK = os.sysconf("SC_CLK_TCK")

# Log lines the harness reads (agent/certs.c, agent/templates.c, agent/log.c).
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) (\w+)\s+(\w+): (.*)$")
RE_WROTE = re.compile(r"^(\S+): wrote (\d+) files? from one issuance")
RE_REQUEST = re.compile(r"^(\S+): requesting a certificate from")
RE_KEPT = re.compile(r"^(\S+): kept the certificate on disk")
RE_RENEWS = re.compile(r"^(\S+): .*serial (\S+), expires (\S+), renews at (\S+)")
RE_RENDERED = re.compile(r"rendered (\S+)$")
RE_UNCHANGED = re.compile(r" (\S+) unchanged$")


# ---------------------------------------------------------------------------
# Small helpers

def say(msg):
    print("bench: %s" % msg, file=sys.stderr, flush=True)


def parse_ts(ts):
    """The agent's log timestamp (UTC, ms) as a Unix time."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def parse_iso(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stats(values):
    """(median, min, max) of a non-empty list, else (None, None, None)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None, None
    return statistics.median(values), min(values), max(values)


def proc_stat_cpu_ns(pid):
    """utime+stime of PID from /proc/PID/stat (clock ticks, 10 ms), in ns;
    it includes threads that have exited."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // CLK_TCK
    except (OSError, ValueError, IndexError):
        return None


def proc_cpu_ns(pid):
    """CPU time (user+sys) of PID so far, in ns.

    The sum of /proc/PID/task/*/schedstat (nanoseconds of run time of the
    live threads); if /proc/PID/stat's coarser total is clearly larger,
    threads have come and gone, and that total is used instead."""
    ticks = proc_stat_cpu_ns(pid)
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return ticks
    if ticks is not None and ticks > total + 3 * 1_000_000_000 // CLK_TCK:
        return ticks
    return total


def proc_status(pid):
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem from /proc/PID/status, in KB."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:PORT/PATH, (0, b"") on failure."""
    import http.client
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    except OSError:
        return 0, b""


def proc_libs(pid):
    """Distinct shared objects mapped by PID (from /proc/PID/maps)."""
    libs = set()
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and ".so" in os.path.basename(parts[5]):
                    libs.add(parts[5])
    except OSError:
        pass
    return libs


# ---------------------------------------------------------------------------
# The agent process and its log

class LogTail:
    """Reads an agent's log incrementally and keeps the events the
    harness waits for: per-certificate writes, requests, schedules,
    renders, keeps, errors."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.partial = b""
        self.lines = 0
        self.wrote = []        # (time, cert name, files)
        self.requests = []     # (time, cert name)
        self.renews = []       # (time, name, serial, expires, renews_at)
        self.kept = []         # (time, name)
        self.rendered = {}     # destination -> last time rendered or found unchanged
        self.errors = []       # the first error/warn lines
        self.warnings = 0      # error and warn lines
        self.retries = 0       # "retrying" lines (a Vault request tried again)
        self.timeouts = 0      # lines about a timeout
        self.logins = 0

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        self.pos += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        for raw in complete:
            self._line(raw.decode("utf-8", "replace"))

    def _line(self, line):
        self.lines += 1
        m = LOG_LINE.match(line)
        if not m:
            return
        ts, level, module, msg = m.groups()
        t = parse_ts(ts)
        if level in ("error", "warn"):
            self.warnings += 1
            self.retries += "retrying" in msg
            self.timeouts += "timeout" in msg or "timed out" in msg
            if len(self.errors) < 20:
                self.errors.append(line)
        if module == "certs":
            if (w := RE_WROTE.match(msg)):
                self.wrote.append((t, w.group(1), int(w.group(2))))
            elif (r := RE_REQUEST.match(msg)):
                self.requests.append((t, r.group(1)))
            elif (k := RE_KEPT.match(msg)):
                self.kept.append((t, k.group(1)))
            if (s := RE_RENEWS.match(msg)):
                self.renews.append((t, s.group(1), s.group(2), parse_iso(s.group(3)),
                                    parse_iso(s.group(4))))
        elif module == "auth" and msg.startswith("logged in"):
            self.logins += 1
        elif module == "templates":
            r = RE_RENDERED.search(msg) or RE_UNCHANGED.search(msg)
            if r:
                self.rendered[r.group(1)] = t


class Agent:
    """One certagent process: its config, log, /proc figures and rusage."""

    def __init__(self, binary, workdir, config_text, name="agent", env=None, args=()):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / ("%s.yaml" % name)
        self.config.write_text(config_text)
        self.log_path = self.dir / ("%s.log" % name)
        self.binary = binary
        self.env = dict(os.environ, **(env or {}))
        self.args = list(args)
        self.proc = None
        self.log = LogTail(self.log_path)
        self.t_start = None        # time.time() just before the fork
        self.t_exit = None
        self.rusage = None
        self.status = None

    def start(self):
        self._logf = open(self.log_path, "wb")
        self.t_start = time.time()
        self._t0 = time.monotonic()
        self.proc = NoReapPopen([self.binary, "run", "-c", str(self.config)] + self.args,
                                stdout=self._logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=self.env)
        self.pid = self.proc.pid
        return self

    def cpu_ns(self):
        return proc_cpu_ns(self.pid)

    def proc_status(self):
        return proc_status(self.pid)

    def wait_for(self, pred, timeout, interval=0.02):
        """Poll the log until pred(self.log) is true; False on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            self.log.poll()
            if pred(self.log):
                return True
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.log.poll()
                return pred(self.log)
            time.sleep(interval)

    def reap(self):
        """wait4() the process: exit status and its rusage."""
        if self.rusage is None:
            _, st, ru = os.wait4(self.pid, 0)
            self.t_exit = time.monotonic()
            self.rusage = ru
            self.status = os.waitstatus_to_exitcode(st)
            self.proc.returncode = self.status   # Popen must not wait again
            self._logf.close()
            self.log.poll()
        return self.status

    def stop(self, timeout=60):
        if self.rusage is None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if self.proc.poll() is None:
                self.proc.kill()
        return self.reap()

    def wall(self):
        return (self.t_exit or time.monotonic()) - self._t0

    def cpu_total(self):
        """user+sys seconds from wait4 (after reap)."""
        return self.rusage.ru_utime + self.rusage.ru_stime

    # Not ru_maxrss: on Linux exec() carries the parent's high-water RSS
    # into the child's (the harness's Python, ~20 MB, when spawned with
    # vfork); VmHWM in /proc/PID/status is the agent's own mm.


class NoReapPopen(subprocess.Popen):
    """Popen whose poll() leaves an exited child unreaped (waitid with
    WNOWAIT), so that Agent.reap() can collect its rusage with wait4()."""

    def poll(self):
        if self.returncode is not None:
            return self.returncode
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return 0
        return None if info is None else 0


# ---------------------------------------------------------------------------
# vaultsim and configurations

POLICY = """
path "pki_int/issue/*" { capabilities = ["create", "update"] }
path "pki_int/sign/*" { capabilities = ["create", "update"] }
path "secret/data/*" { capabilities = ["read"] }
path "pki_int/revoke" { capabilities = ["create", "update"] }
"""


class World:
    """One vaultsim with the roles, policy, AppRole and kv secrets the
    benchmarks use, and a work directory."""

    def __init__(self, tmp):
        self.tmp = pathlib.Path(tmp)
        self.vs = Vaultsim(self.tmp, startup_timeout=30).start()
        vs = self.vs
        common = dict(allowed_domains="bench.test", allow_subdomains=True, max_ttl="48h",
                      no_store=True)
        vs.pki_role("ec", key_type="ec", key_bits=256, **common)
        vs.pki_role("rsa", key_type="rsa", key_bits=2048, **common)
        vs.pki_role("any", key_type="any", key_bits=0, **common)
        # Without the 30 s NotBefore backdate: a short ttl renews at 2/3 of it.
        short = dict(common, not_before_duration="1s")
        vs.pki_role("ec-short", key_type="ec", key_bits=256, **short)
        vs.pki_role("rsa-short", key_type="rsa", key_bits=2048, **short)
        vs.pki_role("any-short", key_type="any", key_bits=0, **short)
        vs.policy("bench", POLICY)
        role_id, secret_id = vs.approle("bench", token_policies=["default", "bench"],
                                        token_ttl="2h", token_max_ttl="24h")
        self.rid = self.tmp / "role-id"
        self.rid.write_text(role_id + "\n")
        self.sid = self.tmp / "secret-id"
        self.sid.write_text(secret_id + "\n")
        os.chmod(self.sid, 0o600)
        vs.kv_put("bench/db", {"user": "app", "password": "db-pass-123456"})
        vs.kv_put("bench/api", {"key": "api-key-123456", "url": "https://api.bench.test"})
        vs.kv_put("bench/app", {"LOG_LEVEL": "info", "FEATURE_X": "on", "WORKERS": "4"})

    def close(self):
        self.vs.stop()

    def issuances(self, since=0.0):
        """Successful issue/sign calls in vaultsim's request log since SINCE."""
        return [r for r in self.vs.requests()
                if r["t"] >= since and r["status"] == 200 and
                ("/issue/" in r["path"] or "/sign/" in r["path"])]

    def vs_cpu_s(self):
        """vaultsim's CPU so far: /proc/PID/stat, which (unlike schedstat)
        keeps the time of its exited per-connection threads."""
        ns = proc_stat_cpu_ns(self.vs.pid)
        return ns / 1e9 if ns is not None else None

    def header(self, level="info"):
        return textwrap.dedent("""\
            vault:
              address: %s
              ca_cert: %s
              retry: {min_backoff: 200ms, max_backoff: 5s}
            auth:
              method: approle
              role_id_file: %s
              secret_id_file: %s
              remove_secret_id_file_after_reading: false
            log: {level: %s, format: text}
            """) % (self.vs.https_addr, self.vs.tls_ca, self.rid, self.sid, level)


def cert_entries(n, mode="issue", key="ec", ttl="600s", short=False, prefix="c",
                 extra=""):
    """N certificates as one compact YAML flow line each (10,000 entries in
    block style would not fit the agent's 1 MiB config cap).  Files go
    under ${O}, set in the agent's environment."""
    role = {"issue": key, "sign": "any"}[mode] + ("-short" if short else "")
    keyspec = ""
    if mode == "sign":
        keyspec = ", mode: sign, key_type: %s, key_bits: %d" % (key, 256 if key == "ec" else 2048)
    out = []
    for i in range(n):
        out.append('- {name: %s%d, path: pki_int/%s/%s, common_name: %s%d.bench.test, '
                   'ttl: %s%s%s, files: {cert: {path: "${O}/%d.crt"}, key: {path: "${O}/%d.key"}}}'
                   % (prefix, i, mode, role, prefix, i, ttl, keyspec, extra, i, i))
    return "certificates:\n" + "".join("  %s\n" % line for line in out) if out else ""


TEMPLATE_ENV = """\
{{- with secret "secret/data/bench/db" }}DB_USER={{ .Data.data.user }}
DB_PASSWORD={{ .Data.data.password }}
{{ end }}
{{- with secret "secret/data/bench/api" }}API_KEY={{ .Data.data.key }}
API_URL={{ .Data.data.url }}
{{ end -}}
"""

TEMPLATE_JSON = """\
{{- with secret "secret/data/bench/app" }}{{ .Data.data | toJSONPretty }}{{ end }}
"""


def demo_config(world, out, listener_port=None, level="info"):
    """The demo configuration: 1 certificate (issue mode, EC, cert + key +
    chain + CA), 3 kv v2 secrets, 2 templates; optionally the listener."""
    for sub in ("tpl", "tls", "conf"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    (out / "tpl" / "app.env.tpl").write_text(TEMPLATE_ENV)
    (out / "tpl" / "app.json.tpl").write_text(TEMPLATE_JSON)
    text = world.header(level)
    text += textwrap.dedent("""\
        certificates:
          - name: web
            path: pki_int/issue/ec
            common_name: web.bench.test
            alt_names: [web.bench.test, api.bench.test]
            ip_sans: [127.0.0.1]
            ttl: 24h
            files:
              cert:  {path: %(o)s/tls/web.crt}
              key:   {path: %(o)s/tls/web.key}
              chain: {path: %(o)s/tls/chain.pem}
              ca:    {path: %(o)s/tls/ca.pem}
        templates:
          - source: %(o)s/tpl/app.env.tpl
            destination: %(o)s/conf/app.env
            mode: "0600"
          - source: %(o)s/tpl/app.json.tpl
            destination: %(o)s/conf/app.json
            mode: "0600"
        """) % {"o": out}
    if listener_port:
        text += 'listener: {address: "127.0.0.1:%d"}\n' % listener_port
    return text


DEMO_FILES = ("tls/web.crt", "tls/web.key", "tls/chain.pem", "tls/ca.pem")
DEMO_TEMPLATES = ("conf/app.env", "conf/app.json")


# ---------------------------------------------------------------------------
# The bench: options, results, and the figures

class Bench:
    def __init__(self, args):
        self.args = args
        self.binary = str(pathlib.Path(args.binary).resolve())
        self.runs = args.runs
        self.quick = args.quick
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="cb", dir=args.tmpdir))
        self.rows = []          # (section, metric, med, lo, hi, unit, target text, verdict)
        self.notes = []
        self.shared = {}        # experiments reused by several figures
        self.once = self.detect_once()
        self.listener = args.listener != "off" and self.detect_listener(args.listener == "on")
        self.seq = 0
        self.t0 = time.monotonic()
        self.agents = []

    # -- bookkeeping

    def workdir(self, what):
        self.seq += 1
        d = self.tmp / ("%02d-%s" % (self.seq, what))
        d.mkdir(parents=True)
        return d

    def row(self, section, metric, values, unit, fmt="%.1f", target=None, note=""):
        """A table row from the per-run VALUES (a list, or one value); TARGET
        is a number in UNIT that the median should not exceed."""
        if isinstance(values, str):
            self.rows.append((section, metric, values, "", "", 1, unit, "", note))
            return
        values = [v for v in (values if isinstance(values, list) else [values])
                  if v is not None]
        med, lo, hi = stats(values)
        verdict = ""
        if target is not None and med is not None:
            if med <= target:
                verdict = "meets" + (" (%.2fx of target)" % (med / target) if target else "")
            else:
                verdict = "**misses: %s**" % ("%.2fx the target" % (med / target)
                                              if target else "should be 0")
        if note:
            verdict = (verdict + " " + note).strip()
        self.rows.append((section, metric, _fmt(fmt, med), _fmt(fmt, lo), _fmt(fmt, hi),
                          len(values), unit,
                          "<= %s %s" % (_fmt(fmt, target), unit) if target is not None else "",
                          verdict))

    def note(self, text):
        self.notes.append(text)
        say("note: " + text)

    def detect_once(self):
        """Is `certagent run --once` accepted?  (Being added.)"""
        r = subprocess.run([self.binary, "run", "--once", "-c", str(self.tmp / "none.yaml")],
                           capture_output=True, text=True, timeout=30)
        out = r.stdout + r.stderr
        return not ("unknown argument" in out and "--once" in out)

    def detect_listener(self, asked):
        """Does `certagent check` accept a listener: section?"""
        w = self.tmp / "listener-check"
        w.mkdir()
        cfg = w / "c.yaml"
        cfg.write_text("vault: {address: 'https://127.0.0.1:1'}\n"
                       "auth: {method: token, token_file: %s}\n"
                       'listener: {address: "127.0.0.1:%d"}\n' % (cfg, free_port()))
        r = subprocess.run([self.binary, "check", "-c", str(cfg)], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            if asked:
                self.note("--listener on, but this certagent rejects the listener: section "
                          "(%s); figures 2-4 run without it"
                          % (r.stdout + r.stderr).strip().splitlines()[-1][:160])
            return False
        return True

    def world(self, what):
        return World(self.workdir(what))

    def agent(self, world, config_text, name="agent", out=None, args=()):
        d = self.workdir(name)
        env = {"O": str(out)} if out else {}
        a = Agent(self.binary, d, config_text, name=name, env=env, args=args)
        self.agents.append(a)
        return a

    def stop_all(self):
        """Stop every agent still running (after a failure in a figure)."""
        for a in self.agents:
            if a.proc is not None and a.rusage is None:
                a.stop(timeout=10)

    def big_runs(self, n, results):
        """Runs at the largest scale point: --big-runs, fewer if the time
        budget (--budget seconds for the whole bench) would be exceeded,
        projected from the largest point measured so far (x2: per
        certificate the agent slows down as N grows, see the notes)."""
        want = self.args.big_runs
        if not results or not self.args.budget:
            return want
        m = max(results)
        per = statistics.median(r["wall_to_done"] + 1.0 for r in results[m]) / m
        one = per * n * 2.0 + 5
        left = self.args.budget - (time.monotonic() - self.t0)
        runs = max(1, min(want, int(left // one)))
        if runs < want:
            self.note("scale: %d run%s at %d certificates, not %d: each takes about %.0f s "
                      "and the bench's budget is %.0f s" % (runs, "" if runs == 1 else "s", n,
                                                            want, one, self.args.budget))
        return runs

    def restart_fits(self, n, restarts):
        """Is there budget for a restart on N certificates' files?  Its time
        grows faster than N (every file's directory is read once per file
        at start: quadratic when the files share one directory), so it is
        projected as quadratic from the largest restart measured so far."""
        if not restarts or not self.args.budget:
            return True
        m = max(restarts)
        per = statistics.median(r["wall_to_done"] for r in restarts[m]) / m
        need = per * n * (n / m) + 10
        left = self.args.budget - (time.monotonic() - self.t0)
        if need > left:
            self.note("scale: no restart on %d certificates' files: projected %.0f s (restart "
                      "time grows with the square of the certificates sharing a directory), "
                      "%.0f s of the budget left" % (n, need, max(0.0, left)))
            return False
        return True

    # -- one run of N certificates until all are written

    def issue_run(self, world, n, mode="issue", key="ec", ttl="600s", timeout=None,
                  keep=False, out=None, schedule=False):
        """Start an agent with N certificates and stop it once every one is
        written; returns a dict of figures.  With N = 0: login, then stop.
        SCHEDULE: also the renewal times as they stand once all N are held
        (/v1/status; the listener is added for it, and the CPU of that
        request is taken out of the run's)."""
        out = out or self.workdir("out")
        certs = cert_entries(n, mode, key, ttl)
        text = world.header() + certs
        port = free_port() if schedule and n else None
        if port:
            text += 'listener: {address: "127.0.0.1:%d"}\n' % port
        a = self.agent(world, text, name="issue-%s-%s-%d" % (mode, key, n), out=out)
        world.vs.clear_requests()
        since = time.time()
        vs_cpu0 = world.vs_cpu_s()
        a.start()
        if timeout is None:
            timeout = 120 + n * (0.6 if key == "rsa" else 0.05)
        if n == 0:
            ok = a.wait_for(lambda lg: lg.logins >= 1, 30)
        else:
            ok = a.wait_for(lambda lg: len({w[1] for w in lg.wrote}) >= n, timeout,
                            interval=0.02 if n <= 100 else 0.1)
        t_done = time.time()
        st = a.proc_status()
        vs_cpu1 = world.vs_cpu_s()
        plan, status_cpu = [], 0.0
        if port and ok:
            c0 = a.cpu_ns()
            code, body = http_get(port, "/v1/status")
            status_cpu = (a.cpu_ns() - c0) / 1e9
            if code == 200:
                for c in json.loads(body).get("certificates", []):
                    if c.get("next_renewal") and c.get("not_after"):
                        plan.append((parse_iso(c["not_after"]), parse_iso(c["next_renewal"])))
        a.stop()
        res = {
            "ok": ok,
            "n": n,
            "agent": a,
            "wall_to_done": (max(w[0] for w in a.log.wrote) - a.t_start) if (n and a.log.wrote)
            else t_done - a.t_start,
            "cpu": a.cpu_total() - status_cpu,
            "schedule": plan,
            "maxrss_kb": st.get("VmHWM"),
            "rss_done_kb": st.get("VmRSS"),
            "anon_done_kb": st.get("RssAnon"),
            "vs_cpu": (vs_cpu1 - vs_cpu0) if vs_cpu0 is not None else None,
            "calls": len(world.issuances(since)) if n else 0,
            "requests": len(a.log.requests),
            "retries": a.log.retries,
            "timeouts": a.log.timeouts,
            "errors": a.log.errors[:5],
            "out": out,
            "certs": certs,
        }
        if not ok:
            self.note("%s %s x%d: not all certificates written within %.0fs (%d written); "
                      "first errors: %s" % (mode, key, n, timeout, len(a.log.wrote),
                                            a.log.errors[:3]))
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
        return res

    def restart_run(self, world, prev):
        """Start the configuration of an earlier issue_run() again on its
        files (valid, not due) and stop once every certificate is kept."""
        n, out = prev["n"], prev["out"]
        a = self.agent(world, world.header() + prev["certs"], name="restart-%d" % n, out=out)
        world.vs.clear_requests()
        since = time.time()
        a.start()
        ok = a.wait_for(lambda lg: len(lg.kept) >= n and lg.logins >= 1, 60 + n * 0.05,
                        interval=0.02 if n <= 100 else 0.1)
        st = a.proc_status()
        a.stop()
        if not ok:
            self.note("restart x%d: %d of %d certificates kept; errors %s"
                      % (n, len(a.log.kept), n, a.log.errors[:3]))
        return {
            "ok": ok,
            "wall_to_done": max([k[0] for k in a.log.kept] + [a.t_start]) - a.t_start,
            "cpu": a.cpu_total(),
            "maxrss_kb": st.get("VmHWM"),
            "rss_done_kb": st.get("VmRSS"),
            "calls": len(world.issuances(since)),
            "wrote": len(a.log.wrote),
        }


def _fmt(fmt, v):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    return fmt % v


# ---------------------------------------------------------------------------
# Figure 1: binary size and shared libraries

def fig1_binary(b):
    sec = "1. Binary"
    tmp = b.workdir("strip") / "certagent"
    shutil.copy(b.binary, tmp)
    subprocess.run(["strip", str(tmp)], check=True)
    size_kb = os.path.getsize(tmp) / 1024
    b.row(sec, "size, stripped (dynamically linked)", size_kb, "KB", "%.0f", target=500)
    b.row(sec, "size, as built", os.path.getsize(b.binary) / 1024, "KB", "%.0f")
    ldd = subprocess.run(["ldd", b.binary], capture_output=True, text=True).stdout
    libs = [ln.split()[0] for ln in ldd.splitlines()
            if "=>" in ln or ln.strip().startswith("/")]
    libs = [lib for lib in libs if "linux-vdso" not in lib]
    b.row(sec, "shared libraries (ldd, incl. the loader)", len(libs), "", "%d")


# ---------------------------------------------------------------------------
# Figures 2 and 3: RSS and CPU of the demo config, idle

def fig2_3_idle(b):
    """R agents with the demo config, started together (each with its own
    files), each measured over its own idle window after its first full
    render.  They run side by side to keep the wall time down: an idle
    agent's CPU and RSS are its own whatever runs beside it."""
    sec2, sec3 = "2. Memory, demo config", "3. Idle CPU, demo config"
    idle = b.args.idle
    w = b.world("idle")
    agents = []
    try:
        for r in range(b.runs):
            out = b.workdir("idle-out")
            port = free_port() if b.listener else None
            a = b.agent(w, demo_config(w, out, port), name="idle%d" % r)
            a.out, a.port = out, port
            agents.append(a)
        for a in agents:
            a.start()
        for a in agents:
            ok = a.wait_for(lambda lg: lg.wrote and all(str(a.out / t) in lg.rendered
                                                        for t in DEMO_TEMPLATES), 60)
            if not ok:
                b.note("idle agent did not render everything: %s" % a.log.errors[:3])
            a.t_ready = time.monotonic()
            a.cpu_ready = a.cpu_ns()
            a.st_ready = a.proc_status()
            a.lines_ready = a.log.lines
        libs = proc_libs(agents[0].pid)
        b.shared["maps_libs"] = len(libs)
        # Each agent's window starts at its own ready time.
        end = max(a.t_ready for a in agents) + idle
        for a in agents:
            a_end = a.t_ready + idle
            time.sleep(max(0.0, a_end - time.monotonic()))
            a.cpu_idle = a.cpu_ns()
            a.idle_s = time.monotonic() - a.t_ready
            a.st_idle = a.proc_status()
            a.log.poll()
            a.idle_lines = a.log.lines - a.lines_ready
        time.sleep(max(0.0, end - time.monotonic()))
        if b.listener:
            # After the measurements: the endpoints answer.
            got = [http_get(a.port, p) for a in agents for p in ("/readyz", "/metrics")]
            b.shared["listener_ok"] = sum(1 for st, _ in got if st == 200), len(got)
            b.shared["metrics_bytes"] = len(got[1][1])
        for a in agents:
            a.stop()
    finally:
        for a in agents:
            if a.proc is not None and a.rusage is None:
                a.stop()
        w.close()
    idle_label = "after %.0f s idle" % idle
    b.row(sec2, "peak RSS (VmHWM)", [a.st_idle.get("VmHWM", 0) / 1024 for a in agents], "MB",
          "%.2f")
    b.row(sec2, "RSS " + idle_label + " (VmRSS)",
          [a.st_idle.get("VmRSS", 0) / 1024 for a in agents], "MB", "%.2f", target=6)
    b.row(sec2, "  of which RssAnon", [a.st_idle.get("RssAnon", 0) / 1024 for a in agents],
          "MB", "%.2f")
    b.row(sec2, "  of which RssFile", [a.st_idle.get("RssFile", 0) / 1024 for a in agents],
          "MB", "%.2f")
    b.row(sec2, "shared objects mapped (/proc/PID/maps)", b.shared["maps_libs"], "", "%d")
    if b.listener:
        ok, total = b.shared["listener_ok"]
        b.row(sec2, "listener (/healthz /readyz /metrics)", "on", "", "%s",
              note="after the idle window: %d of %d GET /readyz and /metrics answered 200; "
                   "/metrics is %d bytes" % (ok, total, b.shared["metrics_bytes"]))
    else:
        b.row(sec2, "listener (/healthz /readyz /metrics)", "off", "", "%s",
              note="(--listener off, or the agent does not accept listener:)")
    cpu_min = [(a.cpu_idle - a.cpu_ready) / 1e6 * 60 / a.idle_s for a in agents]
    b.row(sec3, "CPU over %.0f s idle, per minute" % idle, cpu_min, "ms/min", "%.2f",
          target=5)
    b.row(sec3, "log lines during the idle window", [a.idle_lines for a in agents], "", "%d")


# ---------------------------------------------------------------------------
# Figure 4: start to first full render, empty directory and restart

def _first_render(b, w, out, name):
    """One start of the demo config.  With --once: wall = process lifetime,
    CPU from wait4.  Without: the log's time of the last file of the first
    full render, and the CPU (schedstat) at that moment.  Also the log time
    at which the certificate was in place (written, or kept from disk)."""
    port = free_port() if b.listener else None
    level = "info" if b.once else "debug"     # "unchanged" is a debug line
    a = b.agent(w, demo_config(w, out, port, level=level), name=name,
                args=["--once"] if b.once else [])
    w.vs.clear_requests()
    since = time.time()
    a.start()
    if b.once:
        a.reap()
        wall, cpu = a.wall(), a.cpu_total()
        ok = a.status == 0
    else:
        def done(lg):
            return (lg.wrote or lg.kept) and all(str(out / t) in lg.rendered
                                                 for t in DEMO_TEMPLATES)
        ok = a.wait_for(done, 60, interval=0.002)
        cpu = a.cpu_ns() / 1e9
        last = max([t for t in a.log.rendered.values()] +
                   [x[0] for x in a.log.wrote] + [x[0] for x in a.log.kept] + [a.t_start])
        wall = last - a.t_start
        a.stop()
    cert_at = min([x[0] for x in a.log.wrote] + [x[0] for x in a.log.kept], default=None)
    files_ok = all((out / f).exists() and (out / f).stat().st_size > 0
                   for f in DEMO_FILES + DEMO_TEMPLATES)
    reqs = w.vs.requests()
    calls = len([r for r in reqs if r["t"] >= since and r["status"] == 200 and
                 ("/issue/" in r["path"] or "/sign/" in r["path"])])
    vs_ms = [r["duration_ms"] for r in reqs if r["t"] >= since]
    conns = len({r["remote_port"] for r in reqs if r["t"] >= since})
    if not (ok and files_ok):
        b.note("%s: first render incomplete (rc %s); errors: %s" % (name, a.status,
                                                                    a.log.errors[:3]))
    return {"wall": wall * 1000, "cpu": cpu * 1000, "calls": calls,
            "cert": (cert_at - a.t_start) * 1000 if cert_at else None,
            "vs_ms": statistics.median(vs_ms) if vs_ms else None, "vs_n": len(vs_ms),
            "conns": conns}


def fig4_first_render(b):
    sec = "4. Start to first full render (demo config)"
    w = b.world("first")
    empty, restart = [], []
    try:
        for r in range(b.runs):
            out = b.workdir("first-out")
            empty.append(_first_render(b, w, out, "empty%d" % r))
            restart.append(_first_render(b, w, out, "restart%d" % r))
    finally:
        w.close()
    how = "`run --once`: process lifetime, CPU from wait4" if b.once else \
        "`run`, log polled: wall to the last render's log time, schedstat CPU then"
    for label, rs, wall_t, cpu_t in (("empty dir", empty, None, 20),
                                     ("valid files on disk", restart, 20, None)):
        b.row(sec, "%s: wall to all 6 files" % label, [r["wall"] for r in rs], "ms", "%.1f",
              target=wall_t)
        b.row(sec, "%s: agent CPU" % label, [r["cpu"] for r in rs], "ms", "%.1f", target=cpu_t)
        b.row(sec, "%s: wall to the certificate in place" % label, [r["cert"] for r in rs],
              "ms", "%.1f")
        b.row(sec, "%s: Vault calls / TLS connections / vaultsim time per call" % label,
              "%d / %d / %.1f ms" % (statistics.median(r["vs_n"] for r in rs),
                                     statistics.median(r["conns"] for r in rs),
                                     statistics.median(r["vs_ms"] or 0 for r in rs)), "", "%s")
        b.row(sec, "%s: issuances (vaultsim log)" % label, [r["calls"] for r in rs], "", "%d",
              target=0 if rs is restart else None)
    b.row(sec, "measured with", how, "", "%s")


# ---------------------------------------------------------------------------
# Figure 5: CPU per issuance and per renewal

def _counts(b):
    """Certificates per combination: (issuance N, renewal N)."""
    if b.quick:
        return {("issue", "ec"): (50, 20), ("sign", "ec"): (50, 20),
                ("issue", "rsa"): (5, 3), ("sign", "rsa"): (5, 3)}
    return {("issue", "ec"): (1000, 100), ("sign", "ec"): (1000, 100),
            ("issue", "rsa"): (b.args.rsa_n, 10), ("sign", "rsa"): (b.args.rsa_n // 2, 5)}


def issue_ec_runs(b, w):
    """The issue-mode EC runs shared by figures 5, 6 and 8 (ttl 600 s)."""
    if "issue-ec" not in b.shared:
        n = _counts(b)[("issue", "ec")][0]
        b.shared["issue-ec"] = [b.issue_run(w, n, keep=(r == b.runs - 1),
                                            schedule=b.listener)
                                for r in range(b.runs)]
    return b.shared["issue-ec"]


def baseline_runs(b, w):
    if "base" not in b.shared:
        b.shared["base"] = [b.issue_run(w, 0) for _ in range(b.runs)]
    return b.shared["base"]


def _renewal_run(b, w, n, mode, key, expect_d):
    """N certificates whose short ttl makes them renew, by the agent's own
    timers, after all N are first written; CPU between the two moments."""
    # NotBefore is not backdated (role *-short): renewal r after issuance is
    # (2/3 +- 0.05) L - 1 s with L = ttl + 1 s.  L = 2 (D + 2) puts the first
    # renewal after the last first issuance (D) and the last renewal before
    # any second renewal.
    life = max(6.0, 2 * (expect_d + 2))
    ttl = "%ds" % round(life - 1)
    out = b.workdir("renew-out")
    text = w.header() + cert_entries(n, mode, key, ttl, short=True)
    a = b.agent(w, text, name="renew-%s-%s-%d" % (mode, key, n), out=out)
    a.start()
    ok = a.wait_for(lambda lg: len(lg.wrote) >= n, 60 + expect_d * 3, interval=0.02)
    cpu1 = a.cpu_ns()
    first_done = time.time()
    reqs1 = len(a.log.requests)
    ok2 = a.wait_for(lambda lg: len(lg.wrote) >= 2 * n, 60 + life * 2, interval=0.02)
    cpu2 = a.cpu_ns()
    reqs2 = len(a.log.requests)
    renew_start = min((t for t, _ in a.log.requests[n:]), default=None) if reqs2 > n else None
    a.stop()
    shutil.rmtree(out, ignore_errors=True)
    clean = ok and ok2 and reqs1 == n and reqs2 == 2 * n and \
        (renew_start is None or renew_start >= first_done - 0.05)
    if not clean:
        b.note("renewal %s %s x%d: overlap or failure (first round %s, second %s, "
               "requests %d/%d); run discarded" % (mode, key, n, ok, ok2, reqs1, reqs2))
        return None
    return (cpu2 - cpu1) / 1e6 / n


def fig5_cpu_per_cert(b):
    sec = "5. Agent CPU per certificate"
    w = b.world("percert")
    try:
        base = baseline_runs(b, w)
        base_cpu = statistics.median(r["cpu"] for r in base)
        b.row(sec, "baseline run, 0 certificates (login, stop)",
              [r["cpu"] * 1000 for r in base], "ms", "%.1f")
        for (mode, key), (n, rn) in _counts(b).items():
            if (mode, key) == ("issue", "ec"):
                runs = issue_ec_runs(b, w)
            else:
                runs = [b.issue_run(w, n, mode, key) for _ in range(b.runs)]
            per = [(r["cpu"] - base_cpu) * 1000 / n for r in runs if r["ok"]]
            label = "%s mode, %s: issuance (over %d)" % (
                mode, "EC P-256" if key == "ec" else "RSA 2048", n)
            b.row(sec, label, per, "ms/cert", "%.2f",
                  target=1 if (mode, key) == ("issue", "ec") else None)
            calls = [r["calls"] for r in runs]
            if any(c != n for c in calls):
                b.note("%s %s: vaultsim saw %s issue/sign calls for %d certificates"
                       % (mode, key, calls, n))
            d = statistics.median(r["wall_to_done"] for r in runs) * rn / n
            ren = [_renewal_run(b, w, rn, mode, key, d) for _ in range(b.runs)]
            b.row(sec, "%s mode, %s: renewal by timer (over %d)" % (
                mode, "EC P-256" if key == "ec" else "RSA 2048", rn), ren, "ms/cert", "%.2f")
    finally:
        w.close()
    b.note("figure 5: issuance = (CPU of a run issuing N - median CPU of a 0-certificate "
           "run) / N, wait4 rusage; renewal = schedstat CPU between all N first written and "
           "all N renewed by their timers (ttl set so the two rounds do not overlap), / N. "
           "RSA counts are smaller: generating an RSA 2048 key takes hundreds of ms on a "
           "small CPU, in the agent (sign mode: that row is mostly key generation) or in "
           "vaultsim (issue mode).")


# ---------------------------------------------------------------------------
# Figure 6: scale

def max_certs(b, want):
    """The largest N <= WANT whose configuration `certagent check` accepts
    (the agent caps the config file at 1 MiB and 100,000 YAML nodes)."""
    d = b.workdir("cap")
    hdr = "vault: {address: 'https://127.0.0.1:1'}\nauth: {method: token, token_file: %s}\n" \
        % (d / "c.yaml")

    def ok(n):
        (d / "c.yaml").write_text(hdr + cert_entries(n))
        r = subprocess.run([b.binary, "check", "-c", str(d / "c.yaml")], capture_output=True,
                           text=True, env=dict(os.environ, O=str(d)), timeout=60)
        return r.returncode == 0, (r.stdout + r.stderr).strip().replace(str(d) + "/", "")[:200]

    good, why = ok(want)
    if good:
        return want, None
    lo, hi = 1, want
    while hi - lo > max(10, want // 200):
        mid = (lo + hi) // 2
        if ok(mid)[0]:
            lo = mid
        else:
            hi = mid
    return (lo // 100) * 100 or lo, why


def fig6_scale(b):
    """1, 100, 1,000 and 10,000 certificates (issue mode, EC) in one agent.
    The largest point is what fits the agent's configuration caps, and runs
    as often as the time budget allows (--big-runs at most).  A restart on
    the files of the last run at each point shows the memory per
    certificate with no request in flight."""
    sec = "6. Scale (issue mode, EC P-256, one agent)"
    sizes = b.args.sizes or ([1, 10, 100, 500] if b.quick else [1, 100, 1000, 10000])
    w = b.world("scale")
    results, restarts, labels = {}, {}, {}
    try:
        for n in sizes:
            runs = b.runs
            label_n = n
            if n == sizes[-1]:
                n2, why = max_certs(b, n)
                if n2 != n:
                    b.note("scale: %d certificates do not fit one agent's configuration "
                           "(`certagent check`: %s); measured %d, about the largest that "
                           "fits, in compact one-line YAML entries" % (n, why, n2))
                    n = n2
                runs = b.big_runs(n, results)
            if n == _counts(b)[("issue", "ec")][0] and "issue-ec" in b.shared:
                rs = b.shared["issue-ec"]
            else:
                rs = [b.issue_run(w, n, keep=(r == runs - 1)) for r in range(runs)]
                if n == _counts(b)[("issue", "ec")][0]:
                    b.shared["issue-ec"] = rs
            results[n] = rs
            labels[n] = "%d certs" % n + ("" if n == label_n else " (for %d)" % label_n)
            if n >= 100 and b.restart_fits(n, restarts):
                kept = rs[-1] if rs[-1]["out"].exists() else None
                if kept is None:
                    kept = b.issue_run(w, n, keep=True)
                restarts[n] = [b.restart_run(w, kept)
                               for _ in range(runs if n <= 1000 else 1)]
            for r in rs:
                shutil.rmtree(r["out"], ignore_errors=True)
    finally:
        w.close()
    for n in sorted(results):
        tag, rs = labels[n], [r for r in results[n] if r["ok"]]
        b.row(sec, "%s: time to all written" % tag, [r["wall_to_done"] for r in rs], "s", "%.2f")
        b.row(sec, "%s: time per certificate" % tag,
              [r["wall_to_done"] * 1000 / n for r in rs], "ms", "%.2f")
        b.row(sec, "%s: agent CPU" % tag, [r["cpu"] for r in rs], "s", "%.3f")
        b.row(sec, "%s: agent CPU per certificate" % tag, [r["cpu"] * 1000 / n for r in rs],
              "ms", "%.2f")
        b.row(sec, "%s: vaultsim CPU (not the agent's)" % tag, [r["vs_cpu"] for r in rs],
              "s", "%.2f")
        b.row(sec, "%s: issue calls at vaultsim / requests retried by the agent" % tag,
              "%s / %s" % (_fmt("%d", statistics.median(r["calls"] for r in rs)),
                           _fmt("%d", statistics.median(r["retries"] for r in rs))), "", "%s")
        b.row(sec, "%s: peak RSS" % tag, [r["maxrss_kb"] / 1024 for r in rs], "MB", "%.1f")
        if n in restarts:
            rr = [r for r in restarts[n] if r["ok"]]
            b.row(sec, "%s, restart on valid files: time to all kept" % tag,
                  [r["wall_to_done"] for r in rr], "s", "%.2f")
            b.row(sec, "%s, restart on valid files: agent CPU" % tag, [r["cpu"] for r in rr],
                  "s", "%.3f")
            b.row(sec, "%s, restart on valid files: agent CPU per certificate" % tag,
                  [r["cpu"] * 1000 / n for r in rr], "ms", "%.2f")
            b.row(sec, "%s, restart on valid files: peak RSS" % tag,
                  [r["maxrss_kb"] / 1024 for r in rr], "MB", "%.1f")
            b.row(sec, "%s, restart on valid files: issuances / sets written" % tag,
                  [r["calls"] + r["wrote"] for r in restarts[n]], "", "%d", target=0)
    ns = sorted(results)
    for n in ns:
        retried = [r for r in results[n] if r["retries"]]
        if retried:
            r = max(retried, key=lambda x: x["retries"])
            why = re.sub(r"^\S+ \w+\s+", "", r["errors"][0]) if r["errors"] else "?"
            b.note("scale: at %d certificates the agent retried up to %d Vault requests "
                   "(%d timeouts logged), e.g. `%s`" % (n, r["retries"], r["timeouts"],
                                                        why[:160]))
    for n in ns[::-1]:
        vs = [r["vs_cpu"] / n for r in results[n] if r["ok"] and r["vs_cpu"]]
        if vs and n >= 100:
            per = statistics.median(vs) * 1000
            b.note("vaultsim spent %.1f ms of CPU per issuance (issue mode, EC) at %d "
                   "certificates: alone it could issue about %.0f a second per core, and the "
                   "agent's %.1f ms per certificate shares the same 2 cores" % (
                       per, n, 1000 / per, statistics.median(r["cpu"] / n for r in results[n])
                       * 1000))
            break
    one = statistics.median(r["maxrss_kb"] for r in results[ns[0]])
    for n in ns[1:]:
        b.row(sec, "%s: peak RSS growth per certificate" % labels[n],
              [(r["maxrss_kb"] - one) / (n - 1) for r in results[n] if r["ok"]], "KB",
              "%.1f", target=16)
        if n in restarts:
            b.row(sec, "%s, restart on valid files: RSS growth per certificate" % labels[n],
                  [(r["maxrss_kb"] - one) / (n - 1) for r in restarts[n] if r["ok"]], "KB",
                  "%.1f", target=16)
    mid = min([n for n in ns if n >= 100] or [ns[-1]])
    big = ns[-1]
    if big != mid:
        per_mid = statistics.median(r["wall_to_done"] / mid for r in results[mid])
        b.row(sec, "time per cert at %d / at %d" % (big, mid),
              [r["wall_to_done"] / big / per_mid for r in results[big] if r["ok"]], "x",
              "%.2f", target=1.5)
        cpu_mid = statistics.median(r["cpu"] / mid for r in results[mid])
        b.row(sec, "agent CPU per cert at %d / at %d" % (big, mid),
              [r["cpu"] / big / cpu_mid for r in results[big] if r["ok"]], "x", "%.2f")


# ---------------------------------------------------------------------------
# Figure 7: rotation latency

def fig7_rotation(b):
    """One certificate with a 4 s (6 s) ttl renews about every 2.3 s (3.7 s);
    a command hook appends `date +%s.%N`.  Latency = hook's timestamp - the log time
    of the renewal's request (the timer firing)."""
    sec = "7. Rotation latency (one certificate, command hook)"
    w = b.world("rotate")
    out = b.workdir("rotate-out")
    stamp = out / "hook.stamps"
    renewals = b.runs
    results = {}
    try:
        for label, wait, ttl in (("wait.min 0", "{min: 0s, max: 1s}", "4s"),
                                 ("default wait (min 2s)", None, "6s")):
            if stamp.exists():
                stamp.unlink()
            extra = ", on_change: [stamp]" + (", wait: %s" % wait if wait else "")
            text = w.header() + textwrap.dedent("""\
                hooks:
                  stamp: {command: ["sh", "-c", "date +%%s.%%N >> %s"]}
                """) % stamp + cert_entries(1, ttl=ttl, short=True, extra=extra)
            a = b.agent(w, text, name="rotate", out=out)
            a.start()
            # first issuance + RENEWALS renewals, each with its hook run
            ok = a.wait_for(lambda lg: len(lg.wrote) >= renewals + 1 and
                            len(_lines(stamp)) >= renewals + 1, 30 + renewals * 8)
            a.stop()
            if not ok:
                b.note("rotation (%s): %d issuances, %d hook runs; errors %s" % (
                    label, len(a.log.wrote), len(_lines(stamp)), a.log.errors[:3]))
            reqs = [t for t, _ in a.log.requests]
            wrote = [t for t, _, _ in a.log.wrote]
            hooks = [float(x) for x in _lines(stamp)]
            lat, to_written = [], []
            for i in range(1, min(len(reqs), len(wrote), len(hooks))):
                lat.append((hooks[i] - reqs[i]) * 1000)
                to_written.append((wrote[i] - reqs[i]) * 1000)
            results[label] = (lat, to_written)
    finally:
        w.close()
    for label, (lat, to_written) in results.items():
        b.row(sec, "%s: timer fired -> files written" % label, to_written, "ms", "%.0f")
        b.row(sec, "%s: timer fired -> hook ran" % label, lat, "ms", "%.0f")


def _lines(path):
    try:
        return [x for x in path.read_text().split() if x]
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------------------
# Figure 8: fleet smoothness

def peak_to_mean(times, lo, hi):
    """Peak-to-mean of 1-second buckets over [lo, hi)."""
    nb = max(1, int(round(hi - lo)))
    buckets = [0] * nb
    for t in times:
        i = int(t - lo)
        if 0 <= i < nb:
            buckets[i] += 1
    mean = sum(buckets) / nb
    return (max(buckets) / mean if mean else None), buckets


def fig8_fleet(b):
    """The renewal times the agent logs ("renews at", whole seconds) for
    the issue-mode EC runs (ttl 600 s; vaultsim backdates NotBefore 30 s,
    so the lifetime is 630 s and a 5% jitter is +-31.5 s).  Relative:
    renewal - expiry + lifetime = renewal - NotBefore, as if every
    certificate had been issued in the same second; absolute: as the agent
    scheduled them (the issuance itself is spread over the run).  The
    window is the span the renewal times cover, whole seconds: the agent's
    defaults (renew_at, jitter) are not assumed."""
    sec = "8. Fleet smoothness (renewal times, 1 s buckets)"
    w = b.world("fleet")
    try:
        runs = issue_ec_runs(b, w)
    finally:
        w.close()
    life = 630.0
    rel_ratios, abs_ratios, hist, widths = [], [], None, []
    for r in runs:
        # The schedule once every certificate is held; the times logged
        # at each issuance are provisional (ranks: renew.h).
        ren = [(0, "", "", exp, at) for exp, at in r.get("schedule") or []] or \
            r["agent"].log.renews
        if not ren:
            continue
        rel = [at - exp + life for _, _, _, exp, at in ren]
        lo, hi = int(min(rel)), int(max(rel)) + 1
        ratio, buckets = peak_to_mean(rel, lo, hi)
        rel_ratios.append(ratio)
        widths.append(hi - lo)
        if hist is None:
            hist = (lo, hi, buckets)
        absol = [at for _, _, _, _, at in ren]
        ratio2, _ = peak_to_mean(absol, int(min(absol)), int(max(absol)) + 1)
        abs_ratios.append(ratio2)
    n = (len(runs[0].get("schedule") or []) or len(runs[0]["agent"].log.renews)) if runs else 0
    nb = int(statistics.median(widths)) if widths else 63
    b.row(sec, "%d certs, same start: peak-to-mean" % n, rel_ratios, "", "%.2f", target=1.5)
    b.row(sec, "%d certs, as scheduled (issuance spread over the run): peak-to-mean" % n,
          abs_ratios, "", "%.2f")
    b.row(sec, "window the renewals cover (same start)", widths, "s", "%d")
    b.row(sec, "reference: %d uniform random times in %d buckets (simulated)" % (n, nb),
          expected_uniform_peak(n, nb), "", "%.2f")
    if hist:
        b.shared["fleet_hist"] = hist


def expected_uniform_peak(n, nb, trials=300):
    """Median peak-to-mean of N uniform random times in NB buckets: what a
    hash-derived (random-like) jitter gives by chance alone."""
    import random
    rng = random.Random(1)
    out = []
    for _ in range(trials):
        b = [0] * nb
        for _ in range(n):
            b[rng.randrange(nb)] += 1
        out.append(max(b) / (n / nb))
    return statistics.median(out) if n else None


# ---------------------------------------------------------------------------
# Figure 9: fleets (entries_dir)

FLEET_PROFILE = """\
profiles:
  ks:
    path: pki_int/issue/fleet
    common_name: "tenant-{tenant}.ks.bench.test"
    ttl: 48h
    renew_before: 8h
    files:
      cert: {path: "%(out)s/{tenant}.crt"}
      key: {path: "%(out)s/{tenant}.key"}
entries_dir: %(dir)s
"""
RE_APPLIED = re.compile(r"entries_dir read again: .*; ([\d.]+) ms CPU")
RE_RELOADED = re.compile(r"configuration reloaded; ([\d.]+) ms CPU")


def _put_entry(d, name, extra=""):
    tmp = d / (".%s.tmp" % name)
    tmp.write_text("tenant: %s\nprofile: ks\n%s" % (name, extra))
    os.rename(tmp, d / ("%s.yaml" % name))


def _log_count(a, rx):
    try:
        return len(rx.findall(a.log_path.read_text(errors="replace")))
    except FileNotFoundError:
        return 0


def _wait_log(a, rx, count, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and a.proc.poll() is None:
        if _log_count(a, rx) >= count:
            return True
        time.sleep(0.02)
    return _log_count(a, rx) >= count


def _log_floats(a, rx):
    return [float(x) for x in rx.findall(a.log_path.read_text(errors="replace"))]


def _fleet_op(a, rx, count, act, timeout=60):
    """Run ACT, wait for the COUNTth match of RX: (wall s, agent CPU ms)."""
    c0, t0 = a.cpu_ns(), time.monotonic()
    act()
    ok = _wait_log(a, rx, count, timeout)
    t1 = time.monotonic()
    time.sleep(0.2)     # the tail of the work (audit, logs) is counted too
    c1 = a.cpu_ns()
    if not ok:
        return None, None
    return t1 - t0, (c1 - c0) / 1e6


def hour_peak_to_mean(ren, life_h=4380.0):
    """Renewal points the agent computed, as fractions of each certificate's
    lifetime, put on the issue's 4380 h lifetime (renew_spread() is linear
    in the lifetime) and counted per hour over the span they cover."""
    fr = []
    for _, _, _, exp, at in ren:
        fr.append(at - exp)     # seconds before expiry; lifetime is the same for all
    if not fr:
        return None
    life = 48 * 3600.0 + 30     # ttl 48h, NotBefore backdated 30 s
    hours = [(life + x) / life * life_h for x in fr]
    lo = int(min(hours))
    hi = int(max(hours)) + 1
    ratio, _ = peak_to_mean(hours, lo, hi)
    return ratio


def fig9_entries_dir(b):
    """entries_dir at 100, 1,000 and 10,000 entries: the start (every entry
    issued), then in the running agent one entry added, changed (ttl) and
    removed (revoked at Vault, files deleted), each timed from the file
    operation to the log line that says it is done (the directory watch
    waits 1 s for quiet first), and the agent's CPU over it; a SIGHUP with
    one changed file (the agent's own measure of the reload's CPU); then a
    restart on the files (no issuance) and the memory per entry."""
    sec = "9. Fleets (entries_dir, issue mode, EC P-256)"
    sizes = [10, 100] if b.quick else (b.args.fleet_sizes or [100, 1000, 10000])
    rx_wrote = lambda n: re.compile(r"certs: %s: wrote \d+ files?" % re.escape(n))
    rx_revoked = lambda n: re.compile(r"revoke: %s: revoked serial" % re.escape(n))
    rx_kept = re.compile(r"kept the certificate on disk")
    base_rss = None
    for n in sizes:
        w = b.world("entries%d" % n)
        try:
            # Stored (not no_store): a removed entry's serial is revoked.
            w.vs.pki_role("fleet", key_type="ec", key_bits=256, allowed_domains="bench.test",
                          allow_subdomains=True, max_ttl="48h")
            d = w.tmp / "tenants.d"
            out = w.tmp / "certs"
            d.mkdir()
            out.mkdir()
            cfg = w.header() + FLEET_PROFILE % {"out": out, "dir": d}
            if base_rss is None:
                a0 = b.agent(w, cfg, name="fleet-empty-%d" % n)
                a0.start()
                _wait_log(a0, re.compile(r"entries_dir .*: 0 entries"), 1, 30)
                time.sleep(1.0)
                base_rss = a0.proc_status().get("VmHWM")
                a0.stop()
            for i in range(n):
                _put_entry(d, "t%05d" % i)
            a = b.agent(w, cfg, name="fleet-%d" % n)
            t0 = time.monotonic()
            a.start()
            if not a.wait_for(lambda lg: len(lg.wrote) >= n, timeout=60 + n * 0.02):
                b.note("fleet: %d entries: not all issued (%d); %s" % (
                    n, len(a.log.wrote), a.log.errors[:2]))
                a.stop()
                continue
            start_wall = time.monotonic() - t0
            start_cpu = a.cpu_ns() / 1e6
            b.row(sec, "%d entries: start, each issued: time per entry" % n,
                  start_wall * 1000 / n, "ms", "%.2f")
            b.row(sec, "%d entries: start, each issued: agent CPU per entry" % n,
                  start_cpu / n, "ms", "%.2f")
            adds, changes, removes, reloads = [], [], [], []
            # The largest point within the time budget: as figure 6's.
            runs = b.runs if n < 10000 else max(1, min(b.runs, b.args.big_runs))
            for r in range(runs):
                name = "new%d" % r
                adds.append(_fleet_op(a, rx_wrote(name), 1,
                                      lambda: _put_entry(d, name)))
                changes.append(_fleet_op(a, rx_wrote(name), 2,
                                         lambda: _put_entry(d, name, "ttl: 24h\n")))
                removes.append(_fleet_op(a, rx_revoked(name), 1,
                                         lambda: os.unlink(d / ("%s.yaml" % name))))
                k = _log_count(a, RE_RELOADED)
                victim = "t%05d" % r

                def hup():
                    _put_entry(d, victim, "ttl: 24h\n")
                    a.proc.send_signal(signal.SIGHUP)
                _fleet_op(a, RE_RELOADED, k + 1, hup)
                reloads.append(_log_floats(a, RE_RELOADED)[k])
                time.sleep(1.5)     # the watch's own read of the same edit
            for what, ops in (("add one", adds), ("change one", changes),
                              ("remove one (to revoked)", removes)):
                ok = [o for o in ops if o[0] is not None]
                b.row(sec, "%d entries: %s: time" % (n, what), [o[0] * 1000 for o in ok],
                      "ms", "%.0f", note="incl. the 1 s quiet wait of the watch")
                b.row(sec, "%d entries: %s: agent CPU" % (n, what), [o[1] for o in ok],
                      "ms", "%.1f")
            b.row(sec, "%d entries: SIGHUP, one file changed: reload CPU (agent's own)" % n,
                  reloads, "ms", "%.1f", target=50 if n >= 10000 else None)
            watch = _log_floats(a, RE_APPLIED)
            if watch:
                b.row(sec, "%d entries: watch, a read of the directory: CPU (agent's own)" % n,
                      watch, "ms", "%.1f")
            b.row(sec, "%d entries: peak RSS" % n,
                  a.proc_status().get("VmHWM", 0) / 1024, "MB", "%.1f")
            a.stop()
            since = time.time()
            a2 = b.agent(w, cfg, name="fleet-again-%d" % n)
            t0 = time.monotonic()
            a2.start()
            _wait_log(a2, rx_kept, n, 60 + n * 0.01)
            kept_wall = time.monotonic() - t0
            time.sleep(0.5)
            rss = a2.proc_status().get("VmHWM", 0)
            # The schedule as it stands with every entry held: the points
            # logged at each first issuance were provisional (ranks).
            a2.log.poll()      # _wait_log read the file, not the parsed log
            spread = hour_peak_to_mean(a2.log.renews)
            if spread and n >= 1000:
                b.row(sec, "%d entries: renewals, peak hour / mean (4380 h lifetime)" % n,
                      spread, "", "%.2f", target=1.5)
                b.row(sec, "%d entries: reference: %d uniform random times in %d hourly "
                      "buckets" % (n, n, 438), expected_uniform_peak(n, 438, trials=50),
                      "", "%.2f")
            b.row(sec, "%d entries: restart on valid files: time to all kept" % n,
                  kept_wall, "s", "%.2f")
            b.row(sec, "%d entries: restart on valid files: issuances" % n,
                  len(w.issuances(since)), "", "%d", target=0)
            if base_rss:
                b.row(sec, "%d entries: restart: RSS growth per entry" % n,
                      (rss - base_rss) / n, "KB", "%.1f", target=16)
            a2.stop()
        finally:
            w.close()


# ---------------------------------------------------------------------------
# Output

def machine():
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "nproc %d, %.1f GiB memory, %s, %s %s" % (
        os.cpu_count(), mem_kb / 1048576, cpu or platform.machine(), platform.system(),
        platform.release())


def render(b, elapsed):
    out = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out.append("# certagent benchmark%s\n" % (" (QUICK RUN: small counts, not the reference "
                                               "figures)" if b.quick else ""))
    out.append("- date: %s; %s" % (now, machine()))
    ver = subprocess.run([b.binary, "version"], capture_output=True, text=True).stdout.strip()
    ver = ver.split(" zlib/")[0] + (")" if " zlib/" in ver else "")
    out.append("- binary: `%s` (%s); `run --once`: %s; listener: %s" % (
        os.path.relpath(b.binary, ROOT) if b.binary.startswith(str(ROOT)) else b.binary, ver,
        "yes" if b.once else "no (polled the log)", "on" if b.listener else "off"))
    out.append("- %d runs per figure unless the n column says otherwise; median, min, max; "
               "bench took %.0f s" % (b.runs, elapsed))
    out.append("- agent figures: OS accounting of the certagent process only (wait4 rusage, "
               "/proc/PID/task/*/schedstat, /proc/PID/status); vaultsim (Python) runs in "
               "its own process on the same 2 cores")
    out.append("")
    out.append("| figure | metric | median | min | max | n | unit | target | verdict |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |")
    last = None
    rows = sorted(b.rows, key=lambda r: int(r[0].split(".")[0]))   # stable: by figure
    for sec, metric, med, lo, hi, n, unit, target, verdict in rows:
        out.append("| %s | %s | %s | %s | %s | %d | %s | %s | %s |" % (
            sec if sec != last else "", metric, med, lo, hi, n, unit, target, verdict))
        last = sec
    if b.notes:
        out.append("")
        out.append("Notes:")
        out.append("")
        for n in b.notes:
            out.append("- " + n)
    if "fleet_hist" in b.shared:
        lo, hi, buckets = b.shared["fleet_hist"]
        out.append("")
        out.append("Fleet histogram (figure 8, one run): renewals per 1 s bucket, %d s to %d s "
                   "after NotBefore:" % (lo, hi))
        out.append("")
        out.append("```")
        out.append(" ".join(str(x) for x in buckets))
        out.append("```")
    return "\n".join(out) + "\n"


FIGURES = {
    1: fig1_binary, 2: fig2_3_idle, 4: fig4_first_render, 5: fig5_cpu_per_cert,
    6: fig6_scale, 7: fig7_rotation, 8: fig8_fleet,
    9: fig9_entries_dir,
}
# The largest scale point goes last: it takes what the time budget leaves.
ORDER = (1, 2, 4, 5, 8, 7, 9, 6)


# ---------------------------------------------------------------------------
# --footprint: the shared and the small build side by side

FOOTPRINT_BEGIN = "<!-- footprint: bench/run.py --footprint writes this section -->"
FOOTPRINT_END = "<!-- /footprint -->"
FOOTPRINT_SETTLE = 5.0      # seconds after every file is in place


def smaps_rollup(pid):
    """Pss and friends from /proc/PID/smaps_rollup, in KB."""
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    out[k.strip()] = int(v.split()[0])
    except OSError:
        pass
    return out


def image_size(binary, work):
    """(compressed layer bytes, shared libraries in it) of the image
    packaging/image/build.py makes from BINARY."""
    out = work / "image"
    r = subprocess.run([sys.executable, str(ROOT / "packaging" / "image" / "build.py"),
                        "--binary", binary, "--out", str(out), "--tag", "certagent:footprint"],
                       capture_output=True, text=True, timeout=300)
    m = re.search(r"(\d+) bytes compressed", r.stdout)
    shutil.rmtree(out, ignore_errors=True)
    return int(m.group(1)) if m else None


def footprint(args):
    """Both builds, one agent of each started together against one
    vaultsim, with N certificates (issue mode, EC) and one template (two
    kv secrets): once every file is in place, FOOTPRINT_SETTLE seconds
    later, VmRSS, RssAnon, RssFile (/proc/PID/status) and Pss
    (/proc/PID/smaps_rollup) of each.  Then the stripped binaries and
    their images."""
    builds = [("shared", str(pathlib.Path(args.binary).resolve())),
              ("small", str(pathlib.Path(args.small).resolve()))]
    for _, b in builds:
        if not os.path.exists(b):
            sys.exit("bench: no binary at %s (make small; make bench builds the other)" % b)
    sizes = args.sizes or [1, 100, 10000]
    runs = args.runs or 3
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="fp", dir=args.tmpdir))
    t0 = time.monotonic()
    notes = []
    res = {}            # (build, n) -> list of dicts
    w = World(tmp / "world")
    try:
        for n in sizes:
            hdr = "vault: {address: 'https://127.0.0.1:1'}\nauth: {method: token, token_file: x}\n"
            (tmp / "cap.yaml").write_text(hdr + cert_entries(n))
            r = subprocess.run([builds[1][1], "check", "-c", str(tmp / "cap.yaml")],
                               capture_output=True, text=True, env=dict(os.environ, O=str(tmp)))
            if r.returncode != 0:
                notes.append("%d certificates: `certagent check` refuses the configuration: %s"
                             % (n, (r.stdout + r.stderr).strip()[:200]))
                continue
            for i in range(runs if n < 10000 else max(1, runs // 3)):
                say("footprint: %d certificate%s, run %d" % (n, "" if n == 1 else "s", i + 1))
                agents = []
                for name, b in builds:
                    out = tmp / ("%s-%d-%d" % (name, n, i))
                    (out / "tpl").mkdir(parents=True)
                    (out / "tpl" / "app.env.tpl").write_text(TEMPLATE_ENV)
                    text = w.header() + cert_entries(n) + (
                        "templates:\n  - {source: %s/tpl/app.env.tpl, destination: %s/app.env,"
                        " mode: \"0600\"}\n" % (out, out))
                    a = Agent(b, out / "agent", text, name=name, env={"O": str(out)})
                    agents.append((name, a, out))
                for _, a, _ in agents:
                    a.start()
                for name, a, out in agents:
                    dest = str(out / "app.env")
                    ok = a.wait_for(lambda lg: len({x[1] for x in lg.wrote}) >= n
                                    and dest in lg.rendered, 120 + n * 0.05,
                                    interval=0.05 if n <= 100 else 0.2)
                    if not ok:
                        notes.append("%s, %d certificates: not every file in place; %s"
                                     % (name, n, a.log.errors[:2]))
                time.sleep(FOOTPRINT_SETTLE)
                for name, a, out in agents:
                    st, sm = a.proc_status(), smaps_rollup(a.pid)
                    res.setdefault((name, n), []).append({
                        "VmRSS": st.get("VmRSS"), "RssAnon": st.get("RssAnon"),
                        "RssFile": st.get("RssFile"), "Pss": sm.get("Pss"),
                        "Threads": st.get("Threads")})
                for _, a, out in agents:
                    a.stop()
                    shutil.rmtree(out, ignore_errors=True)
    finally:
        w.close()
    files = {}
    for name, b in builds:
        d = tmp / ("bin-" + name)
        d.mkdir()
        shutil.copy(b, d / "certagent")
        subprocess.run(["strip", str(d / "certagent")], check=True)
        ldd = subprocess.run(["ldd", b], capture_output=True, text=True).stdout
        files[name] = {
            "stripped": os.path.getsize(d / "certagent"),
            "libs": sum(1 for line in ldd.splitlines() if "=>" in line or "ld-linux" in line),
            "image": image_size(b, d),
            "version": subprocess.run([b, "version"], capture_output=True,
                                      text=True).stdout.strip().splitlines(),
        }
    shutil.rmtree(tmp, ignore_errors=True)
    text = footprint_render(args, builds, sizes, res, files, notes, time.monotonic() - t0)
    print(text)
    path = pathlib.Path(args.out)
    old = path.read_text() if path.exists() else ""
    if FOOTPRINT_BEGIN in old and FOOTPRINT_END in old:
        head, rest = old.split(FOOTPRINT_BEGIN, 1)
        new = head + text.strip("\n") + rest.split(FOOTPRINT_END, 1)[1]
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + text
    path.write_text(new)
    say("wrote the footprint section of %s in %.0f s" % (path, time.monotonic() - t0))


def footprint_render(args, builds, sizes, res, files, notes, elapsed):
    def med(name, n, k):
        v = [r[k] for r in res.get((name, n), []) if r.get(k) is not None]
        return statistics.median(v) if v else None

    def mb(v):
        return "n/a" if v is None else "%.2f MB" % (v / 1024)

    goals = {("VmRSS", 1): 6 * 1024, ("RssAnon", 1): 1024}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [FOOTPRINT_BEGIN, "", "## Footprint: the shared build and the small build", ""]
    out.append("- date: %s; %s; took %.0f s" % (now, machine(), elapsed))
    out.append("- command: `make bench-footprint` (or `%s`)" % " ".join(
        ["/usr/bin/python3", "bench/run.py", "--footprint"] +
        ["--binary", os.path.relpath(builds[0][1], ROOT), "--small",
         os.path.relpath(builds[1][1], ROOT)]))
    for name, b in builds:
        v = files[name]["version"]
        out.append("- %s: `%s`: %s; %s" % (name, os.path.relpath(b, ROOT),
                                           v[0] if v else "?", v[1] if len(v) > 1 else ""))
    out.append("- each configuration: N certificates (issue mode, EC P-256, cert + key) and "
               "one template reading two kv secrets; one agent of each build started "
               "together against one vaultsim; measured %.0f s after every file was in "
               "place; median of %d runs (%s at 10,000)"
               % (FOOTPRINT_SETTLE, args.runs or 3, max(1, (args.runs or 3) // 3)))
    out.append("- VmRSS = RssAnon + RssFile (+ RssShmem); RssAnon is the agent's own "
               "memory; Pss shares each file-backed page among the processes mapping it "
               "(vaultsim, Python, maps libssl and libcrypto too)")
    out.append("")
    out.append("| metric | shared build | small build | goal (small) |")
    out.append("| --- | ---: | ---: | --- |")
    for n in sizes:
        for k in ("VmRSS", "RssAnon", "RssFile", "Pss"):
            goal = goals.get((k, n))
            sm = med("small", n, k)
            verdict = ""
            if goal is not None:
                verdict = "<= %s: %s" % (mb(goal), "meets" if sm is not None and sm <= goal
                                         else "**misses**")
            out.append("| %s certificate%s: %s | %s | %s | %s |" % (
                "{:,}".format(n), "" if n == 1 else "s", k, mb(med("shared", n, k)), mb(sm),
                verdict))
    for n in sizes[1:]:
        for k in ("VmRSS", "RssAnon"):
            row = []
            for name, _ in builds:
                a, b1 = med(name, n, k), med(name, sizes[0], k)
                row.append(None if a is None or b1 is None else (a - b1) / (n - sizes[0]))
            g = row[1] is not None and row[1] <= 16
            out.append("| %s per extra certificate, %s vs %d | %s | %s | <= 16 KB: %s |" % (
                k, "{:,}".format(n), sizes[0],
                *["n/a" if v is None else "%.1f KB" % v for v in row],
                "meets" if g else "**misses**"))
    out.append("| binary, stripped | %.0f KB | %.0f KB | |" % (
        files["shared"]["stripped"] / 1024, files["small"]["stripped"] / 1024))
    out.append("| shared libraries loaded (ldd, with the loader) | %d | %d | libc alone |" % (
        files["shared"]["libs"], files["small"]["libs"]))
    out.append("| image (make image), layer compressed | %s | %s | |" % tuple(
        "n/a" if files[n]["image"] is None else "%.2f MB" % (files[n]["image"] / 1048576)
        for n in ("shared", "small")))
    if notes:
        out.append("")
        for t in notes:
            out.append("- " + t)
    out.append("")
    out.append(FOOTPRINT_END)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=str(ROOT / "build" / "bench" / "certagent"))
    ap.add_argument("--quick", action="store_true", help="small counts, for development")
    ap.add_argument("--runs", type=int, default=None, help="runs per figure (5; quick 3)")
    ap.add_argument("--idle", type=float, default=None, help="idle seconds (60; quick 10)")
    ap.add_argument("--rsa-n", type=int, default=20,
                    help="RSA issuance count (sign mode: half)")
    ap.add_argument("--big-runs", type=int, default=None,
                    help="runs at the largest scale point (full: 2; quick: runs)")
    ap.add_argument("--sizes", type=lambda t: [int(x) for x in t.split(",")], default=None,
                    help="scale points (1,100,1000,10000; quick 1,10,100,500)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds for the whole bench (840; quick: no limit); trims the "
                         "runs at the largest scale point")
    ap.add_argument("--only", default="", help="figures to run, e.g. 1,4 (2 = 2 and 3)")
    ap.add_argument("--listener", choices=("auto", "on", "off"), default="auto",
                    help="add listener: {address: 127.0.0.1:PORT} to the demo config "
                         "(auto: when the agent accepts the key)")
    ap.add_argument("--out", default=None, help="markdown output (bench/results.md)")
    ap.add_argument("--fleet-sizes", type=lambda t: [int(x) for x in t.split(",")],
                    default=None, help="figure 9's entry counts (100,1000,10000)")
    ap.add_argument("--tmpdir", default=None, help="where to put work files")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--footprint", action="store_true",
                    help="only the footprint of --binary (shared) and --small side by side: "
                         "RSS at 1, 100, 10,000 certificates (--sizes), binary and image "
                         "size; writes its own section of --out")
    ap.add_argument("--small", default=str(ROOT / "build" / "small" / "certagent"),
                    help="the small build for --footprint (make small)")
    args = ap.parse_args()
    if args.footprint:
        if args.out is None:
            args.out = str(ROOT / "bench" / "results.md")
        return footprint(args)
    if args.runs is None:
        args.runs = 3 if args.quick else 5
    if args.idle is None:
        args.idle = 10.0 if args.quick else 60.0
    if args.budget is None:
        args.budget = 0 if args.quick else 840.0
    if args.big_runs is None:
        args.big_runs = args.runs if args.quick else 2
    if args.out is None:
        args.out = str(ROOT / "bench" / "results.md")
    if not os.path.exists(args.binary):
        fallback = ROOT / "certagent"
        if not fallback.exists():
            sys.exit("bench: no binary at %s; run `make bench`" % args.binary)
        args.binary = str(fallback)
    only = {int(x) for x in args.only.split(",") if x.strip()} or set(FIGURES)
    only = {2 if x == 3 else x for x in only}

    t0 = time.monotonic()
    b = Bench(args)
    say("binary %s, %d runs%s, --once %s, work dir %s" % (
        b.binary, b.runs, " (quick)" if b.quick else "", "yes" if b.once else "no", b.tmp))
    try:
        for k in ORDER:
            if k in only:
                say("figure %d (%s) at %.0f s" % (k, FIGURES[k].__name__,
                                                  time.monotonic() - t0))
                FIGURES[k](b)
    finally:
        b.stop_all()
        if not args.keep:
            shutil.rmtree(b.tmp, ignore_errors=True)
    text = render(b, time.monotonic() - t0)
    # The reading of the figures (why a target is missed) is written by
    # people in bench/analysis.md and kept under every new table.
    analysis = ROOT / "bench" / "analysis.md"
    if analysis.exists():
        text = text.rstrip("\n") + "\n\n" + analysis.read_text()
    # The footprint section (--footprint) is its own run: kept as it is.
    old = pathlib.Path(args.out).read_text() if os.path.exists(args.out) else ""
    if FOOTPRINT_BEGIN in old and FOOTPRINT_END in old:
        text = text.rstrip("\n") + "\n\n" + FOOTPRINT_BEGIN + \
            old.split(FOOTPRINT_BEGIN, 1)[1].split(FOOTPRINT_END, 1)[0] + FOOTPRINT_END + "\n"
    print(text)
    pathlib.Path(args.out).write_text(text)
    say("wrote %s in %.0f s" % (args.out, time.monotonic() - t0))


if __name__ == "__main__":
    main()
