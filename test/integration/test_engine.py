"""One certificate engine: a certificates: entry and a template that
issues a certificate behave the same.

Every test here runs twice, once for each road, with the same
assertions: the material is verified before any file is replaced, the
renewal policy (renew_before, rotate_window) is the same, `certagent
rotate NAME` renews it, and /readyz and /metrics know it.
"""

import re
import signal
import subprocess
import textwrap
import time

import pytest

from conftest import BIN
from test_certs import issue_requests, openssl, serial_of
from test_rotation import cert_dates, free_port, http_get, iso, wait_status


@pytest.fixture
def pki(env):
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="24h", key_type="ec", key_bits=256)
    env.vs.policy("pki", 'path "pki_int/issue/*" { capabilities = ["create", "update"] }')
    return env.approle_files(token_policies=["default", "pki"])


class Road:
    """How one road asks for the certificate web.example.test, written to
    DIR/web.crt and DIR/web.key, with EXTRA renewal keys."""

    def __init__(self, kind):
        self.kind = kind
        self.name = "web"

    def section(self, d, ttl="1h", extra=""):
        extra = textwrap.dedent(extra).strip("\n")
        if self.kind == "entry":
            return textwrap.indent(textwrap.dedent("""\
                certificates:
                  - name: web
                    path: pki_int/issue/web
                    common_name: web.example.test
                    ttl: %s
                    files:
                      cert: {path: %s/web.crt}
                      key: {path: %s/web.key}
                """ % (ttl, d, d)) + textwrap.indent(extra, "    ") + "\n", "")
        call = '"pki_int/issue/web" "common_name=web.example.test" "ttl=%s"' % ttl
        lines = ["templates:",
                 "  - name: web",
                 "    destination: %s/web.crt" % d,
                 "    contents: '{{ with secret %s }}{{ .Data.certificate }}{{ end }}'" % call]
        lines += ["    " + l for l in extra.splitlines()]
        lines += ["  - destination: %s/web.key" % d,
                  '    mode: "0600"',
                  "    contents: '{{ with secret %s }}{{ .Data.private_key }}{{ end }}'" % call]
        return "\n".join(lines) + "\n"

    def config(self, env, rid, sid, d, ttl="1h", extra="", top=""):
        return env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false",
                                  top=top) + self.section(d, ttl, extra)

    def written(self):
        """The log line of a write of the certificate's files."""
        if self.kind == "entry":
            return r"certs: web: wrote 2 files from one issuance"
        return r"templates: \S+: rendered \S+/web.crt"


@pytest.fixture(params=["entry", "template"])
def road(request):
    return Road(request.param)


def renew_time(agent):
    found = re.findall(r"certs: web: (?:issued|kept the certificate on disk,) serial \S+, "
                       r"expires \S+, renews at (\S+)", agent.log())
    assert found, agent.log()
    return iso(found[-1])


def test_a_key_that_does_not_match_is_refused_before_any_write(env, pki, road):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    env.vs.fault(path_prefix="/v1/pki_int/issue/web", pki="mismatched_key", count=1)
    a = env.agent(road.config(env, rid, sid, d)).start()
    a.wait_for(r"web: the certificate Vault issued fails its check: the key does not "
               r"belong to the certificate")
    # The retry gets a good answer: only then are the files written.
    a.wait_for(road.written())
    log = a.log()
    assert log.index("fails its check") < re.search(road.written(), log).start()
    assert len(issue_requests(env.vs)) == 2
    rc, cert_pub = openssl("x509", "-noout", "-pubkey", "-in", str(d / "web.crt"))
    rc2, key_pub = openssl("pkey", "-pubout", "-in", str(d / "web.key"))
    assert rc == 0 and rc2 == 0 and cert_pub == key_pub
    assert a.stop() == 0


def test_a_chain_that_does_not_verify_is_refused_and_the_old_files_stay(env, pki, road):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    a = env.agent(road.config(env, rid, sid, d)).start()
    a.wait_for(road.written())
    first = serial_of(d / "web.crt")
    before = (d / "web.crt").read_bytes(), (d / "web.key").read_bytes()
    env.vs.fault(path_prefix="/v1/pki_int/issue/web", pki="untrusted_chain", count=-1)
    a.send(signal.SIGUSR1)
    a.wait_for(r"web: the certificate Vault issued fails its check: .*does not verify")
    assert ((d / "web.crt").read_bytes(), (d / "web.key").read_bytes()) == before
    assert serial_of(d / "web.crt") == first
    assert a.stop() == 0


def test_renew_before_sets_the_renewal_point(env, pki, road):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    a = env.agent(road.config(env, rid, sid, d, "1h",
                              "renew_before: 10m\njitter: 0")).start()
    a.wait_for(road.written())
    nb, na = cert_dates(d / "web.crt")
    assert abs(renew_time(a) - (na - 600)) <= 1
    assert a.stop() == 0


def test_a_rotate_window_moves_the_renewal_to_its_opening(env, pki, road):
    """Due at half of a 10 h life; the window is the hour that starts 2 h
    after that, every day, in UTC: the renewal moves to its opening."""
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    due = time.time() + 5 * 3600
    start = time.gmtime(due + 2 * 3600)
    end = time.gmtime(due + 3 * 3600)
    window = "daily %02d:%02d-%02d:%02d UTC" % (start.tm_hour, start.tm_min, end.tm_hour,
                                                  end.tm_min)
    a = env.agent(road.config(env, rid, sid, d, "10h",
                              'renew_at: 0.5\njitter: 0\nrotate_window: "%s"' % window)).start()
    a.wait_for(road.written())
    nb, na = cert_dates(d / "web.crt")
    at = renew_time(a)
    opening = nb + (na - nb) / 2 + 2 * 3600
    assert abs(at - opening) <= 61, (time.strftime("%H:%M", time.gmtime(at)), window)
    assert a.stop() == 0


def test_certagent_rotate_names_the_certificate(env, pki, road):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    sock = env.tmp / "ctl.sock"
    a = env.agent(road.config(env, rid, sid, d,
                              top="listener: {control_socket: %s}" % sock)).start()
    a.wait_for(road.written())
    first = serial_of(d / "web.crt")
    r = subprocess.run([BIN, "rotate", road.name, "-c", str(a.config)],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "renewing 1 certificate\n"
    a.wait_for(road.written(), count=2)
    assert serial_of(d / "web.crt") != first
    assert len(issue_requests(env.vs)) == 2
    assert a.stop() == 0


def test_readiness_and_metrics_know_the_certificate(env, pki, road):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    port = free_port()
    a = env.agent(road.config(env, rid, sid, d,
                              top='listener: {address: "127.0.0.1:%d"}' % port)).start()
    a.wait_for(road.written())
    assert wait_status(port, "/readyz", 200) == "ready\n"
    st, m = http_get(port, "/metrics")
    assert st == 200
    nb, na = cert_dates(d / "web.crt")
    assert 'certagent_certificate_not_after_seconds{name="web"} %d\n' % na in m
    assert 'certagent_certificate_renew_at_seconds{name="web"} %d\n' % renew_time(a) in m
    assert 'certagent_certificate_renewals_total{name="web"} 1\n' in m
    assert 'certagent_certificates{state="valid"} 1\n' in m
    assert a.stop() == 0
