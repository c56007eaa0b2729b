"""systemd's notify protocol, spoken to a datagram socket the test owns:
READY=1 once every file is in place, RELOADING=1 then READY=1 around a
SIGHUP, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1."""

import os
import signal
import socket
import time

import pytest

from test_certs import cert_config
from test_rotation import one_cert, pki  # noqa: F401  (fixture)


class Manager:
    """The service manager's end: a datagram socket, path or abstract."""

    def __init__(self, tmp, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "certagent-test-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + name)
            self.addr = "@" + name
        else:
            self.addr = str(tmp / "notify.sock")
            self.sock.bind(self.addr)
        self.sock.settimeout(0.2)
        self.got = []     # (monotonic time, {key: value})

    def pump(self, until, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            msg = dict(l.split("=", 1) for l in data.splitlines() if "=" in l)
            self.got.append((time.monotonic(), msg))
            if until(msg):
                return msg
        raise AssertionError("not received; got %s" % [m for _t, m in self.got])


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notify_ready_reloading_watchdog_and_stopping(env, pki, abstract):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    m = Manager(env.tmp, abstract)
    a = env.agent(cert_config(env, rid, sid, one_cert(d)))
    a.start(env={"NOTIFY_SOCKET": m.addr, "WATCHDOG_USEC": "400000",
                 "WATCHDOG_PID": ""})
    ready = m.pump(lambda msg: "READY" in msg)
    assert ready["READY"] == "1"
    assert (d / "web.crt").exists() and (d / "web.key").exists()
    assert ready["STATUS"].startswith("1 certificate valid; next renewal web at ")
    # Pings every 200 ms, from the loop.
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.5:
        m.pump(lambda msg: "WATCHDOG" in msg)
    pings = [t for t, msg in m.got if msg.get("WATCHDOG") == "1" and t >= t0]
    assert len(pings) >= 5, pings
    # SIGHUP: RELOADING=1 with the monotonic time, then READY=1.
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    a.send(signal.SIGHUP)
    rel = m.pump(lambda msg: "RELOADING" in msg)
    assert rel["RELOADING"] == "1"
    assert int(rel["MONOTONIC_USEC"]) >= before
    m.pump(lambda msg: msg.get("READY") == "1")
    assert a.stop() == 0
    m.pump(lambda msg: "STOPPING" in msg)


def test_the_watchdog_pings_only_the_process_it_is_meant_for(env, pki):
    rid, sid = pki
    d = env.tmp / "tls"
    d.mkdir()
    m = Manager(env.tmp, False)
    a = env.agent(cert_config(env, rid, sid, one_cert(d)))
    a.start(env={"NOTIFY_SOCKET": m.addr, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    m.pump(lambda msg: "READY" in msg)
    time.sleep(1)
    try:
        m.pump(lambda msg: "WATCHDOG" in msg, timeout=0.5)
        pinged = True
    except AssertionError:
        pinged = False
    assert not pinged
    assert a.stop() == 0
