"""templates: the options Vault Agent users have (perms, create_dest_dirs,
command, exec, template_config.exit_on_retry_failure and
max_connections_per_host), with Vault Agent's meaning."""

import os
import subprocess

import pytest

from conftest import BIN
from test_templates import POLICY, config


@pytest.fixture
def world(env):
    env.vs.policy("app", POLICY)
    env.vs.kv_put("app", {"password": "hunter2-s3cret", "user": "app"})
    rid, sid = env.approle_files(token_policies=["default", "app"])
    return rid, sid


KV = '{{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ end }}'


def run_once(env, text, timeout=40):
    a = env.agent(text)
    a._logf = open(a.log_path, "ab")
    p = subprocess.run([BIN, "run", "--once", "-c", str(a.config)],
                       stdout=a._logf, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    a._logf.close()
    return p.returncode, a


def check(env, text):
    path = env.tmp / "check.yaml"
    path.write_text(text)
    return subprocess.run([BIN, "check", "-c", str(path)], capture_output=True,
                          text=True, timeout=20)


def test_perms_sets_the_destination_mode_as_mode_does(env, world):
    rid, sid = world
    dest = env.tmp / "app.txt"
    rc, a = run_once(env, config(env, rid, sid, """
        - contents: '%s'
          destination: %s
          perms: "0600"
        """ % (KV, dest)))
    assert rc == 0, a.log()
    assert dest.read_text() == "app"
    assert os.stat(dest).st_mode & 0o777 == 0o600


def test_perms_and_mode_together_are_refused(env, world):
    rid, sid = world
    p = check(env, config(env, rid, sid, """
        - contents: '%s'
          destination: /tmp/x.txt
          mode: "0640"
          perms: "0600"
        """ % KV))
    assert p.returncode != 0
    assert "templates[0].perms" in p.stderr + p.stdout
    assert "another name for mode" in p.stderr + p.stdout


def test_create_dest_dirs_makes_missing_directories_by_default(env, world):
    rid, sid = world
    dest = env.tmp / "a" / "b" / "c" / "app.txt"
    rc, a = run_once(env, config(env, rid, sid, """
        - contents: '%s'
          destination: %s
        """ % (KV, dest)))
    assert rc == 0, a.log()
    assert dest.read_text() == "app"
    assert os.stat(dest.parent).st_mode & 0o777 == 0o755 & ~current_umask()


def current_umask():
    old = os.umask(0)
    os.umask(old)
    return old


def test_create_dest_dirs_false_leaves_a_missing_directory_an_error(env, world):
    rid, sid = world
    dest = env.tmp / "missing" / "app.txt"
    rc, a = run_once(env, config(env, rid, sid, """
        - contents: '%s'
          destination: %s
          create_dest_dirs: false
        """ % (KV, dest)))
    assert rc != 0
    assert not dest.parent.exists()
    assert "app.txt" in a.log()


def test_command_string_runs_through_a_shell_after_the_file_changed(env, world):
    rid, sid = world
    dest = env.tmp / "app.txt"
    marker = env.tmp / "marker"
    # A pipe and a redirection: shell syntax, as Vault Agent's command.
    rc, a = run_once(env, config(env, rid, sid, """
        - contents: '%s'
          destination: %s
          command: "cat %s | tr a-z A-Z > %s"
        """ % (KV, dest, dest, marker)))
    assert rc == 0, a.log()
    assert marker.read_text() == "APP"
    assert "templates[0].command" in a.log()


def test_exec_command_list_runs_without_a_shell(env, world):
    rid, sid = world
    dest = env.tmp / "app.txt"
    # Under a shell this name would be two commands and a glob.
    odd = env.tmp / "a b;touch pwned*"
    rc, a = run_once(env, config(env, rid, sid, """
        - contents: '%s'
          destination: %s
          exec:
            command: ["/usr/bin/touch", "%s"]
            timeout: 5s
        """ % (KV, dest, odd)))
    assert rc == 0, a.log()
    assert odd.exists()
    assert not (env.tmp / "pwned*").exists()
    assert not list(env.tmp.glob("pwned*"))


def test_exec_timeout_kills_a_command_that_runs_too_long(env, world):
    rid, sid = world
    dest = env.tmp / "app.txt"
    rc, a = run_once(env, config(env, rid, sid, """
        - contents: '%s'
          destination: %s
          exec: {command: ["/bin/sleep", "30"], timeout: 300ms}
        """ % (KV, dest)))
    assert dest.read_text() == "app"
    assert "templates[0].exec" in a.log()
    assert "timeout" in a.log().lower() or "timed out" in a.log().lower()


def test_exec_command_as_a_string_is_refused(env, world):
    rid, sid = world
    p = check(env, config(env, rid, sid, """
        - contents: '%s'
          destination: /tmp/x.txt
          exec: {command: "touch /tmp/x"}
        """ % KV))
    assert p.returncode != 0
    assert "templates[0].exec.command" in p.stderr + p.stdout


def test_command_and_exec_together_are_refused(env, world):
    rid, sid = world
    p = check(env, config(env, rid, sid, """
        - contents: '%s'
          destination: /tmp/x.txt
          command: "true"
          exec: {command: ["/bin/true"]}
        """ % KV))
    assert p.returncode != 0
    assert "not both" in p.stderr + p.stdout


def test_exit_on_retry_failure_exits_after_the_retries(env, world):
    rid, sid = world
    dest = env.tmp / "never.txt"
    a = env.agent(config(env, rid, sid, """
        - contents: '{{ with secret "secret/data/missing" }}{{ .Data.data.x }}{{ end }}'
          destination: %s
        """ % dest, top="template_config: {exit_on_retry_failure: true}")
        .replace("retry: {min_backoff: 100ms, max_backoff: 1s}",
                 "retry: {min_backoff: 50ms, max_backoff: 100ms, num_retries: 2}"))
    a.start()
    a.proc.wait(30)
    assert a.proc.returncode == 1, a.log()
    assert "exit_on_retry_failure" in a.log()
    assert a.count(r"secret/data/missing: ") >= 3
    assert not dest.exists()


def test_without_exit_on_retry_failure_the_agent_keeps_retrying(env, world):
    rid, sid = world
    a = env.agent(config(env, rid, sid, """
        - contents: '{{ with secret "secret/data/missing" }}{{ .Data.data.x }}{{ end }}'
          destination: %s
        """ % (env.tmp / "never.txt"))
        .replace("retry: {min_backoff: 100ms, max_backoff: 1s}",
                 "retry: {min_backoff: 50ms, max_backoff: 100ms, num_retries: 2}"))
    a.start()
    a.wait_for(r"secret/data/missing: ", count=6)
    assert a.proc.poll() is None
    assert a.stop() == 0


def test_max_connections_per_host_is_a_bounded_number(env, world):
    rid, sid = world
    ok = check(env, config(env, rid, sid, """
        - contents: '%s'
          destination: /tmp/x.txt
        """ % KV, top="template_config: {max_connections_per_host: 2}"))
    assert ok.returncode == 0, ok.stderr
    bad = check(env, config(env, rid, sid, """
        - contents: '%s'
          destination: /tmp/x.txt
        """ % KV, top="template_config: {max_connections_per_host: -1}"))
    assert bad.returncode != 0
    assert "max_connections_per_host" in bad.stderr + bad.stdout


def test_max_connections_per_host_one_still_renders_every_template(env, world):
    rid, sid = world
    dests = [env.tmp / ("f%d.txt" % i) for i in range(6)]
    for i in range(6):
        env.vs.kv_put("app%d" % i, {"user": "app"})
    tpls = "\n".join("""
        - contents: '{{ with secret "secret/data/app%d" }}{{ .Data.data.user }}{{ end }}'
          destination: %s""" % (i, d) for i, d in enumerate(dests))
    rc, a = run_once(env, config(env, rid, sid, tpls,
                                 top="template_config: {max_connections_per_host: 1}"))
    assert rc == 0, a.log()
    assert all(d.read_text() == "app" for d in dests)
