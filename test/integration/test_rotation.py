"""Rotation: the renewal schedule, outages, on-demand rotation,
revocation and --once, against vaultsim and the real binary."""

import calendar
import collections
import re
import signal
import subprocess
import textwrap
import time

import pytest

from conftest import BIN
from test_certs import cert_config, issue_requests, serial_of


@pytest.fixture
def pki(env):
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="24h", key_type="ec", key_bits=256)
    env.vs.policy("pki", """
        path "pki_int/issue/*" { capabilities = ["create", "update"] }
        path "pki_int/sign/*" { capabilities = ["create", "update"] }
        path "pki_int/revoke" { capabilities = ["create", "update"] }
    """)
    rid, sid = env.approle_files(token_policies=["default", "pki"])
    return rid, sid


def one_cert(d, name="web", ttl="1h", extra=""):
    return """
        - name: %(n)s
          path: pki_int/issue/web
          common_name: %(n)s.example.test
          ttl: %(ttl)s
          %(extra)s
          files:
            cert: {path: %(d)s/%(n)s.crt}
            key: {path: %(d)s/%(n)s.key}
        """ % {"n": name, "d": d, "ttl": ttl, "extra": extra}


def iso(ts):
    return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))


def cert_dates(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-startdate", "-enddate",
                          "-in", str(path)], capture_output=True, text=True,
                         check=True).stdout
    f = dict(line.split("=", 1) for line in out.strip().splitlines())
    conv = lambda s: calendar.timegm(time.strptime(s.strip(), "%b %d %H:%M:%S %Y GMT"))
    return conv(f["notBefore"]), conv(f["notAfter"])


def renewals(agent):
    """name -> scheduled renewal (unix seconds), the last one logged."""
    out = {}
    for name, ts in re.findall(r"certs: (\S+): (?:issued|kept the certificate on "
                               r"disk,) serial \S+, expires \S+, renews at (\S+)",
                               agent.log()):
        out[name] = iso(ts)
    return out


def test_renew_at_and_renew_before_set_the_renewal_point(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = one_cert(d, "half", "1h", "renew_at: 0.5\n          jitter: 0") + \
        one_cert(d, "before", "1h", "renew_before: 10m\n          jitter: 0")
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"before: issued serial")
    a.wait_for(r"half: issued serial")
    r = renewals(a)
    nb, na = cert_dates(d / "half.crt")
    assert abs(r["half"] - (nb + (na - nb) / 2)) <= 1
    nb, na = cert_dates(d / "before.crt")
    assert abs(r["before"] - (na - 600)) <= 1
    assert a.stop() == 0


