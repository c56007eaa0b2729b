"""`certagent import vault-agent`: Vault Agent configurations (the ones
from Vault's documentation in test/import/, and one with templates run
against vaultsim) converted into certagent's, which its own loader
accepts and which renders the files the Vault Agent templates name."""

import os
import pathlib
import re
import subprocess
import textwrap

import pytest

from conftest import BIN
from test_certs import issue_requests, pubkey_of_cert, pubkey_of_key

DOCS = pathlib.Path(__file__).resolve().parents[1] / "import"
CONVERTIBLE = ["approle.hcl", "token_file.hcl", "sinks-block.hcl", "sinks-json.hcl",
               "template-config.hcl", "kubernetes.hcl", "cert.hcl"]


def run(*args, timeout=30):
    return subprocess.run([BIN] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout)


def convert(path, *flags):
    p = run("import", "vault-agent", path, *flags)
    assert p.returncode == 0, p.stderr
    return p.stdout, p.stderr


@pytest.mark.parametrize("name", CONVERTIBLE)
def test_docs_config_converts_to_one_certagent_check_accepts(tmp_path, name):
    yaml, report = convert(DOCS / name)
    out = tmp_path / "certagent.yaml"
    out.write_text(yaml)
    p = run("check", "-c", out)
    assert p.returncode == 0, "%s\n---\n%s%s" % (yaml, p.stdout, p.stderr)
    # Every report line names the Vault Agent file and a position in it.
    for line in report.splitlines()[:-1]:
        assert re.match(r"^%s:\d+:\d+: " % re.escape(str(DOCS / name)), line), line


def test_sources_lists_every_docs_config():
    sources = (DOCS / "SOURCES.md").read_text()
    for f in DOCS.glob("*.hcl"):
        assert f.name in sources, f.name


def test_what_has_no_equivalent_is_reported_by_line_not_dropped():
    yaml, report = convert(DOCS / "agent-example-aws.hcl")
    path = str(DOCS / "agent-example-aws.hcl")
    assert "%s:1:1: pid_file:" % path in report
    assert "%s:3:1: log_file:" % path in report
    assert '%s:13:3: auto_auth.method "aws": no equivalent' % path in report
    assert "%s:38:1: cache:" % path in report
    assert "auto_auth.sink: a second file sink" in report
    # What has an equivalent is there all the same.
    assert "num_retries: 5" in yaml
    assert "max_connections_per_host: 20" in yaml
    assert "exit_on_retry_failure: true" in yaml
    assert yaml.count("destination:") == 2
    assert "# auth: not converted" in yaml


def test_unparseable_input_exits_non_zero_with_file_line_col(tmp_path):
    bad = tmp_path / "agent.hcl"
    bad.write_text('vault {\n  address = "https://v:8200"\n\ntemplate {\n')
    p = run("import", "vault-agent", bad)
    assert p.returncode == 1
    assert p.stdout == ""
    assert re.search(r"%s:5:1: expected a key or '\}'" % re.escape(str(bad)), p.stderr), \
        p.stderr
    p = run("import", "vault-agent", tmp_path / "missing.hcl")
    assert p.returncode == 1
    p = run("import", "consul-template", bad)
    assert p.returncode == 2


POLICY = """
    path "secret/data/*" { capabilities = ["read"] }
    path "pki_int/issue/*" { capabilities = ["create", "update"] }
"""


@pytest.fixture
def world(env):
    env.vs.policy("app", POLICY)
    env.vs.pki_role("web", allowed_domains="example.test", allow_subdomains=True,
                    max_ttl="1h", key_type="ec", key_bits=256)
    env.vs.kv_put("app", {"password": "hunter2-s3cret", "user": "app"})
    env.secrets.add("hunter2-s3cret")
    rid, sid = env.approle_files(token_policies=["default", "app"])
    return rid, sid


