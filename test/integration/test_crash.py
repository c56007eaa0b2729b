"""A killed agent never leaves a partial or mismatched file.

200 trials: each one starts the real agent with three certificates (a
bundle file, an atomic_dir set, separate cert/key/chain files), SIGKILLs
it at a random moment of its first render, and checks what a reader would
find on disk:

- every destination file that exists parses completely (no truncated PEM);
- the bundle is absent, the old bundle byte for byte, or a whole new one
  from this trial's issuance, and its certificate matches its key;
- what atomic_dir's tls.crt and tls.key resolve to (through ..data) is
  one version directory, all old or all new, certificate matching key;
- separate cert and key files are two renames, so a kill between them may
  leave a new certificate beside the old key; a restarted agent must see
  the mismatch and write a matching set again.  How often that happened
  is printed.

The kill points come from random.Random(seed); the seed is printed, and
CERTAGENT_CRASH_SEED=<seed> replays the same points (the timing of the
agent itself is of course not replayed).
"""

import os
import pathlib
import random
import re
import shutil
import signal
import statistics
import tempfile
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conftest import Env  # noqa: E402  (test/integration is on sys.path)
from harness import Vaultsim  # noqa: E402
from test_certs import cert_config  # noqa: E402

TRIALS = 200
# Kills must land inside renders for the test to say anything; on a busy
# machine the timing of the warm-up runs predicts fewer of them, so the
# test goes on past TRIALS, up to MAX_TRIALS, until at least 20 have.
MAX_TRIALS = 600
WARMUPS = 3
CERT_NAMES = ("bundle", "adir", "web")
ADIR_FILES = ("tls.crt", "tls.key", "ca.crt")

PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)"
                       rb"-----END \1-----[ \t]*\r?\n?")
TEMP_NAME = re.compile(r"^\..+\.tmp-[0-9A-Za-z]+$")


# ---------------------------------------------------------------- helpers

def spki(obj):
    """The SubjectPublicKeyInfo DER of a certificate or a private key."""
    pub = obj.public_key()
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def parse_pem(data, what):
    """Every PEM block of DATA, parsed: [("CERTIFICATE", cert), ("KEY", key)].
    Anything that is not a whole, parseable block is a failure."""
    assert data.strip(), "%s: empty" % what
    out, pos = [], 0
    for m in PEM_BLOCK.finditer(data):
        assert not data[pos:m.start()].strip(), \
            "%s: stray bytes at offset %d (a cut PEM block?)" % (what, pos)
        label = m.group(1).decode()
        block = m.group(0)
        try:
            if label == "CERTIFICATE":
                out.append(("CERTIFICATE", x509.load_pem_x509_certificate(block)))
            elif label.endswith("PRIVATE KEY"):
                out.append(("KEY", serialization.load_pem_private_key(block, None)))
            else:
                raise AssertionError("%s: unexpected PEM block %s" % (what, label))
        except ValueError as e:
            raise AssertionError("%s: a %s block does not parse: %s" % (what, label, e))
        pos = m.end()
    assert not data[pos:].strip(), \
        "%s: %d stray bytes at the end (a truncated PEM block?)" % (what, len(data) - pos)
    assert out, "%s: no PEM block" % what
    return out