def test_renew_at_and_renew_before_together_are_refused(env, pki, tmp_path):
    rid, sid = pki
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(cert_config(env, rid, sid, one_cert(
        tmp_path, "x", "1h", "renew_at: 0.5\n          renew_before: 10m")))
    r = subprocess.run([BIN, "check", "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode != 0
    assert re.search(r"bad.yaml:\d+:\d+: certificates\[0\]\.renew_before: set "
                     r"renew_at or renew_before, not both", r.stderr), r.stderr


def test_rotate_window_is_validated_with_its_column(env, pki, tmp_path):
    rid, sid = pki
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(cert_config(env, rid, sid, one_cert(
        tmp_path, "x", "1h", 'rotate_window: "Sat 2:00x-04:00"')))
    r = subprocess.run([BIN, "check", "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode != 0
    assert "certificates[0].rotate_window: column 5: expected HH:MM" in r.stderr, r.stderr


def scheduled(port):
    """name -> next renewal (unix seconds), from /v1/status."""
    import json
    st, body = http_get(port, "/v1/status")
    assert st == 200, body
    return {c["name"]: iso(c["next_renewal"]) for c in json.loads(body)["certificates"]}


def test_a_thousand_certificates_spread_over_the_jitter_window_and_keep_it(env, pki):
    """1,000 certificates issued together renew over +-5% of their
    lifetime, evenly (stratified by rank: renew.h); a restart keeps every
    scheduled time."""
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    n = 1000
    port = free_port()
    certs = "".join("""
        - name: c%(i)d
          path: pki_int/issue/web
          common_name: c%(i)d.example.test
          ttl: 2h
          files:
            bundle: {path: %(d)s/c%(i)d.pem, parts: [cert, key]}
        """ % {"i": i, "d": d} for i in range(n))
    cfg = cert_config(env, rid, sid, certs) + 'listener: {address: "127.0.0.1:%d"}\n' % port
    a = env.agent(cfg).start()
    a.wait_for(r"c\d+: issued serial", count=n, timeout=240)
    assert len(renewals(a)) == n
    # Logged at each issuance, a point is provisional until the last one
    # is ranked; the schedule stands once all are held.
    first = scheduled(port)
    assert len(first) == n
    assert a.stop() == 0

    # The lifetime is 2h plus vaultsim's 30 s backdating; renewal at 0.66
    # of it +-5%: a window of 0.1 * 7230 s = 723 s.
    nb, na = cert_dates(d / "c0.pem")
    life = na - nb
    lo, hi = nb + life * 0.61, nb + life * 0.71
    times = sorted(first.values())
    assert lo - 2 <= times[0] and times[-1] <= hi + 2 + 60   # issued within a minute
    assert times[-1] - times[0] >= 0.9 * (hi - lo)
    # Evenly: 20 buckets of the window, none above 1.2x the mean (50):
    # independent draws would reach 1.6x.
    buckets = collections.Counter(int((t - times[0]) * 20 / (times[-1] - times[0] + 1))
                                  for t in times)
    assert max(buckets.values()) <= 60, sorted(buckets.items())

    b = env.agent(cfg, name="again").start()
    b.wait_for(r"c\d+: kept the certificate on disk", count=n, timeout=120)
    assert renewals(b) == first
    assert scheduled(port) == first
    assert b.stop() == 0
    assert len(issue_requests(env.vs)) == n


def drop_everything(vs):
    st, body = vs.admin("POST", "fault", {"drop": True, "count": -1})
    assert st == 200, body


def test_an_outage_shorter_than_the_validity_changes_nothing_until_vault_returns(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    out = env.tmp / "hook.out"
    top = """
        hooks:
          note: {command: ["/bin/sh", "-c", "echo ran >> %s"]}
        """ % out
    certs = one_cert(d, "short", "40s",
                     "renew_at: 0.5\n          jitter: 0\n"
                     "          on_change: [note]\n"
                     "          wait: {min: 100ms, max: 1s}")
    a = env.agent(cert_config(env, rid, sid, certs) + textwrap.dedent(top)).start()
    a.wait_for(r"short: issued serial")
    a.wait_for(r"hooks: note: .*exited 0|note: ran", timeout=10)
    ran = out.read_text().count("ran")
    first = serial_of(d / "short.crt")
    st1 = (d / "short.crt").stat()
    drop_everything(env.vs)
    # Renewal is due at half of 70 s (40 s + 30 s backdating) from
    # NotBefore: about 5 s after issuance.  Let it fail a few times.
    a.wait_for(r"short: .*old files kept, next try", count=2, timeout=30)
    assert serial_of(d / "short.crt") == first
    assert (d / "short.crt").stat().st_ino == st1.st_ino
    assert out.read_text().count("ran") == ran
    env.vs.clear_faults()
    a.wait_for(r"short: issued serial", count=2, timeout=30)
    assert serial_of(d / "short.crt") != first
    deadline = time.time() + 10
    while out.read_text().count("ran") < ran + 1 and time.time() < deadline:
        time.sleep(0.1)
    assert out.read_text().count("ran") == ran + 1
    assert a.stop() == 0


def test_an_outage_past_expiry_is_reported_once_a_minute_and_recovers(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    # Renew late (0.9), so the certificate expires a few seconds into
    # the outage; then the retries come every 100 ms-1 s.
    certs = one_cert(d, "brief", "5s", "renew_at: 0.9\n          jitter: 0.01")
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"brief: issued serial")
    first = serial_of(d / "brief.crt")
    drop_everything(env.vs)
    a.wait_for(r"brief: EXPIRED at \S+ \(serial \S+\) and no replacement yet",
               timeout=60)
    time.sleep(10)
    assert a.count(r"brief: EXPIRED") == 1
    assert a.count(r"brief: .*next try") >= 5   # it kept trying meanwhile
    assert serial_of(d / "brief.crt") == first  # nothing was lost
    env.vs.clear_faults()
    a.wait_for(r"brief: issued serial", count=2, timeout=30)
    assert serial_of(d / "brief.crt") != first
    assert a.stop() == 0


def test_sigusr1_renews_every_certificate_now(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    a = env.agent(cert_config(env, rid, sid, one_cert(d, "a") + one_cert(d, "b"))).start()
    a.wait_for(r"a: issued serial")
    a.wait_for(r"b: issued serial")
    before = serial_of(d / "a.crt"), serial_of(d / "b.crt")
    a.send(signal.SIGUSR1)
    a.wait_for(r"a: issued serial", count=2)
    a.wait_for(r"b: issued serial", count=2)
    after = serial_of(d / "a.crt"), serial_of(d / "b.crt")
    assert before[0] != after[0] and before[1] != after[1]
    assert len(issue_requests(env.vs)) == 4
    assert a.stop() == 0


def revoked(vs, serial_line):
    """Is the certificate with openssl's "serial=ABCD.." revoked?"""
    hexs = serial_line.split("=", 1)[1].lower()
    colon = ":".join(hexs[i:i + 2] for i in range(0, len(hexs), 2))
    st, body = vs.api("GET", "pki_int/cert/" + colon)
    assert st == 200, body
    return body["data"].get("revocation_time", 0) > 0


def test_revoke_previous_after_revokes_the_replaced_serial_after_its_grace(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = one_cert(d, "web", "1h", "revoke_previous_after: 2s")
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"web: issued serial")
    old = serial_of(d / "web.crt")
    a.send(signal.SIGUSR1)
    a.wait_for(r"web: issued serial", count=2)
    new = serial_of(d / "web.crt")
    assert not revoked(env.vs, old)   # still inside its grace period
    a.wait_for(r"revoke: web: revoked serial", timeout=15)
    assert revoked(env.vs, old)
    assert not revoked(env.vs, new)
    assert a.stop() == 0


def test_revoke_on_shutdown_revokes_the_certificate_and_the_token(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    certs = one_cert(d, "eph", "1h", "revoke_on_shutdown: true")
    a = env.agent(cert_config(env, rid, sid, certs) + "revoke_on_shutdown: true\n").start()
    a.wait_for(r"eph: issued serial")
    serial = serial_of(d / "eph.crt")
    tokens_before = {t["token"] for t in env.vs.tokens()}
    assert a.stop() == 0
    assert revoked(env.vs, serial)
    assert "revoked the Vault token" in a.log()
    tokens_after = {t["token"] for t in env.vs.tokens()}
    assert len(tokens_before - tokens_after) == 1   # the agent's, and only it


def test_without_revoke_on_shutdown_nothing_is_revoked(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    a = env.agent(cert_config(env, rid, sid, one_cert(d))).start()
    a.wait_for(r"web: issued serial")
    serial = serial_of(d / "web.crt")
    n = len(env.vs.tokens())
    assert a.stop() == 0
    assert not revoked(env.vs, serial)
    assert len(env.vs.tokens()) == n


def run_once(env, config, timeout=60):
    cfg = env.tmp / "once.yaml"
    cfg.write_text(config)
    t0 = time.time()
    r = subprocess.run([BIN, "run", "--once", "-c", str(cfg)], capture_output=True,
                       text=True, timeout=timeout)
    return r, time.time() - t0


def test_once_renders_everything_and_exits_zero(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    env.vs.kv_put("app", {"password": "pw-once-1"})
    env.vs.policy("kv", 'path "secret/data/app" { capabilities = ["read"] }')
    rid, sid = env.approle_files(role="once", token_policies=["default", "pki", "kv"])
    top = """
        templates:
          - destination: %s/app.conf
            contents: 'password={{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}'
        """ % d
    env.secrets.add("pw-once-1")
    r, _ = run_once(env, cert_config(env, rid, sid, one_cert(d)) + textwrap.dedent(top))
    assert r.returncode == 0, r.stderr
    assert (d / "app.conf").read_text() == "password=pw-once-1"
    assert serial_of(d / "web.crt")
    assert "run --once: done" in r.stderr
    # Again with the files in place: no issuance at all.
    n = len(issue_requests(env.vs))
    r, _ = run_once(env, cert_config(env, rid, sid, one_cert(d)) + textwrap.dedent(top))
    assert r.returncode == 0, r.stderr
    assert len(issue_requests(env.vs)) == n
    for s in ["pw-once-1"]:
        assert s not in r.stderr


def test_once_exits_nonzero_within_its_retry_bound_when_vault_is_unreachable(env, pki, tmp_path):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    cfg = env.approle_config(rid, sid, address="https://127.0.0.1:9",
                             retry="{min_backoff: 100ms, max_backoff: 200ms, num_retries: 2}",
                             auth="remove_secret_id_file_after_reading: false")
    cfg += "certificates:\n" + "\n".join("  " + l for l in one_cert(d).strip("\n").splitlines()) + "\n"
    r, took = run_once(env, cfg, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "run --once: failed: cannot log in to Vault" in r.stderr
    assert took < 20
    assert not (d / "web.crt").exists()


def test_once_with_only_a_certificate_and_no_hook_exits_0(env, pki):
    """The init-container case that crashed at exit (a hook notified
    after the stop had freed the hooks): one certificates: entry, no
    template, no hook."""
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    r, _ = run_once(env, cert_config(env, rid, sid, one_cert(d)))
    assert r.returncode == 0, r.stderr
    assert serial_of(d / "web.crt")
    assert "run --once: done" in r.stderr
    assert r.stderr.rstrip().endswith("stopped"), r.stderr


def test_once_exits_0_when_the_issuance_answers_after_the_templates(env, pki):
    """A real Vault answers a kv read long before an issuance (key
    generation); vaultsim is made to answer in that order, so the
    certificate is the last thing in place, reported from inside its
    own answer's callback."""
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    env.vs.kv_put("app", {"password": "pw-order-1"})
    env.vs.policy("kv", 'path "secret/data/app" { capabilities = ["read"] }')
    rid, sid = env.approle_files(role="order", token_policies=["default", "pki", "kv"])
    env.secrets.add("pw-order-1")
    env.vs.fault(path_prefix="/v1/pki_int/issue/", delay_ms=400, count=-1)
    top = """
        templates:
          - destination: %s/app.conf
            contents: 'password={{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}'
        """ % d
    r, _ = run_once(env, cert_config(env, rid, sid, one_cert(d)) + textwrap.dedent(top))
    assert r.returncode == 0, r.stderr
    # The template was rendered before the certificate was written.
    log = r.stderr
    assert log.index("rendered %s/app.conf" % d) < log.index("web: wrote 2 files"), log
    assert (d / "app.conf").read_text() == "password=pw-order-1"
    assert "run --once: done" in log
    assert log.rstrip().endswith("stopped"), log


def test_once_runs_the_hooks_of_what_it_wrote_then_exits(env, pki):
    """--once runs each hook of what changed, once and without its quiet
    period, before it exits; a signal hook with no pid file yet (the
    service is not up, as in an init container) has nothing to signal.
    A second run with the files in place changes nothing and runs none."""
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    marker = env.tmp / "hook.out"
    top = """
        hooks:
          mark:
            command: ["sh", "-c", 'printf "%%s|" "$$CERTAGENT_CHANGED_FILES" >> %(m)s']
          svc: {signal: SIGHUP, pid_file: %(d)s/not-yet.pid}
        """ % {"m": marker, "d": d}
    certs = one_cert(d, extra="on_change: [mark, svc]\n          wait: {min: 30s, max: 60s}")
    cfg = cert_config(env, rid, sid, certs) + textwrap.dedent(top)
    r, took = run_once(env, cfg)
    assert r.returncode == 0, r.stderr
    assert took < 20, "the 30 s quiet period was waited for: %.1fs" % took
    runs = marker.read_text().split("|")[:-1]
    assert len(runs) == 1, runs
    assert sorted(runs[0].splitlines()) == sorted([str(d / "web.crt"), str(d / "web.key")])
    assert "svc: %s does not exist: nothing running to signal" % (d / "not-yet.pid") in r.stderr
    r, _ = run_once(env, cfg)
    assert r.returncode == 0, r.stderr
    assert len(marker.read_text().split("|")[:-1]) == 1


def test_once_with_a_failing_issuance_names_the_certificate(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    cfg = env.approle_config(rid, sid, retry="{min_backoff: 100ms, max_backoff: 200ms, num_retries: 2}",
                             auth="remove_secret_id_file_after_reading: false")
    bad = one_cert(d, "bad").replace("bad.example.test", "bad.elsewhere.test")
    cfg += "certificates:\n" + "\n".join("  " + l for l in bad.strip("\n").splitlines()) + "\n"
    r, _ = run_once(env, cfg)
    assert r.returncode == 1, r.stderr
    assert re.search(r"bad: .*giving up after 3 attempts", r.stderr), r.stderr
    assert "1 of 1 certificate not in place" in r.stderr


def test_lease_is_renewed_in_place_then_replaced_at_its_max_ttl(env, pki):
    """Database credentials: sys/leases/renew extends the lease (the file
    stays as it is); at the max TTL new credentials are read, rendered
    and the hook runs."""
    rid, sid = pki
    env.vs.db_role("app", default_ttl="6s", max_ttl="20s")
    env.vs.policy("db", """
        path "database/creds/app" { capabilities = ["read"] }
        path "sys/leases/renew" { capabilities = ["update"] }
    """)
    rid, sid = env.approle_files(role="dbapp", token_policies=["default", "db"])
    out = env.tmp / "db.conf"
    marker = env.tmp / "hook.out"
    top = """
        templates:
          - destination: %s
            contents: '{{ with secret "database/creds/app" }}{{ .Data.username }}{{ end }}'
            on_change: [note]
            wait: {min: 100ms, max: 1s}
        hooks:
          note: {command: ["/bin/sh", "-c", "echo ran >> %s"]}
        """ % (out, marker)
    a = env.agent(env.approle_config(rid, sid, top=top)).start()
    a.wait_for(r"rendered %s" % re.escape(str(out)))
    user1 = out.read_text()
    st1 = out.stat()
    # 80% of 6 s: renewals at about 4.3-4.8 s; three of them before 20 s.
    deadline = time.time() + 12
    while time.time() < deadline:
        renews = [r for r in env.vs.requests()
                  if r["path"] == "/v1/sys/leases/renew" and r["status"] == 200]
        if len(renews) >= 2:
            break
        time.sleep(0.2)
    assert len(renews) >= 2
    assert out.read_text() == user1 and out.stat().st_ino == st1.st_ino
    a.wait_for(r"rendered %s" % re.escape(str(out)), count=2, timeout=30)
    assert out.read_text() != user1
    reads = [r for r in env.vs.requests()
             if r["path"] == "/v1/database/creds/app" and r["status"] == 200]
    assert len(reads) == 2
    deadline = time.time() + 5
    while (not marker.exists() or marker.read_text().count("ran") < 2) and \
            time.time() < deadline:
        time.sleep(0.1)
    assert marker.read_text().count("ran") == 2
    assert a.stop() == 0


def test_rotate_window_moves_the_renewal_into_the_window(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    # A long-lived certificate due at 0.5 of 24 h: the next Sunday
    # 03:00-04:00 UTC window is within the 10% margin only if it comes
    # before NotAfter - 2.4 h; otherwise the due time stays.
    certs = one_cert(d, "win", "24h", 'renew_at: 0.5\n          jitter: 0\n'
                     '          rotate_window: "daily 03:00-04:00 UTC"')
    a = env.agent(cert_config(env, rid, sid, certs)).start()
    a.wait_for(r"win: issued serial")
    nb, na = cert_dates(d / "win.crt")
    at = renewals(a)["win"]
    due = nb + (na - nb) / 2
    tm = time.gmtime(at)
    if abs(at - due) > 1:
        assert tm.tm_hour == 3 and tm.tm_min == 0, time.strftime("%c", tm)
        assert due <= at <= na - (na - nb) / 10
    else:   # the window comes too late: renewal stays at its due time
        assert not (3 <= time.gmtime(due).tm_hour < 4)
    assert a.stop() == 0


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(port, path):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_status(port, path, want, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, body = http_get(port, path)
        if st == want:
            return body
        time.sleep(0.1)
    raise AssertionError("%s stayed %d: %s" % (path, st, body))


def test_readiness_follows_expiry_through_an_outage(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    port = free_port()
    top = "listener: {address: \"127.0.0.1:%d\"}\n" % port
    certs = one_cert(d, "brief", "5s", "renew_at: 0.9\n          jitter: 0.01")
    a = env.agent(cert_config(env, rid, sid, certs) + top).start()
    a.wait_for(r"serving /healthz")
    a.wait_for(r"brief: issued serial")
    assert wait_status(port, "/readyz", 200) == "ready\n"
    assert http_get(port, "/healthz") == (200, "ok\n")
    drop_everything(env.vs)
    a.wait_for(r"brief: EXPIRED", timeout=60)
    body = wait_status(port, "/readyz", 503)
    assert "1 of 1 certificates expired" in body
    st, m = http_get(port, "/metrics")
    assert st == 200
    assert "certagent_ready 0\n" in m
    assert 'certagent_certificates{state="expired"} 1\n' in m
    env.vs.clear_faults()
    a.wait_for(r"brief: issued serial", count=2, timeout=30)
    wait_status(port, "/readyz", 200)
    assert a.stop() == 0


def test_metrics_name_each_certificate_and_its_schedule(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    port = free_port()
    top = "listener: {address: \"127.0.0.1:%d\"}\n" % port
    a = env.agent(cert_config(env, rid, sid, one_cert(d, "web")) + top).start()
    a.wait_for(r"web: issued serial")
    wait_status(port, "/readyz", 200)
    st, m = http_get(port, "/metrics")
    nb, na = cert_dates(d / "web.crt")
    assert 'certagent_certificate_not_after_seconds{name="web"} %d\n' % na in m
    at = renewals(a)["web"]
    assert 'certagent_certificate_renew_at_seconds{name="web"} %d\n' % at in m
    assert "certagent_issuances_total 1\n" in m
    assert http_get(port, "/nope")[0] == 404
    assert a.stop() == 0


def test_certagent_rotate_renews_the_named_certificate_only(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    sock = env.tmp / "ctl.sock"
    top = "listener: {control_socket: %s}\n" % sock
    a = env.agent(cert_config(env, rid, sid, one_cert(d, "a") + one_cert(d, "b")) + top).start()
    a.wait_for(r"a: issued serial")
    a.wait_for(r"b: issued serial")
    assert oct(sock.stat().st_mode & 0o777) == "0o600"
    sa, sb = serial_of(d / "a.crt"), serial_of(d / "b.crt")
    r = subprocess.run([BIN, "rotate", "a", "-c", str(a.config)], capture_output=True,
                       text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "renewing 1 certificate\n"
    a.wait_for(r"a: issued serial", count=2)
    assert serial_of(d / "a.crt") != sa
    assert serial_of(d / "b.crt") == sb
    r = subprocess.run([BIN, "rotate", "nosuch", "-c", str(a.config)],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 1
    assert "no certificate named nosuch" in r.stderr
    assert a.stop() == 0
    assert not sock.exists()
    r = subprocess.run([BIN, "rotate", "-c", str(a.config)], capture_output=True,
                       text=True, timeout=15)
    assert r.returncode == 1
    assert "is the agent running?" in r.stderr


def test_sigusr1_renews_template_certificates_too(env, pki):
    rid, sid = pki
    dest = env.tmp / "tpl.pem"
    top = """
        templates:
          - destination: %s
            mode: "0600"
            contents: |
              {{- with secret "pki_int/issue/web" "common_name=t.example.test" "ttl=1h" -}}
              {{ .Data.certificate }}
              {{ .Data.private_key }}
              {{- end }}
        """ % dest
    a = env.agent(env.approle_config(rid, sid, top=top)).start()
    a.wait_for(r"rendered %s" % re.escape(str(dest)))
    first = serial_of(dest)
    a.send(signal.SIGUSR1)
    a.wait_for(r"certs: tpl.pem: rotation requested; renewing now")
    a.wait_for(r"rendered %s" % re.escape(str(dest)), count=2)
    assert serial_of(dest) != first
    assert len(issue_requests(env.vs)) == 2
    assert a.stop() == 0