def agent_hcl(env, rid, sid, out):
    """A Vault Agent config with templates of every kind the tests check."""
    src = env.tmp / "app.ctmpl"
    src.write_text('{{ with secret "secret/data/app" }}user={{ .Data.data.user }}\n'
                   '{{ end }}')
    pki = '"pki_int/issue/web" "common_name=www.example.test" "ttl=10m"'
    return textwrap.dedent("""\
        # a Vault Agent configuration, as an operator would write it
        pid_file = "%(tmp)s/pidfile"
        exit_after_auth = true

        vault {
          address = "%(addr)s"
          ca_cert = "%(ca)s"
        }

        auto_auth {
          method "approle" {
            config = {
              role_id_file_path = "%(rid)s"
              secret_id_file_path = "%(sid)s"
              remove_secret_id_file_after_reading = false
            }
          }
          sink "file" {
            config = { path = "%(out)s/token" }
          }
        }

        template {
          source      = "%(src)s"
          destination = "%(out)s/from-source.txt"
          perms       = "0640"
        }

        template {
          destination = "%(out)s/nested/dir/app.env"
          contents    = <<-EOT
            {{- with secret "secret/data/app" }}
            DB_USER={{ .Data.data.user }}
            DB_PASSWORD={{ .Data.data.password }}
            COST=$5
            {{- end }}
            EOT
        }

        template {
          contents    = "{{ with pkiCert %(pki_q)s }}{{ .Cert }}{{ end }}"
          destination = "%(out)s/tls/web.crt"
        }

        template {
          contents    = "{{ with pkiCert %(pki_q)s }}{{ .Key }}{{ end }}"
          destination = "%(out)s/tls/web.key"
          perms       = 0600
        }
        """) % dict(tmp=env.tmp, addr=env.vs.https_addr, ca=env.vs.tls_ca, rid=rid,
                    sid=sid, out=out, src=src, pki_q=pki.replace('"', '\\"'))


def run_once(env, yaml):
    cfg = env.tmp / "certagent.yaml"
    cfg.write_text(yaml)
    a = env.agent(yaml, name="converted")
    with open(a.log_path, "ab") as log:
        p = subprocess.run([BIN, "run", "--once", "-c", str(a.config)], stdout=log,
                           stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, a


def test_round_trip_renders_the_files_the_vault_agent_templates_name(env, world):
    rid, sid = world
    out = env.tmp / "out"
    hcl = env.tmp / "agent.hcl"
    hcl.write_text(agent_hcl(env, rid, sid, out))
    yaml, report = convert(hcl)
    assert "pid_file:" in report
    assert "exit_after_render: true" in yaml
    out.mkdir()  # the token sink's directory, as Vault Agent needs it too
    rc, a = run_once(env, yaml)
    assert rc == 0, a.log()
    assert (out / "from-source.txt").read_text() == "user=app\n"
    assert os.stat(out / "from-source.txt").st_mode & 0o777 == 0o640
    # <<-EOT loses its indentation; "$5" stays "$5" (certagent's ${} is escaped)
    assert (out / "nested" / "dir" / "app.env").read_text() == \
        "\nDB_USER=app\nDB_PASSWORD=hunter2-s3cret\nCOST=$5\n"
    assert os.stat(out / "tls" / "web.key").st_mode & 0o777 == 0o600
    assert pubkey_of_cert(out / "tls" / "web.crt") == pubkey_of_key(out / "tls" / "web.key")
    assert len(issue_requests(env.vs)) == 1
    assert (out / "token").exists()


def test_round_trip_with_suggest_issues_one_verified_certificate(env, world):
    rid, sid = world
    out = env.tmp / "out"
    hcl = env.tmp / "agent.hcl"
    hcl.write_text(agent_hcl(env, rid, sid, out))
    yaml, report = convert(hcl, "--suggest")
    assert "certificates:" in yaml
    assert "web.crt" not in yaml.split("certificates:")[0]
    assert "written as the cert file of certificates entry 'web.crt'" in report
    (out / "tls").mkdir(parents=True)
    rc, a = run_once(env, yaml)
    assert rc == 0, a.log()
    assert pubkey_of_cert(out / "tls" / "web.crt") == pubkey_of_key(out / "tls" / "web.key")
    assert os.stat(out / "tls" / "web.key").st_mode & 0o777 == 0o600
    assert len(issue_requests(env.vs)) == 1
    assert (out / "from-source.txt").read_text() == "user=app\n"
