#!/usr/bin/python3
"""Where an issuance and a restart spend their instructions.

Runs `certagent run --once` under callgrind against vaultsim twice with N
EC certificates (first issuing them, then starting again on the valid
files) and once with none, and prints the instructions per certificate
and the agent's and OpenSSL's top inclusive entries per certificate.
Instruction counts do not depend on what else the machine is doing,
unlike the CPU times of bench/run.py, so two builds can be compared on a
busy machine.

    /usr/bin/python3 bench/profile.py --binary build/rel/certagent [--n 200]

Needs valgrind (make deps installs it).
"""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import run as bench  # noqa: E402  (World, cert_entries)

# The entries worth reading per certificate: the agent's checks and the
# OpenSSL calls they spend their time in.
WATCH = ("x509_check_bundle", "x509_check_kept", "key_check", "key_belongs",
         "x509_verify_chain", "read_first", "read_key", "x509_cert_info",
         "files_set_commit", "d2i_X509", "OSSL_DECODER_CTX_new_for_pkey",
         "EC_POINT_mul", "ECDSA_do_verify", "X509_verify_cert", "SSL_read",
         "cJSON_Parse")


def callgrind(binary, cfg, env, out):
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s" % out,
                        binary, "run", "--once", "-c", str(cfg)],
                       env=env, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        sys.exit("certagent run --once exited %d:\n%s" % (r.returncode, r.stderr[-2000:]))


def inclusive(out):
    """{function name: inclusive instructions} from callgrind_annotate."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                          capture_output=True, text=True, check=True).stdout
    total, fn = 0, {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) .*PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"\s*([\d,]+) \([\d.]+%\)\s+(\S+?):(\w+)", line)
        if m:
            name = m.group(3)
            fn[name] = max(fn.get(name, 0), int(m.group(1).replace(",", "")))
    return total, fn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=str(ROOT / "build" / "rel" / "certagent"))
    ap.add_argument("--n", type=int, default=200, help="certificates (200)")
    args = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="certagent-profile-"))
    world = bench.World(tmp)
    runs = {}
    try:
        for n in (0, args.n):
            out = tmp / ("out%d" % n)
            out.mkdir()
            cfg = tmp / ("c%d.yaml" % n)
            cfg.write_text(world.header(level="warn") + bench.cert_entries(n))
            env = dict(os.environ, O=str(out))
            for phase in ("issue", "restart"):
                f = str(tmp / ("%s-%d.cg" % (phase, n)))
                callgrind(args.binary, cfg, env, f)
                runs[(phase, n)] = inclusive(f)
    finally:
        world.close()
        shutil.rmtree(tmp, ignore_errors=True)
    n = args.n
    print("%s, %d EC P-256 certificates, instructions per certificate "
          "(callgrind, run --once, less a run with none)" % (args.binary, n))
    for phase in ("issue", "restart"):
        t0, f0 = runs[(phase, 0)]
        t1, f1 = runs[(phase, n)]
        print("\n%s: %.2f M per certificate" % (phase, (t1 - t0) / n / 1e6))
        rows = [(name, (f1.get(name, 0) - f0.get(name, 0)) / n) for name in WATCH]
        for name, v in sorted(rows, key=lambda r: -r[1]):
            if v >= 5e3:
                print("  %-32s %6.2f M  %4.0f%%" % (name, v / 1e6, 100.0 * v * n / (t1 - t0)))


if __name__ == "__main__":
    main()
