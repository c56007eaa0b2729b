"""The template corpus: real-world Vault Agent templates render unchanged.

test/templates/corpus/ holds templates collected from public repositories
(SOURCES.md), the Vault data they read (data.json) and what Go's
text/template with consul-template's functions makes of them
(expected/, produced by tools/tmplref).  One vaultsim is loaded with
data.json and one real certagent renders every template with `run --once`;
each template is then its own test case:

- kv and other deterministic data: the output equals expected/ byte for
  byte (files written by writeToFile too);
- PKI (pkiCert, `secret` on pki/issue, pki/cert/*): a real issuance differs
  every time, so every PEM block is replaced by its label and its order of
  first appearance before comparing, and each certificate must parse;
- bad/: the agent names file:line:col and the cause, at the line Go's
  parser names (expected/bad/*.goerr).

PENDING lists the cases that need an engine feature still being built;
they are marked xfail(strict=True) so they turn into failures the day the
feature lands, and the list is emptied then.
"""

import json
import os
import pathlib
import re
import subprocess
import textwrap

import pytest

from conftest import BIN, ROOT
from harness import Vaultsim

CORPUS = ROOT / "test" / "templates" / "corpus"
EXPECTED = CORPUS / "expected"
TEMPLATES = sorted(p.name for p in CORPUS.glob("*.tmpl"))
BAD = sorted(p.name for p in (CORPUS / "bad").glob("*.tmpl"))
PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\n[A-Za-z0-9+/=\n]*?-----END \1-----")
# Templates whose output holds PKI material: compared by structure.
PKI_CALL = re.compile(r'pkiCert|secret\s+"pki[^"/]*/(issue|cert)/')


def pending():
    """{template name: missing feature} from PENDING (# comments allowed)."""
    out = {}
    path = CORPUS / "PENDING"
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, why = line.partition(" ")
                out[name] = why.strip() or "pending engine feature"
    return out


PENDING = pending()


def cases(names):
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=PENDING[n]))
            if n in PENDING else n for n in names]


