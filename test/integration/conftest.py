"""Integration fixtures: a fresh vaultsim and the real certagent binary.

Every test gets its own vaultsim (its own CA, tokens and free ports) and
runs certagent as a child process whose stderr goes to a log file.  After
each test, every line every agent logged is checked against every secret
vaultsim issued during the test (tokens, secret-ids) and every credential
the test wrote: none may appear.
"""

import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test" / "vaultsim"))

from harness import Vaultsim  # noqa: E402

BIN = os.environ.get("CERTAGENT_BIN", str(ROOT / "certagent"))


class Agent:
    """One certagent process with its config file and log."""

    def __init__(self, workdir, name="agent"):
        self.dir = pathlib.Path(workdir)
        self.name = name
        self.config = self.dir / ("%s.yaml" % name)
        self.log_path = self.dir / ("%s.log" % name)
        self.proc = None
        self._logf = None

    def write_config(self, text):
        self.config.write_text(textwrap.dedent(text))

    def start(self, env=None):
        self._logf = open(self.log_path, "ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen([BIN, "run", "-c", str(self.config)],
                                     stdout=self._logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=full_env)
        return self

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def count(self, pattern):
        return len(re.findall(pattern, self.log()))

    def wait_for(self, pattern, timeout=15.0, count=1):
        """Wait until PATTERN (a regex) has appeared COUNT times in the log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = re.findall(pattern, self.log())
            if len(found) >= count:
                return found
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("%r not seen %d times in %.0fs (agent %s); log:\n%s" % (
            pattern, count, timeout,
            "running" if self.proc and self.proc.poll() is None else "exited",
            self.log()))

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Send SIG and return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("agent did not stop within %ss; log:\n%s" %
                                     (timeout, self.log()))
        rc = self.proc.returncode
        self._logf.close()
        return rc


class Env:
    """A test's world: one vaultsim, any number of agents, known secrets."""

    def __init__(self, tmp_path, vs):
        self.tmp = tmp_path
        self.vs = vs
        self.agents = []
        self.secrets = set()

    def agent(self, config, name="agent"):
        a = Agent(self.tmp, name)
        a.write_config(config)
        self.agents.append(a)
        return a

    def write_secret(self, name, value, mode=0o600):
        p = self.tmp / name
        p.write_text(value + "\n")
        os.chmod(p, mode)
        self.secrets.add(value)
        return p

    def approle_files(self, role="app", **params):
        """An AppRole role and its role-id / secret-id files."""
        params.setdefault("token_ttl", "30s")
        params.setdefault("token_max_ttl", "5m")
        role_id, secret_id = self.vs.approle(role, **params)
        rid = self.tmp / ("%s-role-id" % role)
        rid.write_text(role_id + "\n")
        sid = self.write_secret("%s-secret-id" % role, secret_id)
        return rid, sid

    def approle_config(self, rid, sid, vault="", auth="", address=None, top="",
                       retry="{min_backoff: 100ms, max_backoff: 1s}"):
        """A config for AppRole login; VAULT, AUTH and TOP are extra YAML
        lines for the vault: and auth: sections and the top level."""
        return "\n".join([
            "vault:",
            "  address: %s" % (address or self.vs.https_addr),
            "  ca_cert: %s" % self.vs.tls_ca,
            "  retry: %s" % retry,
            textwrap.indent(textwrap.dedent(vault).strip("\n"), "  "),
            "auth:",
            "  method: approle",
            "  role_id_file: %s" % rid,
            "  secret_id_file: %s" % sid,
            textwrap.indent(textwrap.dedent(auth).strip("\n"), "  "),
            "log: {level: debug}",
            textwrap.dedent(top).strip("\n"),
            ""])

    def issued_tokens(self):
        st, body = self.vs.admin("GET", "tokens?all=true")
        assert st == 200, body
        return {t["token"] for t in body}


@pytest.fixture
def env(tmp_path):
    with Vaultsim(tmp_path) as vs:
        e = Env(tmp_path, vs)
        yield e
        tokens = e.issued_tokens() - {vs.root_token}
        for a in e.agents:
            if a.proc is not None and a.proc.poll() is None:
                a.stop()
        secrets = (tokens | e.secrets) - {""}
        for a in e.agents:
            text = a.log()
            leaked = [s[:6] + "..." for s in secrets if s in text]
            assert not leaked, "secrets in %s's log: %s" % (a.name, leaked)