def dns_names(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return ext.value.get_values_for_type(x509.DNSName)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def leftovers(root):
    """What killed writers may leave under ROOT: temp files, half-made
    atomic_dir versions, link temps.  {category: [paths]}"""
    found = {"temp files": [], "stale version dirs": [], "link temps": []}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            if TEMP_NAME.match(n) or n.endswith(".bak.tmp"):
                found["temp files"].append(p)
            elif n.endswith(".link-tmp") or n == "..data_tmp":
                found["link temps"].append(p)
        live = os.readlink(os.path.join(dirpath, "..data")) \
            if os.path.islink(os.path.join(dirpath, "..data")) else None
        for n in dirnames:
            if n.startswith("..") and n != "..data" and n != live and \
                    not os.path.islink(os.path.join(dirpath, n)):
                found["stale version dirs"].append(os.path.join(dirpath, n))
    return found


def crash_certs(d, tag):
    """Three layouts; TAG is a DNS name new to this trial, so every
    certificate on disk lacks it and all three are issued again."""
    return """
        - name: bundle
          path: pki_int/issue/web
          common_name: www.example.test
          alt_names: [www.example.test, %(tag)s.example.test]
          ttl: 30m
          files:
            bundle: {path: %(d)s/bundle/web.pem, parts: [cert, chain, key], backup: true}
        - name: adir
          path: pki_int/issue/web
          common_name: www.example.test
          alt_names: [www.example.test, %(tag)s.example.test]
          ttl: 30m
          atomic_dir: %(d)s/adir
          files:
            cert: {path: tls.crt}
            key: {path: tls.key}
            ca: {path: ca.crt}
        - name: web
          path: pki_int/issue/web
          common_name: www.example.test
          alt_names: [www.example.test, %(tag)s.example.test]
          ttl: 30m
          files:
            cert: {path: %(d)s/sep/web.crt}
            key: {path: %(d)s/sep/web.key}
            chain: {path: %(d)s/sep/chain.pem}
        """ % {"d": d, "tag": tag}


def kill_all(agents):
    for a in agents:
        if a.proc is not None and a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()
        if a._logf is not None and not a._logf.closed:
            a._logf.close()


class World:
    def __init__(self, env, rid, sid):
        self.env = env
        self.rid = rid
        self.sid = sid

    def config(self, d, tag):
        return cert_config(self.env, self.rid, self.sid, crash_certs(d, tag))


@pytest.fixture(scope="module")
def world():
    """One vaultsim for the whole file; every agent killed and the
    temporary directory removed at the end, also on failure."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="certagent-crash-"))
    env = None
    try:
        with Vaultsim(tmp) as vs:
            env = Env(tmp, vs)
            vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                        max_ttl="1h", key_type="ec", key_bits=256)
            vs.policy("pki", 'path "pki_int/issue/*" { capabilities = ["create", "update"] }')
            rid, sid = env.approle_files(token_policies=["default", "pki"])
            yield World(env, rid, sid)
            kill_all(env.agents)
            secrets = (env.issued_tokens() - {vs.root_token}) | env.secrets
            secrets -= {""}
            for a in env.agents:
                text = a.log()
                leaked = [s[:6] + "..." for s in secrets if s in text]
                assert not leaked, "secrets in %s's log: %s" % (a.name, leaked)
    finally:
        if env is not None:
            kill_all(env.agents)
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- the layouts

class Layouts:
    """The three destinations of one test, and how to judge them."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.bundle = self.root / "bundle" / "web.pem"
        self.adir = self.root / "adir"
        self.sep = {"cert": self.root / "sep" / "web.crt",
                    "key": self.root / "sep" / "web.key",
                    "chain": self.root / "sep" / "chain.pem"}
        (self.root / "bundle").mkdir(parents=True)
        (self.root / "sep").mkdir()
        self.chain_ref = None   # the intermediates: the same in every issuance
        self.ca_ref = None

    # -- what is on disk

    def snapshot(self):
        s = {"bundle": read(self.bundle)}
        for k, p in self.sep.items():
            s["sep." + k] = read(p)
        for n in ADIR_FILES:
            s["adir." + n] = read(self.adir / "..data" / n)
        return s

    def prepare(self, mode):
        """Before a trial: 'keep' the files (the new name alone makes the
        agent issue again), 'delete' every destination, or delete the 'key's."""
        if mode == "delete":
            for p in (self.bundle, pathlib.Path(str(self.bundle) + ".bak"),
                      *self.sep.values()):
                if p.exists():
                    p.unlink()
            shutil.rmtree(self.adir, ignore_errors=True)
        elif mode == "key":
            for p in (self.sep["key"], self.adir / "tls.key"):
                if os.path.lexists(p):
                    os.unlink(p)

    # -- judging one file

    def _cert_state(self, data, old, tag, what):
        """'old' (byte for byte), or 'new' (this trial's name in it)."""
        if old is not None and data == old:
            return "old"
        blocks = parse_pem(data, what)
        assert blocks[0][0] == "CERTIFICATE", "%s: does not start with a certificate" % what
        assert "%s.example.test" % tag in dns_names(blocks[0][1]), \
            "%s: neither the old bytes nor a certificate of this trial's issuance" % what
        return "new"

    def check_bundle(self, snap, tag):
        data = read(self.bundle)
        if data is None:
            state = "absent"
        else:
            blocks = parse_pem(data, "bundle")
            kinds = [k for k, _ in blocks]
            assert kinds[0] == "CERTIFICATE" and kinds[-1] == "KEY" and \
                kinds.count("KEY") == 1 and len(kinds) >= 3, \
                "bundle: parts are %s, not [cert, chain..., key]" % kinds
            assert spki(blocks[0][1]) == spki(blocks[-1][1]), \
                "bundle: its certificate and its key do not match"
            if self.chain_ref is not None:
                chain = b"".join(m.group(0) for m in PEM_BLOCK.finditer(data)
                                 if m.group(1) == b"CERTIFICATE")
                first = PEM_BLOCK.search(data).group(0)
                assert chain[len(first):] == self.chain_ref, \
                    "bundle: the chain part is not the issuing chain"
            state = self._cert_state(data, snap["bundle"], tag, "bundle")
        bak = read(str(self.bundle) + ".bak")
        if bak is not None:
            blocks = parse_pem(bak, "bundle backup")
            assert spki(blocks[0][1]) == spki(blocks[-1][1]), \
                "bundle backup: its certificate and its key do not match"
        return state

    def check_adir(self, snap, tag):
        """The state of the live version ('absent', 'old', 'new')."""
        data_link = self.adir / "..data"
        if not os.path.lexists(data_link):
            for n in ADIR_FILES:
                assert not os.path.lexists(self.adir / n), \
                    "adir/%s exists but ..data does not" % n
            return "absent"
        live = os.readlink(data_link)
        assert live.startswith("..") and "/" not in live, "adir/..data -> %r" % live
        vdir = self.adir / live
        assert vdir.is_dir(), "adir/..data -> %s, which is not a directory" % live
        states, objs = {}, {}
        for n in ADIR_FILES:
            data = read(vdir / n)
            assert data is not None, "adir/%s: the live version lacks %s" % (live, n)
            blocks = parse_pem(data, "adir/%s/%s" % (live, n))
            objs[n] = blocks
            if n == "ca.crt":
                if self.ca_ref is not None:
                    assert data == self.ca_ref, "adir/%s/ca.crt: not the CA" % live
                continue
            if n == "tls.key":
                assert [k for k, _ in blocks] == ["KEY"], "adir/%s/tls.key" % live
                states[n] = "old" if data == snap["adir.tls.key"] else "new"
            else:
                states[n] = self._cert_state(data, snap["adir.tls.crt"], tag,
                                             "adir/%s/tls.crt" % live)
        assert spki(objs["tls.crt"][0][1]) == spki(objs["tls.key"][0][1]), \
            "adir/%s: tls.crt and tls.key do not match" % live
        assert len(set(states.values())) == 1, \
            "adir/%s mixes old and new files: %s" % (live, states)
        # What a reader opens: NAME -> ..data/NAME -> the live version.
        for n in ADIR_FILES:
            p = self.adir / n
            if not os.path.lexists(p):
                continue
            assert os.readlink(p) == "..data/" + n, "adir/%s -> %s" % (n, os.readlink(p))
            assert os.path.realpath(p) == os.path.realpath(vdir / n), \
                "adir/%s does not resolve into the live version" % n
        if os.path.exists(self.adir / "tls.crt") and os.path.exists(self.adir / "tls.key"):
            c = parse_pem(read(self.adir / "tls.crt"), "adir/tls.crt")
            k = parse_pem(read(self.adir / "tls.key"), "adir/tls.key")
            assert spki(c[0][1]) == spki(k[0][1]), \
                "adir/tls.crt and adir/tls.key resolve to a mismatched pair"
        return states["tls.crt"]

    def check_sep(self, snap, tag):
        """({'cert': state, 'key': state, 'chain': state}, matched or None)."""
        states, objs = {}, {}
        for k, p in self.sep.items():
            data = read(p)
            if data is None:
                states[k] = "absent"
                continue
            blocks = parse_pem(data, p.name)
            objs[k] = blocks
            if k == "cert":
                assert [b[0] for b in blocks] == ["CERTIFICATE"], "web.crt: %s" % blocks
                states[k] = self._cert_state(data, snap["sep.cert"], tag, "web.crt")
            elif k == "key":
                assert [b[0] for b in blocks] == ["KEY"], "web.key: not one key"
                states[k] = "old" if data == snap["sep.key"] else "new"
            else:
                if self.chain_ref is not None:
                    assert data == self.chain_ref, "chain.pem: not the issuing chain"
                states[k] = "old" if data == snap["sep.chain"] else "new"
        matched = None
        if "cert" in objs and "key" in objs:
            matched = spki(objs["cert"][0][1]) == spki(objs["key"][0][1])
        return states, matched

    def sep_matched(self):
        c = parse_pem(read(self.sep["cert"]), "web.crt")
        k = parse_pem(read(self.sep["key"]), "web.key")
        return spki(c[0][1]) == spki(k[0][1])


def events(log):
    """{cert name: 'before' | 'during' | 'after'} from one agent's log."""
    req = set(re.findall(r"certs: ([\w.-]+): requesting a certificate", log))
    wrote = set(re.findall(r"certs: ([\w.-]+): wrote \d+ files? from one issuance", log))
    return {n: "after" if n in wrote else "during" if n in req else "before"
            for n in CERT_NAMES}


def wait_all_written(agent, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s == "after" for s in events(agent.log()).values()):
            return
        assert agent.proc.poll() is None, "agent exited; log:\n" + agent.log()
        time.sleep(0.002)
    raise AssertionError("not every certificate written in %ss; log:\n%s" %
                         (timeout, agent.log()))


# ---------------------------------------------------------------- the tests

def test_sigkill_at_random_points_never_leaves_a_partial_or_mismatched_file(world, capsys):
    env = world.env
    seed = int(os.environ.get("CERTAGENT_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    with capsys.disabled():
        print("\n[crash] seed %d (CERTAGENT_CRASH_SEED=%d replays the kill points)" % (seed, seed))
    lay = Layouts(env.tmp / "crash")

    # Warm up and measure: how long from exec to every "wrote"?
    took = []
    for i in range(WARMUPS):
        a = env.agent(world.config(lay.root, "warm%d" % i), name="warm%d" % i)
        t0 = time.monotonic()
        a.start()
        wait_all_written(a)
        took.append(time.monotonic() - t0)
        assert a.stop() == 0
    lay.chain_ref = read(lay.sep["chain"])
    lay.ca_ref = read(lay.adir / "ca.crt")
    typical = statistics.median(took)
    window = 1.5 * typical

    trial_kinds = {"before": 0, "during": 0, "after": 0}
    per_cert = {n: {"before": 0, "during": 0, "after": 0} for n in CERT_NAMES}
    in_commit = 0           # files changed on disk, but "wrote" not logged yet
    mismatched = 0
    sep_trials = 0
    temps_seen = 0
    temps_max = 0
    in_staging = 0          # trials whose kill left temp files or half a version
    modes = {"keep": 0, "delete": 0, "key": 0}
    repairs = []

    prev_left = set()
    trials = 0
    for i in range(MAX_TRIALS):
        if i >= TRIALS and trial_kinds["during"] >= 20:
            break
        trials = i + 1
        mode = rng.choices(["keep", "delete", "key"], weights=[6, 2, 2])[0]
        delay = rng.uniform(0.0, window)
        tag = "trial%d" % i
        modes[mode] += 1
        try:
            lay.prepare(mode)
            snap = lay.snapshot()
            a = env.agent(world.config(lay.root, tag), name="trial%03d" % i)
            t0 = time.monotonic()
            a.start()
            time.sleep(max(0.0, t0 + delay - time.monotonic()))
            alive = a.proc.poll() is None
            rc = a.stop(signal.SIGKILL)
            assert alive and rc == -signal.SIGKILL, \
                "the agent was not running when killed (rc %s); log:\n%s" % (rc, a.log())
            ev = events(a.log())

            b_state = lay.check_bundle(snap, tag)
            d_state = lay.check_adir(snap, tag)
            s_states, matched = lay.check_sep(snap, tag)

            # The log and the disk agree: nothing changes before the
            # request, everything is new once "wrote" is logged.
            now = {"bundle": [b_state], "adir": [d_state],
                   "web": [s_states["cert"], s_states["key"]]}
            before_snap = {"bundle": [snap["bundle"]], "adir": [snap["adir.tls.crt"]],
                           "web": [snap["sep.cert"], snap["sep.key"]]}
            for n in CERT_NAMES:
                if ev[n] == "before":
                    for st, old in zip(now[n], before_snap[n]):
                        assert st == ("absent" if old is None else "old"), \
                            "%s: files changed before any request: %s" % (n, now[n])
                elif ev[n] == "after":
                    assert all(st == "new" for st in now[n]), \
                        "%s: logged 'wrote' but the files are %s" % (n, now[n])
                elif any(st == "new" for st in now[n]):
                    in_commit += 1
                per_cert[n][ev[n]] += 1
            kinds = set(ev.values())
            trial_kinds["during" if "during" in kinds else
                        "before" if kinds == {"before"} else "after"] += 1

            sep_trials += 1
            if matched is False:
                mismatched += 1
                assert s_states["cert"] == "new" and s_states["key"] == "old", \
                    "web.crt and web.key mismatch in an impossible order: %s" % s_states
                r = env.agent(world.config(lay.root, tag), name="repair%03d" % i).start()
                r.wait_for(r"web: the files on disk will be replaced")
                r.wait_for(r"web: issued serial")
                log = r.log()
                assert log.index("web: the files on disk will be replaced") < \
                    log.index("web: requesting a certificate") < \
                    log.index("web: issued serial"), log
                assert lay.sep_matched(), "the restarted agent left web.crt/web.key mismatched"
                assert r.stop() == 0
                repairs.append(i)

            left = {p for v in leftovers(lay.root).values() for p in v}
            temps_seen += len(left)
            temps_max = max(temps_max, len(left))
            if left - prev_left:
                in_staging += 1
            prev_left = left
        except AssertionError as e:
            raise AssertionError("seed %d, trial %d (mode %s, kill at %.3fs of a %.3fs window): %s"
                                 % (seed, i, mode, delay, window, e)) from None

    end_left = leftovers(lay.root)
    # One last run to the end: does it leave the directories clean?
    a = env.agent(world.config(lay.root, "final"), name="final")
    a.start()
    wait_all_written(a)
    assert a.stop() == 0
    assert lay.sep_matched()
    final_left = leftovers(lay.root)

    with capsys.disabled():
        print("[crash] %d trials (modes %s); typical exec-to-'wrote' %.0f ms (warm-ups %s), "
              "kills uniform in [0, %.0f ms]" % (trials, modes, typical * 1000,
                                                  ["%.0f" % (t * 1000) for t in took],
                                                  window * 1000))
        print("[crash] kills by trial: %d before any request, %d between 'requesting' and "
              "'wrote' for some certificate, %d after every 'wrote'" %
              (trial_kinds["before"], trial_kinds["during"], trial_kinds["after"]))
        print("[crash] kills by certificate: %s" % per_cert)
        print("[crash] kills inside the write itself: %d while staging (they left temp files "
              "or a half-made version), %d after files changed but before 'wrote' was logged"
              % (in_staging, in_commit))
        print("[crash] separate cert/key: %d of %d trials ended mismatched%s" %
              (mismatched, sep_trials,
               " (trials %s, each repaired by a restart)" % repairs if repairs else ""))
        print("[crash] leftovers of killed writers: %d seen after kills in total, at most %d "
              "at once; %d after the last kill %s; %d after one more full run %s" %
              (temps_seen, temps_max, sum(len(v) for v in end_left.values()),
               {k: len(v) for k, v in end_left.items()},
               sum(len(v) for v in final_left.values()),
               {k: len(v) for k, v in final_left.items()}))

    assert trial_kinds["during"] >= 20, \
        "seed %d: only %d kills of %d landed inside a render: %s" % (
            seed, trial_kinds["during"], trials, trial_kinds)


def test_a_stale_temp_file_does_not_break_the_next_run(world, capsys):
    env = world.env
    d = env.tmp / "stale"
    d.mkdir()
    certs = """
        - name: web
          path: pki_int/issue/web
          common_name: www.example.test
          ttl: 30m
          files:
            cert: {path: %(d)s/web.crt}
            key: {path: %(d)s/web.key}
        """ % {"d": d}
    cfg = cert_config(env, world.rid, world.sid, certs)
    a = env.agent(cfg, name="stale1").start()
    a.wait_for(r"web: issued serial")
    assert a.stop() == 0
    # What a killed agent leaves: a half-written temp file beside web.crt,
    # and (planted) a temp-file name that is a symlink to something else.
    cert_text = (d / "web.crt").read_text()
    stale = d / ".web.crt.tmp-123456"
    stale.write_text(cert_text[:len(cert_text) // 2])
    victim = env.tmp / "stale-victim"
    victim.write_text("precious\n")
    os.symlink(victim, d / ".web.key.tmp-abcdef")
    # The key is gone, so the next run must write a new set.
    (d / "web.key").unlink()
    b = env.agent(cfg, name="stale2").start()
    b.wait_for(r"web: issued serial")
    assert b.stop() == 0
    c = parse_pem(read(d / "web.crt"), "web.crt")
    k = parse_pem(read(d / "web.key"), "web.key")
    assert spki(c[0][1]) == spki(k[0][1]), "web.crt and web.key do not match"
    assert victim.read_text() == "precious\n"
    left = sorted(n for n in os.listdir(d) if TEMP_NAME.match(n))
    with capsys.disabled():
        print("\n[stale] after the next run: temp files left in the directory: %s"
              % (left or "none (the agent removed them)"))