def load(vs, data):
    """data.json into vaultsim through Vault's own API: (re)mounts, kv
    versions (v1 written as is, v2 under data/), pki roles."""
    for mount, mtype in data["mounts"].items():
        st, body = vs.api("GET", "sys/mounts/%s" % mount)
        if st == 200:
            st, body = vs.api("DELETE", "sys/mounts/%s" % mount)
            assert st in (200, 204), body
        st, body = vs.api("POST", "sys/mounts/%s" % mount, json={"type": mtype})
        assert st in (200, 204), body
    st, mounts = vs.api("GET", "sys/mounts")
    assert st == 200, mounts
    mounts = mounts.get("data", mounts)
    for path, value in data["kv"].items():
        mount = max((m for m in mounts if path.startswith(m)), key=len)
        rel = path[len(mount):]
        v2 = str((mounts[mount].get("options") or {}).get("version")) == "2"
        for version in value if isinstance(value, list) else [value]:
            if v2:
                st, body = vs.api("POST", "%sdata/%s" % (mount, rel), json={"data": version})
            else:
                st, body = vs.api("POST", path, json=version)
            assert st in (200, 204), (path, body)
    for path, role in data["pki_roles"].items():
        st, body = vs.api("POST", path, json=role)
        assert st in (200, 204), (path, body)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One vaultsim, one `certagent run --once` over the whole corpus and
    the malformed templates; returns (workdir, log text)."""
    tmp = tmp_path_factory.mktemp("corpus")
    data = json.loads((CORPUS / "data.json").read_text())
    with Vaultsim(tmp) as vs:
        load(vs, data)
        vs.policy("corpus", """
            path "*" { capabilities = ["create", "read", "update", "list"] }
        """)
        role_id, secret_id = vs.approle("corpus", token_policies=["default", "corpus"],
                                        token_ttl="5m", token_max_ttl="10m")
        (tmp / "role-id").write_text(role_id + "\n")
        sid = tmp / "secret-id"
        sid.write_text(secret_id + "\n")
        os.chmod(sid, 0o600)
        (tmp / "out").mkdir()
        lines = [
            "vault:",
            "  address: %s" % vs.https_addr,
            "  ca_cert: %s" % vs.tls_ca,
            "  retry: {min_backoff: 100ms, max_backoff: 1s}",
            "auth:",
            "  method: approle",
            "  role_id_file: %s" % (tmp / "role-id"),
            "  secret_id_file: %s" % sid,
            "  remove_secret_id_file_after_reading: false",
            "log: {level: debug}",
            "templates:",
        ]
        for name in TEMPLATES:
            lines += ["  - source: %s" % (CORPUS / name),
                      "    destination: %s" % (tmp / "out" / name.replace(".tmpl", ".out"))]
        for name in BAD:
            lines += ["  - source: %s" % (CORPUS / "bad" / name),
                      "    destination: %s" % (tmp / "out" / ("bad-" + name))]
        cfg = tmp / "agent.yaml"
        cfg.write_text("\n".join(lines) + "\n")
        # writeToFile paths in the corpus are relative: they land in tmp.
        r = subprocess.run([BIN, "run", "-c", str(cfg), "--once"], cwd=tmp,
                           capture_output=True, text=True, timeout=60)
        log = r.stdout + r.stderr
        (tmp / "agent.log").write_text(log)
        tokens = {t["token"] for t in vs.admin("GET", "tokens?all=true")[1]}
    leaked = [s[:6] + "..." for s in tokens | {secret_id} if s and s in log]
    assert not leaked, "secrets in the agent's log: %s" % leaked
    return tmp, log


def normalize_pem(text):
    """Every PEM block replaced by <LABEL #n>, n its order of first
    appearance, so two issuances compare by structure."""
    seen = {}

    def sub(m):
        key = m.group(0)
        if key not in seen:
            seen[key] = len(seen) + 1
        return "<%s #%d>" % (m.group(1), seen[key])
    return PEM_RE.sub(sub, text)


def assert_certificates_parse(text, where):
    from cryptography import x509
    for m in PEM_RE.finditer(text):
        if m.group(1) == "CERTIFICATE":
            x509.load_pem_x509_certificate(m.group(0).encode())
        assert m.group(1) in ("CERTIFICATE", "EC PRIVATE KEY", "RSA PRIVATE KEY",
                              "PRIVATE KEY"), (where, m.group(1))


def compare(name, got, want, where):
    if PKI_CALL.search((CORPUS / name).read_text()):
        assert_certificates_parse(got, where)
        got, want = normalize_pem(got), normalize_pem(want)
    assert got == want, "%s differs from Go's text/template:\n--- got\n%r\n--- want\n%r" % (
        where, got, want)


@pytest.mark.parametrize("name", cases(TEMPLATES))
def test_corpus_template_renders_as_go_text_template_does(rendered, name):
    tmp, log = rendered
    out = tmp / "out" / name.replace(".tmpl", ".out")
    want = (EXPECTED / out.name).read_bytes().decode()
    assert out.exists(), "%s not rendered; agent log:\n%s" % (name, log)
    compare(name, out.read_bytes().decode(), want, out.name)
    # Files the template wrote with writeToFile: written/NN/...
    num = name.split("-", 1)[0]
    exp_files = EXPECTED / "files" / "written" / num
    if exp_files.is_dir():
        for f in sorted(exp_files.iterdir()):
            got = tmp / "written" / num / f.name
            assert got.exists(), "%s: writeToFile did not write %s" % (name, got)
            compare(name, got.read_bytes().decode(), f.read_bytes().decode(),
                    "written/%s/%s" % (num, f.name))


@pytest.mark.parametrize("name", cases(BAD))
def test_corpus_malformed_template_names_file_line_col_and_cause(rendered, name):
    tmp, log = rendered
    src = CORPUS / "bad" / name
    want = (CORPUS / "bad" / name.replace(".tmpl", ".err")).read_text().strip()
    goerr = (EXPECTED / "bad" / name.replace(".tmpl", ".goerr")).read_text()
    go_line = re.search(r":(\d+): ", goerr).group(1)
    assert want.split(":")[0] == go_line, "bad/%s.err line %s, Go says %s" % (
        name, want.split(":")[0], go_line)
    assert "%s:%s" % (src, want) in log, "%s:%s not in the agent's log:\n%s" % (
        src, want, log)
    assert not (tmp / "out" / ("bad-" + name)).exists()
