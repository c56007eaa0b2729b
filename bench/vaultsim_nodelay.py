#!/usr/bin/python3
"""vaultsim with TCP_NODELAY on its accepted connections, as Vault has.

Python's socketserver leaves Nagle's algorithm on; vaultsim writes a
response's headers and body in two writes, so on loopback every answer
waits for the client's delayed ACK (~40 ms).  Go (Vault) sets TCP_NODELAY
on every connection.  The benchmark runs vaultsim through this wrapper so
that wall times measure the agent, not that stall.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                "vaultsim"))
import vaultsim  # noqa: E402

vaultsim.Handler.disable_nagle_algorithm = True
sys.exit(vaultsim.main())
