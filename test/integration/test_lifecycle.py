"""Command line, signals, reload."""

import signal
import subprocess
import time

from conftest import BIN


def run_check(path):
    return subprocess.run([BIN, "check", "-c", str(path)], capture_output=True, text=True,
                          timeout=30)


def test_check_accepts_a_valid_file_without_contacting_vault(env):
    rid, sid = env.approle_files()
    a = env.agent(env.approle_config(rid, sid))
    env.vs.clear_requests()
    r = run_check(a.config)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout
    assert env.vs.requests() == []
    assert sid.exists()


def test_check_lists_every_error_with_file_line_col(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("vault:\n"
                 "  adress: https://x\n"
                 "  timeout: soon\n"
                 "auth:\n"
                 "  method: approle\n"
                 "  role_id_file: /r\n"
                 "log: {level: loud}\n")
    r = run_check(p)
    assert r.returncode == 2
    err = r.stderr
    assert "%s:2:3: vault.adress: unknown key; did you mean 'address'?" % p in err
    assert "%s:3:12: vault.timeout:" % p in err
    assert "%s:7:14: log.level:" % p in err
    assert "auth.secret_id_file: required" in err


def test_run_with_an_invalid_file_exits_2_naming_the_cause(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("vault: [unclosed\n")
    r = subprocess.run([BIN, "run", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "%s:" % p in r.stderr


# The input that crashed check, run and a reload (exit 139): a files: map
# with a key given twice, so a later check met an entry with no name.
DUPLICATE_FILES = """\
certificates:
- files:
    bundle:
    bundle:
"""


def test_check_and_run_refuse_a_duplicate_files_key_with_exit_2(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text("vault: {address: 'https://127.0.0.1:8200'}\n"
                 "auth: {method: token, token_file: /run/t}\n" + DUPLICATE_FILES)
    for cmd in (["check"], ["run"], ["run", "--once"]):
        r = subprocess.run([BIN] + cmd + ["-c", str(p)], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 2, (cmd, r.returncode, r.stderr)
        assert "%s:6:5: certificates[0].files.bundle: duplicate name (first at line 5)" \
            % p in r.stderr, r.stderr
        assert "%s:5:12: certificates[0].files.bundle: expected a mapping, found null" \
            % p in r.stderr, r.stderr


def test_sighup_with_a_duplicate_files_key_keeps_the_running_config(env):
    rid, sid = env.approle_files(token_ttl="3s", token_max_ttl="1h")
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"token valid for")
    good = a.config.read_text()
    a.config.write_text(good + DUPLICATE_FILES)
    a.send(signal.SIGHUP)
    a.wait_for(r"reload failed; keeping the running configuration")
    a.wait_for(r"%s:\d+:5: certificates\[0\]\.files\.bundle: duplicate name" % a.config)
    a.wait_for(r"token renewed", timeout=15)
    assert a.proc.poll() is None
    assert a.stop() == 0


def test_sigterm_during_a_request_in_flight_exits_cleanly(env):
    rid, sid = env.approle_files()
    env.vs.fault(delay_ms=30000, count=1, path_prefix="/v1/auth/approle/login")
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"certagent .* starting")
    time.sleep(1.0)   # the login is now held by vaultsim for 30 s
    assert a.stop(signal.SIGTERM, timeout=10) == 0
    assert "SIGTERM: stopping" in a.log()
    assert a.log().rstrip().endswith("stopped")


def test_sigint_stops_cleanly(env):
    rid, sid = env.approle_files()
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"token valid for")
    assert a.stop(signal.SIGINT) == 0
    assert "SIGINT: stopping" in a.log()


def test_sighup_with_an_invalid_file_keeps_the_running_config(env):
    rid, sid = env.approle_files(token_ttl="3s", token_max_ttl="1h")
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"token valid for")
    good = a.config.read_text()
    a.config.write_text(good.replace("method: approle", "method: magic"))
    a.send(signal.SIGHUP)
    a.wait_for(r"reload failed; keeping the running configuration")
    a.wait_for(r"%s:\d+:\d+: auth.method:" % a.config)
    # Still working on the old configuration.
    a.wait_for(r"token renewed", timeout=15)
    assert a.proc.poll() is None
    assert a.stop() == 0


def test_sighup_with_unchanged_auth_does_not_log_in_again(env):
    rid, sid = env.approle_files()
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"token valid for")
    a.config.write_text(a.config.read_text().replace("level: debug", "level: info"))
    a.send(signal.SIGHUP)
    a.wait_for(r"configuration reloaded")
    time.sleep(0.5)
    logins = [r for r in env.vs.requests() if r["path"] == "/v1/auth/approle/login"]
    assert len(logins) == 1
    assert a.stop() == 0


def test_sighup_with_changed_auth_logs_in_again_keeping_the_old_token_meanwhile(env):
    rid, sid = env.approle_files()
    rid2, sid2 = env.approle_files(role="other")
    a = env.agent(env.approle_config(rid, sid)).start()
    a.wait_for(r"token valid for")
    a.config.write_text(a.config.read_text().replace(str(rid), str(rid2))
                        .replace(str(sid), str(sid2)))
    a.send(signal.SIGHUP)
    a.wait_for(r"auth settings changed; logging in again")
    a.wait_for(r"logged in with approle", count=2)
    assert "dropping the Vault token" not in a.log()
    assert a.stop() == 0


def test_tls_skip_verify_warns_on_every_start(env):
    rid, sid = env.approle_files()
    cfg = env.approle_config(rid, sid, vault="tls_skip_verify: true").replace(
        "ca_cert: %s" % env.vs.tls_ca, "ca_cert: /nonexistent/ca.pem")
    a = env.agent(cfg).start()
    a.wait_for(r"TLS verification of the Vault server is OFF")
    a.wait_for(r"logged in with approle")
    assert a.stop() == 0
