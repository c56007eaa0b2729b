"""templates: consul-template syntax rendered from Vault data."""

import os
import signal
import subprocess
import textwrap
import time

import pytest

from test_certs import openssl, pubkey_of_cert, pubkey_of_key, issue_requests


POLICY = """
    path "secret/data/*" { capabilities = ["read"] }
    path "kv/*" { capabilities = ["read"] }
    path "database/creds/*" { capabilities = ["read"] }
    path "pki_int/issue/*" { capabilities = ["create", "update"] }
"""


@pytest.fixture
def world(env):
    env.vs.policy("app", POLICY)
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    env.vs.kv_put("app", {"password": "hunter2-s3cret", "user": "app"})
    rid, sid = env.approle_files(token_policies=["default", "app"])
    return rid, sid


def config(env, rid, sid, templates, top=""):
    return env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false",
                              top=top) + \
        "templates:\n" + textwrap.indent(textwrap.dedent(templates).strip("\n"), "  ") + "\n"


def write(path, text):
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_kv_v2_secret_renders_to_an_env_file(env, world):
    rid, sid = world
    env.secrets.add("hunter2-s3cret")
    src = write(env.tmp / "app.env.tpl", """
        {{- with secret "secret/data/app" }}
        DB_USER={{ .Data.data.user }}
        DB_PASSWORD={{ .Data.data.password }}
        {{- end }}
        """)
    dest = env.tmp / "out" / "app.env"
    dest.parent.mkdir()
    a = env.agent(config(env, rid, sid, """
        - source: %s
          destination: %s
          mode: "0640"
        """ % (src, dest))).start()
    a.wait_for(r"rendered %s" % dest)
    assert dest.read_text() == "\nDB_USER=app\nDB_PASSWORD=hunter2-s3cret\n"
    assert os.stat(dest).st_mode & 0o777 == 0o640
    assert a.stop() == 0


def test_split_cert_and_key_templates_share_one_issuance(env, world):
    rid, sid = world
    call = '"pki_int/issue/web" "common_name=www.example.test" "ttl=10m"'
    call2 = '"pki_int/issue/web" "ttl=10m" "common_name=www.example.test"'
    d = env.tmp / "tls"
    d.mkdir()
    a = env.agent(config(env, rid, sid, """
        - contents: '{{ with secret %s }}{{ .Data.certificate }}{{ end }}'
          destination: %s/web.crt
        - contents: '{{ with secret %s }}{{ .Data.private_key }}{{ end }}'
          destination: %s/web.key
          mode: "0600"
        """ % (call, d, call2, d))).start()
    a.wait_for(r"rendered %s/web.crt" % d)
    a.wait_for(r"rendered %s/web.key" % d)
    assert pubkey_of_cert(d / "web.crt") == pubkey_of_key(d / "web.key")
    assert len(issue_requests(env.vs)) == 1
    assert a.stop() == 0


def test_unchanged_data_leaves_files_untouched_and_changed_data_rewrites(env, world):
    rid, sid = world
    dest = env.tmp / "user.txt"
    a = env.agent(config(env, rid, sid, """
        - contents: '{{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ end }}'
          destination: %s
        """ % dest, top="template_config: {static_secret_render_interval: 1s}")).start()
    a.wait_for(r"rendered %s" % dest)
    st = os.stat(dest)
    a.wait_for(r"secret/data/app: unchanged", count=2, timeout=10)
    st2 = os.stat(dest)
    assert (st.st_ino, st.st_mtime_ns) == (st2.st_ino, st2.st_mtime_ns)
    env.vs.kv_put("app", {"password": "hunter2-s3cret", "user": "app2"})
    a.wait_for(r"rendered %s" % dest, count=2, timeout=10)
    assert dest.read_text() == "app2"
    assert a.stop() == 0


def test_a_broken_template_fails_alone_naming_line_and_column(env, world):
    rid, sid = world
    good = env.tmp / "good.txt"
    bad_src = write(env.tmp / "bad.tpl", """
        line one
        {{ if }}
        """)
    a = env.agent(config(env, rid, sid, """
        - source: %s
          destination: %s/bad.txt
        - contents: '{{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ end }}'
          destination: %s
        """ % (bad_src, env.tmp, good))).start()
    a.wait_for(r"rendered %s" % good)
    a.wait_for(r"%s:2:\d+: .*; %s/bad.txt kept as it was" % (bad_src, env.tmp))
    assert not (env.tmp / "bad.txt").exists()
    assert a.stop() == 0


