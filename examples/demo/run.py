#!/usr/bin/python3
"""make demo: a local Vault API server (vaultsim) and certagent, narrated.

Starts vaultsim on 127.0.0.1 with an AppRole whose tokens live 15 s and at
most 40 s, starts certagent with examples/demo/agent.yaml, and lets you
watch it log in, renew, log in again when the max TTL caps a renewal, and
recover when the demo revokes its token.  Ctrl-C stops both.

--seconds N stops by itself after N seconds (used by the test suite).
"""

import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test" / "vaultsim"))
from harness import Vaultsim  # noqa: E402


def say(msg):
    print("\033[1;36mdemo:\033[0m %s" % msg if sys.stdout.isatty() else "demo: %s" % msg,
          flush=True)


def watch_cert(tls, stop):
    """Show the certificate files each time the agent replaces them."""
    seen = None
    while not stop.wait(0.5):
        crt = tls / "web.crt"
        try:
            st = crt.stat()
        except FileNotFoundError:
            continue
        if (st.st_ino, st.st_mtime_ns) == seen:
            continue
        seen = (st.st_ino, st.st_mtime_ns)
        out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-enddate", "-in",
                              str(crt)], capture_output=True, text=True).stdout.split()
        files = ", ".join("%s (%o)" % (p.name, p.stat().st_mode & 0o777)
                          for p in sorted(tls.iterdir()))
        say("certificate on disk: %s %s" % (" ".join(out), files))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=0, help="stop after N seconds")
    ap.add_argument("--binary", default=os.environ.get("CERTAGENT_BIN", str(ROOT / "certagent")))
    args = ap.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="certagent-demo-"))
    with Vaultsim(work) as vs:
        say("vaultsim (a Vault API server for tests) listens on %s" % vs.https_addr)
        vs.pki_role("demo", allowed_domains="demo.test", allow_subdomains=True,
                    allow_localhost=True, max_ttl="2m")
        vs.policy("demo-pki", 'path "pki_int/issue/demo" { capabilities = ["update"] }')
        role_id, secret_id = vs.approle("demo", token_ttl="15s", token_max_ttl="40s",
                                        token_policies=["default", "demo-pki"])
        (work / "tls").mkdir()
        (work / "role-id").write_text(role_id + "\n")
        sid = work / "secret-id"
        sid.write_text(secret_id + "\n")
        os.chmod(sid, 0o600)
        say("AppRole 'demo': tokens live 15 s, at most 40 s; credentials in %s" % work)
        say("watch certagent log in, remove the secret-id file, renew at about 2/3 of")
        say("the TTL, and log in again when the max TTL caps a renewal. At 25 s the")
        say("demo revokes the token behind certagent's back. Meanwhile the")
        say("certificate web.demo.test (60 s) renews about every 30 s. Ctrl-C stops.")
        print(flush=True)

        env = dict(os.environ, DEMO_VAULT_ADDR=vs.https_addr, DEMO_DIR=str(work))
        agent = subprocess.Popen([args.binary, "run", "-c",
                                  str(ROOT / "examples" / "demo" / "agent.yaml")],
                                 env=env, stdin=subprocess.DEVNULL)

        stop = threading.Event()

        def revoker():
            if stop.wait(25):
                return
            tok = (work / "token").read_text() if (work / "token").exists() else None
            if tok:
                print(flush=True)
                say("revoking the agent's token in Vault now")
                vs.revoke(token=tok)

        threading.Thread(target=revoker, daemon=True).start()
        threading.Thread(target=watch_cert, args=(work / "tls", stop), daemon=True).start()
        try:
            if args.seconds:
                time.sleep(args.seconds)
                agent.send_signal(signal.SIGTERM)
            agent.wait()
        except KeyboardInterrupt:
            # The terminal sent SIGINT to the whole process group, the
            # agent included; wait for it to finish its clean stop.
            agent.wait()
        stop.set()
        print(flush=True)
        say("certagent exited with %d; token sink %s was mode %o" % (
            agent.returncode, work / "token",
            os.stat(work / "token").st_mode & 0o777 if (work / "token").exists() else 0))
    shutil.rmtree(work, ignore_errors=True)
    return agent.returncode


if __name__ == "__main__":
    sys.exit(main())
