"""templates, the engine's data side: kv v2 paths as Vault Agent reads them
(with or without data/), secrets listings, writeToFile append/newline, and
a render that fails in --once leaving every file as it was."""

import subprocess
import textwrap

import pytest

from conftest import BIN


POLICY = """
    path "secret/data/*" { capabilities = ["read"] }
    path "secret/metadata/*" { capabilities = ["list"] }
    path "kv/*" { capabilities = ["read"] }
"""


@pytest.fixture
def world(env):
    env.vs.policy("app", POLICY)
    env.vs.kv_put("myapp/config", {"password": "kv2-s3cret-pw", "user": "app"})
    env.vs.kv_put("myapp/other", {"token": "kv2-other-tok"})
    env.vs.kv_put("list/b", {"x": "1"})
    env.vs.kv_put("list/a", {"x": "1"})
    env.vs.kv_put("list/sub/c", {"x": "1"})
    env.vs.kv_put("legacy", {"password": "kv1-s3cret-pw"}, mount="kv", version=1)
    env.secrets.update({"kv2-s3cret-pw", "kv2-other-tok", "kv1-s3cret-pw"})
    return env.approle_files(token_policies=["default", "app"])


def config(env, rid, sid, templates):
    return env.approle_config(rid, sid, auth="remove_secret_id_file_after_reading: false") + \
        "templates:\n" + textwrap.indent(textwrap.dedent(templates).strip("\n"), "  ") + "\n"


def once(env, rid, sid, templates, name="once"):
    cfg = env.tmp / ("%s.yaml" % name)
    cfg.write_text(config(env, rid, sid, templates))
    r = subprocess.run([BIN, "run", "--once", "-c", str(cfg)], capture_output=True,
                       text=True, timeout=60)
    for s in env.secrets:
        assert s not in r.stdout + r.stderr
    return r


def contents(env, name, text):
    src = env.tmp / ("%s.tpl" % name)
    src.write_text(text)
    return "- source: %s\n  destination: %s\n" % (src, env.tmp / name)


def vault_requests(env, prefix):
    return [r for r in env.vs.requests() if r["path"].startswith("/v1/" + prefix)]


def test_kv_v2_paths_with_and_without_data_render_the_same(env, world):
    rid, sid = world
    tpl = ('{{ with secret "%s" }}{{ .Data.data.user }}:{{ .Data.data.password }}'
           '{{ end }}')
    env.vs.clear_requests()
    r = once(env, rid, sid,
             contents(env, "short", tpl % "secret/myapp/config") +
             contents(env, "long", tpl % "secret/data/myapp/config") +
             contents(env, "other", '{{ (secret "secret/myapp/other").Data.data.token }}'))
    assert r.returncode == 0, r.stderr
    assert (env.tmp / "short").read_text() == "app:kv2-s3cret-pw"
    assert (env.tmp / "long").read_text() == "app:kv2-s3cret-pw"
    assert (env.tmp / "other").read_text() == "kv2-other-tok"
    # Vault saw data/ paths only, and one mount question for the mount.
    reads = sorted(r["path"] for r in vault_requests(env, "secret/"))
    assert reads == ["/v1/secret/data/myapp/config", "/v1/secret/data/myapp/config",
                     "/v1/secret/data/myapp/other"]
    assert len(vault_requests(env, "sys/internal/ui/mounts/secret/")) == 1


def test_kv_v1_paths_are_sent_as_written(env, world):
    rid, sid = world
    env.vs.clear_requests()
    r = once(env, rid, sid,
             contents(env, "v1", '{{ (secret "kv/legacy").Data.password }}'))
    assert r.returncode == 0, r.stderr
    assert (env.tmp / "v1").read_text() == "kv1-s3cret-pw"
    assert [r["path"] for r in vault_requests(env, "kv/")] == ["/v1/kv/legacy"]


def test_mounts_endpoint_answers_like_vault(env, world):
    rid, sid = world
    token = env.vs.approle_login(rid.read_text().strip(), sid.read_text().strip())
    token = token["client_token"] if isinstance(token, dict) else token
    st, body = env.vs.api("GET", "sys/internal/ui/mounts/secret/myapp/config", token=token)
    assert st == 200, body
    assert body["data"]["path"] == "secret/"
    assert body["data"]["type"] == "kv"
    assert body["data"]["options"] == {"version": "2"}
    st, body = env.vs.api("GET", "sys/internal/ui/mounts/nomount/x", token=token)
    assert st == 403
    assert body["errors"] == ["preflight capability check returned 403, please ensure "
                              "client's policies grant access to path \"nomount/x/\""]