def test_a_missing_key_with_error_on_missing_key_keeps_the_old_file(env, world):
    rid, sid = world
    dest = env.tmp / "strict.txt"
    dest.write_text("old\n")
    a = env.agent(config(env, rid, sid, """
        - contents: '{{ with secret "secret/data/app" }}{{ .Data.data.nope }}{{ end }}'
          destination: %s
          error_on_missing_key: true
        """ % dest)).start()
    a.wait_for(r'map has no entry for key "nope".*kept as it was')
    assert dest.read_text() == "old\n"
    assert a.stop() == 0


def test_pkicert_output_is_kept_across_a_restart(env, world):
    rid, sid = world
    dest = env.tmp / "bundle.pem"
    tpls = """
        - contents: |
            {{- with pkiCert "pki_int/issue/web" "common_name=svc.example.test" "ttl=20m" -}}
            {{ .Data.Cert }}{{ .Data.CA }}{{ .Data.Key }}
            {{- end }}
          destination: %s
          mode: "0600"
        """ % dest
    a = env.agent(config(env, rid, sid, tpls)).start()
    a.wait_for(r"rendered %s" % dest)
    assert a.stop() == 0
    assert pubkey_of_cert(dest) == pubkey_of_key(dest)
    st = os.stat(dest)
    b = env.agent(config(env, rid, sid, tpls), name="second").start()
    b.wait_for(r"certs: bundle.pem: kept the certificate on disk, serial")
    b.wait_for(r"%s unchanged" % dest)
    assert b.stop() == 0
    assert len(issue_requests(env.vs)) == 1
    assert os.stat(dest).st_ino == st.st_ino


def test_database_credentials_render_from_a_lease(env, world):
    rid, sid = world
    env.vs.db_role("app", default_ttl="1h", max_ttl="2h")
    dest = env.tmp / "db.properties"
    a = env.agent(config(env, rid, sid, """
        - contents: |
            {{ with secret "database/creds/app" -}}
            jdbc.user={{ .Data.username }}
            jdbc.password={{ .Data.password }}
            lease={{ .LeaseDuration }}
            {{ end }}
          destination: %s
          mode: "0600"
        """ % dest)).start()
    a.wait_for(r"rendered %s" % dest)
    text = dest.read_text()
    assert "jdbc.user=" in text and "lease=3600" in text
    for line in text.splitlines():
        if line.startswith("jdbc.password="):
            env.secrets.add(line.split("=", 1)[1])
    assert a.stop() == 0


def test_sighup_rerenders_without_calling_vault_again(env, world):
    rid, sid = world
    dest = env.tmp / "u.txt"
    a = env.agent(config(env, rid, sid, """
        - contents: '{{ with secret "pki_int/issue/web" "common_name=h.example.test" }}{{ .Data.serial_number }}{{ end }}'
          destination: %s
        """ % dest)).start()
    a.wait_for(r"rendered %s" % dest)
    a.send(signal.SIGHUP)
    a.wait_for(r"configuration reloaded")
    a.wait_for(r"%s unchanged" % dest)
    assert len(issue_requests(env.vs)) == 1
    assert a.stop() == 0


def test_template_command_renders_offline_from_a_data_file(tmp_path):
    from conftest import BIN
    tpl = write(tmp_path / "t.tpl", """
        {{- with secret "secret/data/app" }}user={{ .Data.data.user }}{{ end }}
        """)
    data = tmp_path / "data.json"
    data.write_text('{"secret/data/app": {"data": {"data": {"user": "bob"}}}}')
    r = subprocess.run([BIN, "template", str(tpl), "--data", str(data)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "user=bob\n"
    bad = write(tmp_path / "bad.tpl", "ok\n{{ range }}\n")
    r = subprocess.run([BIN, "template", str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "%s:2:" % bad in r.stderr


def test_render_dry_run_prints_every_template_and_writes_nothing(env, world):
    from conftest import BIN
    rid, sid = world
    dest = env.tmp / "never-written.txt"
    a = env.agent(config(env, rid, sid, """
        - contents: '{{ with secret "secret/data/app" }}user={{ .Data.data.user }}{{ end }}'
          destination: %s
        """ % dest))
    r = subprocess.run([BIN, "render", "-c", str(a.config), "--dry-run"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "==> %s (8 bytes, mode 0644)\nuser=app\n" % dest in r.stdout
    assert not dest.exists()
