"""Health probes stay answerable under a flood of idle clients: a kubelet
probe (timeout 1 s by default) must not fail while the agent is healthy
just because others hold every connection slot."""

import socket
import urllib.request

from test_rotation import free_port, wait_status


def test_healthz_answers_a_probe_while_500_idle_clients_are_connected(env):
    rid, sid = env.approle_files()
    port = free_port()
    a = env.agent(env.approle_config(rid, sid, top='listener: {address: "127.0.0.1:%d"}'
                                     % port)).start()
    a.wait_for(r"serving /healthz")
    wait_status(port, "/healthz", 200)
    idle = []
    try:
        for _ in range(500):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            idle.append(s)          # connected, and never sends a byte
        for _ in range(5):
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port,
                                        timeout=1) as r:   # a kubelet's timeout
                assert r.status == 200 and r.read() == b"ok\n"
    finally:
        for s in idle:
            s.close()
    assert a.proc.poll() is None
    assert a.stop() == 0