def test_secrets_lists_kv_v2_keys_sorted_through_metadata(env, world):
    rid, sid = world
    env.vs.clear_requests()
    r = once(env, rid, sid,
             contents(env, "list", '{{ range secrets "secret/list/" }}{{ . }},{{ end }}') +
             contents(env, "none", '[{{ range secrets "secret/nothing/" }}{{ . }}{{ end }}]'))
    assert r.returncode == 0, r.stderr
    assert (env.tmp / "list").read_text() == "a,b,sub/,"
    assert (env.tmp / "none").read_text() == "[]"
    # A LIST as Vault's Go client sends it: GET ?list=true.
    lists = sorted((r["method"], r["path"], r["query"])
                   for r in vault_requests(env, "secret/"))
    assert lists == [("GET", "/v1/secret/metadata/list", "list=true"),
                     ("GET", "/v1/secret/metadata/nothing", "list=true")]


def test_writeToFile_append_and_newline(env, world):
    rid, sid = world
    log = env.tmp / "audit.log"
    log.write_text("first\n")
    tpl = ('{{ with secret "secret/myapp/config" }}'
           '{{ .Data.data.user | writeToFile "%s" "" "" "0640" "append,newline" }}'
           '{{ end }}done' % log)
    for i in range(2):
        r = once(env, rid, sid, contents(env, "out", tpl))
        assert r.returncode == 0, r.stderr
    assert log.read_text() == "first\napp\napp\n"
    assert log.stat().st_mode & 0o777 == 0o640
    assert (env.tmp / "out").read_text() == "done"


def test_once_render_failure_leaves_writeToFile_files_unchanged(env, world):
    rid, sid = world
    side = env.tmp / "side.txt"
    side.write_text("old\n")
    tpl = ('{{ with secret "secret/myapp/config" }}'
           '{{ .Data.data.user | writeToFile "%s" "" "" "0644" }}'
           '{{ writeToFile "%s.new" "" "" "0644" "x" }}'
           '{{ .Data.data.password | base64Decode }}{{ end }}' % (side, side))
    r = once(env, rid, sid, contents(env, "dest", tpl))
    assert r.returncode != 0
    assert "base64Decode: illegal base64 data" in r.stderr
    assert side.read_text() == "old\n"
    assert not (env.tmp / "side.txt.new").exists()
    assert not (env.tmp / "dest").exists()


def test_writeToFile_append_in_the_daemon_appends_once_per_new_result(env, world):
    rid, sid = world
    log = env.tmp / "users.log"
    appender = env.tmp / "appender.tpl"
    appender.write_text('{{ with secret "secret/myapp/config" }}'
                        '{{ .Data.data.user | writeToFile "%s" "" "" "0600" "append,newline" }}'
                        '{{ end }}a' % log)
    other = env.tmp / "other.tpl"
    other.write_text('{{ (secret "secret/myapp/other").Data.data.token }}')
    a = env.agent(env.approle_config(rid, sid,
                                     auth="remove_secret_id_file_after_reading: false",
                                     top="template_config: {static_secret_render_interval: 1s}") +
                  "templates:\n"
                  "  - {source: %s, destination: %s}\n"
                  "  - {source: %s, destination: %s}\n" % (
                      appender, env.tmp / "appender.out", other, env.tmp / "other.out")).start()
    # The two templates render in whichever order their secrets arrive.
    a.wait_for(r"rendered %s" % (env.tmp / "other.out"))
    a.wait_for(r"rendered %s" % (env.tmp / "appender.out"))
    assert log.read_text() == "app\n"
    # Another template's data changes: the batch renders both, and the
    # same line is not appended again.
    env.vs.kv_put("myapp/other", {"token": "kv2-other-tok2"})
    env.secrets.add("kv2-other-tok2")
    a.wait_for(r"rendered %s" % (env.tmp / "other.out"), count=2)
    assert log.read_text() == "app\n"
    # Its own data changes: the new result is appended.
    env.vs.kv_put("myapp/config", {"password": "kv2-s3cret-pw", "user": "app2"})
    a.wait_for(r"wrote %s \(writeToFile\)" % log, count=2)
    assert log.read_text() == "app\napp2\n"
    assert a.stop() == 0
