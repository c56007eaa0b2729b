#!/usr/bin/python3
"""vaultsim: a HashiCorp Vault HTTP API server for tests and demos.

    /usr/bin/python3 test/vaultsim/vaultsim.py --dir DIR [--host 127.0.0.1]
        [--http-port 0] [--https-port 0] [--token-style hvs|legacy]
        [--server-name NAME[,NAME...]] [--verbose]

Writes DIR/ready.json once both listeners accept connections. See README.md.
"""

import argparse
import contextlib
import ctypes
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography import x509                                          # noqa: E402
from cryptography.hazmat.primitives import serialization              # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec              # noqa: E402

import vs_auth as A                                                    # noqa: E402
import vs_backends as B                                                # noqa: E402
import vs_faults as F                                                  # noqa: E402
import vs_pki as P                                                     # noqa: E402
import vs_wrapping as W                                                # noqa: E402
from vs_core import (ACL, DEFAULT_POLICY, SYSTEM_DEFAULT_TTL, SYSTEM_MAX_TTL,  # noqa: E402
                     Clock, Lease, Policy, Response, Token, VaultError, bad_request,
                     calculate_ttl, envelope, go_json, new_token_id, new_uuid, no_content,
                     parse_duration, permission_denied, rand_base62, rfc3339,
                     sanitize_policies)

VERSION = "1.17.0+vaultsim"
CLUSTER_NAME = "vaultsim-cluster"

# Plugins built into Vault 1.17.0 from their own repositories report their
# own version; the ones in Vault's tree report Vault's (+builtin.vault).
BUILTIN_PLUGIN_VERSIONS = {"kubernetes": "v0.19.0+builtin", "jwt": "v0.20.3+builtin",
                           "oidc": "v0.20.3+builtin"}


# ==========================================================================
# Mounts

class Mount:
    def __init__(self, path, mtype, options=None, config=None, description="", is_auth=False,
                 local=False):
        self.path = path
        self.type = mtype
        self.options = dict(options or {})
        self.config = {"default_lease_ttl": 0, "max_lease_ttl": 0}
        for k in ("default_lease_ttl", "max_lease_ttl"):
            if config and k in config:
                self.config[k] = parse_duration(config[k], k)
        self.description = description
        self.is_auth = is_auth
        self.accessor = "%s_%s" % ("auth_" + mtype if is_auth else mtype,
                                   rand_base62(8).lower())
        self.uuid = new_uuid()
        self.local = local
        self.backend = None

    def default_ttl(self):
        return self.config["default_lease_ttl"] or SYSTEM_DEFAULT_TTL

    def max_ttl(self):
        return self.config["max_lease_ttl"] or SYSTEM_MAX_TTL

    def info(self):
        return {
            "type": self.type,
            "description": self.description,
            "accessor": self.accessor,
            "uuid": self.uuid,
            "config": {"default_lease_ttl": self.config["default_lease_ttl"],
                       "max_lease_ttl": self.config["max_lease_ttl"],
                       "force_no_cache": False},
            "options": dict(self.options) if self.options else None,
            "local": self.local,
            "seal_wrap": False,
            "external_entropy_access": False,
            "plugin_version": "",
            "running_plugin_version": BUILTIN_PLUGIN_VERSIONS.get(
                self.type, "v" + VERSION.split("+")[0] + "+builtin.vault"),
            "running_sha256": "",
            "deprecation_status": "supported",
        }

    def tune_info(self):
        d = {"default_lease_ttl": self.default_ttl(), "max_lease_ttl": self.max_ttl(),
             "force_no_cache": False, "description": self.description}
        if self.options:
            d["options"] = dict(self.options)
        return d


# ==========================================================================
# Simulator state

class Sim:
    def __init__(self, token_style="hvs"):
        self.lock = threading.Lock()
        self.clock = Clock()
        self.token_style = token_style
        self.tokens = {}
        self.issued_tokens = []   # every token ever issued, for /_sim/tokens?all=true
        self.accessors = {}
        self.leases = {}
        self.policies = {"default": Policy("default", DEFAULT_POLICY)}
        self.mounts = {}
        self.auth_mounts = {}
        self.sealed = False
        self.initialized = True
        self.standby_redirect = None
        self.ha_enabled = False
        self.active_time = time.time()
        self.cluster_id = new_uuid()
        self.requests = []
        # An observation, not a Vault feature: how many /v1/ requests
        # were being handled at once (read, not yet answered), and the
        # most ever; GET /_sim/state shows both, DELETE /_sim/requests
        # resets the maximum.
        self.flight_lock = threading.Lock()
        self.in_flight = 0
        self.in_flight_max = 0
        self.faults = []
        self.fault_seq = 0
        self.client_ca_hook = None
        self.pki_root = None
        self.pki_int = None
        self.pki_opts = {"chain_includes_root": True}
        self.dir = None
        self.self_addr = ""
        self.verbose = False
        self.entities = {}        # (auth mount accessor, alias name) -> entity id

        self.add_mount("sys/", "system", description="system endpoints used for control, "
                       "policy and debugging")
        self.add_mount("cubbyhole/", "cubbyhole", description="per-token private secret storage")
        self.add_auth_mount("token/", "token", description="token based credentials")
        self.add_auth_mount("approle/", "approle")
        self.add_auth_mount("cert/", "cert")
        self.add_auth_mount("kubernetes/", "kubernetes")
        self.add_auth_mount("jwt/", "jwt")
        self.add_mount("secret/", "kv", options={"version": "2"},
                       description="key/value secret storage")
        self.add_mount("kv/", "kv", options={"version": "1"})
        self.add_mount("pki/", "pki", config={"max_lease_ttl": 87600 * 3600})
        self.add_mount("pki_int/", "pki", config={"max_lease_ttl": 87600 * 3600})
        self.add_mount("database/", "database")

        self.root_token, _ = self.create_token(
            policies=["root"], display_name="root", path="auth/token/root", no_expiry=True,
            auth_mount=self.auth_mounts["token/"], auth_type="token", renewable=False)

    # ---- locking helpers

    @contextlib.contextmanager
    def unlocked(self):
        """Release the request lock around slow work (RSA key generation)."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    def now(self):
        return self.clock.now()

    # ---- mounts

    def add_mount(self, path, mtype, options=None, config=None, description=""):
        m = Mount(path, mtype, options, config, description)
        if mtype == "kv":
            if str(m.options.get("version", "1")) == "2":
                m.options["version"] = "2"
                m.backend = B.KVv2Backend(self, m)
            else:
                m.options["version"] = "1"
                m.backend = B.KVv1Backend(self, m)
        elif mtype == "pki":
            m.backend = P.PkiBackend(self, m)
        elif mtype == "database":
            m.backend = B.DatabaseBackend(self, m)
        elif mtype == "system":
            m.backend = B.SysBackend(self, m)
        elif mtype == "cubbyhole":
            m.backend = CubbyholeBackend(self, m)
        else:
            raise bad_request("plugin not found in the catalog: %s" % mtype)
        self.mounts[path] = m
        return m

    def add_auth_mount(self, path, mtype, config=None, description=""):
        m = Mount(path, mtype, None, config, description, is_auth=True)
        if mtype == "token":
            m.backend = B.TokenBackend(self, m)
        elif mtype == "approle":
            m.backend = B.AppRoleBackend(self, m)
        elif mtype == "cert":
            m.backend = B.CertBackend(self, m)
        elif mtype == "kubernetes":
            m.backend = A.KubernetesBackend(self, m)
        elif mtype in ("jwt", "oidc"):
            m.backend = A.JWTBackend(self, m)
        else:
            raise bad_request("plugin not found in the catalog: %s" % mtype)
        self.auth_mounts[path] = m
        return m

    def resolve(self, logical):
        """(mount, sub, is_auth) for a logical path, or (None, None, False)."""
        if logical.startswith("auth/"):
            rest = logical[5:]
            best = None
            for p, m in self.auth_mounts.items():
                if (rest + "/").startswith(p) and (best is None or len(p) > len(best.path)):
                    best = m
            if best is None:
                return None, None, True
            return best, rest[len(best.path):], True
        best = None
        for p, m in self.mounts.items():
            if (logical + "/").startswith(p) and (best is None or len(p) > len(best.path)):
                best = m
        if best is None:
            return None, None, False
        return best, logical[len(best.path):], False

    # ---- tokens

    def create_token(self, policies, ttl=0, max_ttl=0, period=0, explicit_max_ttl=0,
                     num_uses=0, renewable=True, meta=None, display_name="token",
                     path="auth/token/create", auth_mount=None, auth_type="token",
                     parent=None, orphan=True, no_expiry=False, internal=None,
                     entity_id="", alias=None, group_aliases=None):
        now = self.now()
        warnings = []
        mount = auth_mount or self.auth_mounts["token/"]
        if no_expiry:
            expire = None
            eff_ttl = 0
        else:
            eff_ttl, warnings = calculate_ttl(now, 0, ttl, period, max_ttl, explicit_max_ttl,
                                              now, mount.default_ttl(), mount.max_ttl())
            # Vault's expiration manager sets ExpireTime = IssueTime + TTL
            # with IssueTime = time.Now() at full precision; only the TTL
            # arithmetic (calculate_ttl) works in whole seconds.
            expire = now + eff_ttl
        while True:
            tid = new_token_id(self.token_style)
            if tid not in self.tokens:
                break
        acc = rand_base62(24)
        tok = Token(id=tid, accessor=acc, policies=policies, meta=meta,
                    display_name=display_name, path=path, creation_time=now,
                    creation_ttl=eff_ttl, expire_time=expire, explicit_max_ttl=explicit_max_ttl,
                    backend_ttl=ttl, backend_max_ttl=max_ttl, period=period, num_uses=num_uses,
                    renewable=renewable and not no_expiry, orphan=orphan, parent=parent,
                    entity_id=entity_id, auth_mount=mount.path, auth_type=auth_type,
                    internal=internal or {}, mount_max=mount.max_ttl(),
                    mount_default=mount.default_ttl())
        if alias:
            tok.alias = dict(alias, mount_accessor=mount.accessor, mount_type=mount.type,
                             mount_path="auth/" + mount.path)
            tok.group_aliases = list(group_aliases or [])
        self.tokens[tid] = tok
        self.accessors[acc] = tid
        self.issued_tokens.append(tok)
        return tok, warnings

    def login_token(self, mount, entry, path, display_name, meta, internal, auth_type,
                    alias=None, group_aliases=None):
        """A login's token. alias {"name", "metadata"}: the entity alias, as
        Vault's identity store keeps it: one entity per (mount, alias name)."""
        pols = sanitize_policies(list(entry.get("token_policies", [])),
                                 add_default=not entry.get("token_no_default_policy", False))
        if entry.get("token_no_default_policy", False):
            pols = [p for p in pols if p != "default"]
        if "root" in pols:
            pols = [p for p in pols if p != "root"] or ["default"]
        return self.create_token(
            policies=pols, ttl=entry.get("token_ttl", 0), max_ttl=entry.get("token_max_ttl", 0),
            period=entry.get("token_period", 0),
            explicit_max_ttl=entry.get("token_explicit_max_ttl", 0),
            num_uses=entry.get("token_num_uses", 0), renewable=True, meta=meta,
            display_name=display_name, path=path, auth_mount=mount, auth_type=auth_type,
            orphan=True, internal=internal, entity_id=self.entity_for(mount, alias),
            alias=alias, group_aliases=group_aliases)

    def entity_for(self, mount, alias):
        if not alias:
            return new_uuid()
        key = (mount.accessor, alias["name"])
        if key not in self.entities:
            self.entities[key] = new_uuid()
        return self.entities[key]

    def log(self, msg):
        """A line in the process log (verbose only; never a token or a JWT)."""
        if self.verbose:
            sys.stderr.write("vaultsim: %s\n" % msg)

    def lookup_token(self, tid):
        tok = self.tokens.get(tid or "")
        if tok is None:
            return None
        if tok.expire_time is not None and self.now() >= tok.expire_time:
            self.revoke_token(tok)
            return None
        return tok

    def lookup_accessor(self, acc):
        tid = self.accessors.get(acc or "")
        return self.lookup_token(tid) if tid else None

    def live_tokens(self):
        out = []
        for tid in list(self.tokens):
            tok = self.lookup_token(tid)
            if tok is not None:
                out.append(tok)
        return out

    def revoke_token(self, tok, orphan_children=False):
        if self.tokens.pop(tok.id, None) is None:
            return
        self.accessors.pop(tok.accessor, None)
        # A token's cubbyhole goes with it.
        cubby = self.mounts.get("cubbyhole/")
        if cubby is not None:
            cubby.backend.data.pop(tok.id, None)
        for lease in list(self.leases.values()):
            if lease.token_id == tok.id:
                self.revoke_lease(lease)
        for child in list(self.tokens.values()):
            if child.parent == tok.id:
                if orphan_children:
                    child.parent = None
                    child.orphan = True
                else:
                    self.revoke_token(child)

    def acl_for(self, tok):
        if tok is None:
            return ACL([])
        if tok.is_root():
            return ACL(["root"])
        if tok.policies == [W.RESPONSE_WRAPPING]:
            return ACL([W.RESPONSE_WRAPPING_POLICY])
        return ACL([self.policies.get(p) for p in tok.policies])

    def renew_token(self, tok, req):
        if tok.expire_time is None or not tok.renewable:
            raise bad_request("lease is not renewable")
        increment = parse_duration(req.data.get("increment"), "increment")
        mount = self.auth_mounts.get(tok.auth_mount)
        if mount is None:
            raise VaultError(500, ["failed to renew entry: no backend for token"])
        params = mount.backend.renew_params(tok, req)
        if params is None:
            return no_content()
        backend_ttl, backend_max, period = params
        now = self.now()
        ttl, warnings = calculate_ttl(now, increment, backend_ttl, period, backend_max,
                                      tok.explicit_max_ttl, tok.creation_time,
                                      mount.default_ttl(), mount.max_ttl())
        tok.expire_time = now + ttl
        tok.last_renewal = now
        return envelope(None, auth=tok.auth_block(lease_duration=ttl), warnings=warnings)

    # ---- leases

    def add_lease(self, lease_id, token, ttl, renewable, mount, backend_ttl=0, backend_max=0,
                  on_revoke=None, renew_fn=None):
        now = self.now()
        lease = Lease(lease_id, lease_id.rsplit("/", 1)[0], now, ttl, renewable,
                      token.id if token else None, backend_ttl=backend_ttl,
                      backend_max=backend_max, mount_default=mount.default_ttl(),
                      mount_max=mount.max_ttl(), on_revoke=on_revoke)
        lease.expire_time = now + ttl
        lease.renew_fn = renew_fn
        self.leases[lease_id] = lease
        return lease

    def get_lease(self, lid):
        lease = self.leases.get(lid)
        if lease is None:
            return None
        if self.now() >= lease.expire_time:
            self.revoke_lease(lease)
            return None
        return lease

    def live_leases(self):
        return [lid for lid in list(self.leases) if self.get_lease(lid) is not None]

    def revoke_lease(self, lease):
        if self.leases.pop(lease.id, None) is None:
            return
        if lease.on_revoke:
            try:
                lease.on_revoke()
            except Exception:
                traceback.print_exc()

    # ---- status documents

    def seal_status(self):
        return {
            "type": "shamir", "initialized": self.initialized, "sealed": self.sealed,
            "t": 1, "n": 1, "progress": 0, "nonce": "", "version": VERSION,
            "build_date": "2024-06-10T10:11:34Z", "migration": False,
            "cluster_name": CLUSTER_NAME if not self.sealed else "",
            "cluster_id": self.cluster_id if not self.sealed else "",
            "recovery_seal": False, "storage_type": "inmem",
            "removed_from_cluster": False,
        }

    def leader_status(self):
        standby = self.standby_redirect is not None
        return {
            "ha_enabled": self.ha_enabled,
            "is_self": self.ha_enabled and not standby,
            "active_time": rfc3339(self.active_time) if (self.ha_enabled and not standby)
            else "0001-01-01T00:00:00Z",
            "leader_address": (self.standby_redirect or "") if standby else
            (self.self_addr if self.ha_enabled else ""),
            "leader_cluster_address": "",
            "performance_standby": False,
            "performance_standby_last_remote_wal": 0,
        }

    # ---- cert auth trust hook (used when TLS verifies client certs itself)

    def client_cas_changed(self):
        if self.client_ca_hook:
            pems = []
            for m in self.auth_mounts.values():
                if isinstance(m.backend, B.CertBackend):
                    pems.extend(m.backend.registered_ca_pems())
            self.client_ca_hook(pems)

    # ---- PKI bootstrap (root in pki/, intermediate in pki_int/)

    def setup_pki(self, int_ttl=5 * 365 * 86400, key_type="ec", key_bits=256):
        root_mount = self.mounts["pki/"].backend
        if self.pki_root is None:
            now = P.utcnow()
            key = P.generate_key("ec", 256)
            cert = P.make_ca_cert(key, "vaultsim Root CA", now - datetime.timedelta(seconds=30),
                                  now + datetime.timedelta(days=3650))
            self.pki_root = (cert, key)
            root_mount.add_issuer(cert, key, [cert], name="root")
        self.regen_intermediate(int_ttl, key_type, key_bits)

    def regen_intermediate(self, ttl, key_type="ec", key_bits=256, keep_old=False):
        rcert, rkey = self.pki_root
        now = P.utcnow()
        key = P.generate_key(key_type, P.validate_key_type_length(key_type, key_bits))
        not_after = min(now + datetime.timedelta(seconds=ttl), P.not_after_of(rcert))
        cert = P.make_ca_cert(key, "vaultsim Intermediate CA",
                              now - datetime.timedelta(seconds=30), not_after,
                              issuer_cert=rcert, issuer_key=rkey)
        be = self.mounts["pki_int/"].backend
        # The intermediate was issued by pki/'s root: list it there, as Vault does.
        self.mounts["pki/"].backend.certs[P.serial_colon(cert.serial_number)] = {
            "cert": cert, "revoked": None,
            "issuer_id": self.mounts["pki/"].backend.default_issuer}
        old = be.issuers.get(be.default_issuer) if be.default_issuer else None
        chain = [cert, rcert] if self.pki_opts["chain_includes_root"] else [cert]
        iss = be.add_issuer(cert, key, chain, name="intermediate")
        if old is not None:
            iss.leaf_not_after_behavior = old.leaf_not_after_behavior
            if not keep_old:    # a rollover keeps it, as importing a new issuer does
                be.issuers.pop(old.id, None)
        self.pki_int = (cert, key)
        if self.dir:
            write_file(os.path.join(self.dir, "pki-int.pem"), (P.cert_pem(cert) + "\n").encode())
        return iss

    def set_int_chain(self, includes_root):
        self.pki_opts["chain_includes_root"] = bool(includes_root)
        be = self.mounts["pki_int/"].backend
        iss = be.issuers.get(be.default_issuer) if be.default_issuer else None
        if iss is not None and self.pki_int is not None and iss.cert == self.pki_int[0]:
            iss.chain = [iss.cert, self.pki_root[0]] if includes_root else [iss.cert]


class CubbyholeBackend:
    type = "cubbyhole"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount
        self.data = {}

    def unauthenticated(self, req):
        return False

    def write_op(self, req):
        return "update"

    def handle(self, req):
        store = self.data.setdefault(req.token.id if req.token else "", {})
        s, op = req.sub, req.op
        if op == "list":
            prefix = s if s.endswith("/") or s == "" else s + "/"
            return B._list_response(B._children(store.keys(), prefix.lstrip("/")))
        if op == "read":
            if s not in store:
                raise VaultError(404, [])
            return envelope(dict(store[s]))
        if op in ("update", "create"):
            if not req.data:
                raise bad_request("missing data fields")
            store[s] = dict(req.data)
            return no_content()
        if op == "delete":
            store.pop(s, None)
            return no_content()
        raise VaultError(405, ["unsupported operation"])


# ==========================================================================
# Requests

class Req:
    pass


def write_file(path, data, mode=0o644):
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


DEFAULT_FAULT_MESSAGES = {
    400: "invalid request",
    403: "permission denied",
    404: "",
    412: "required index state not present",
    429: "request path \"%s\": rate limit quota exceeded",
    500: "internal error",
    502: "bad gateway",
    503: "Vault is sealed",
    504: "context deadline exceeded",
}


class Fault:
    def __init__(self, spec, seq):
        self.id = seq
        self.spec = dict(spec)
        self.count = int(spec.get("count", 1))
        self.path_prefix = spec.get("path_prefix") or "/v1/"
        self.method = (spec.get("method") or "").upper() or None
        self.status = spec.get("status")
        self.retry_after = spec.get("retry_after")
        self.body = spec.get("body")
        self.errors = spec.get("errors")
        self.delay_ms = int(spec.get("delay_ms") or 0)
        self.drop = bool(spec.get("drop"))
        self.malformed = bool(spec.get("malformed"))
        self.huge_bytes = spec.get("huge_bytes")
        # Faults on the real answer: the request is handled, then its
        # answer is changed or sent badly.
        self.pki = spec.get("pki")
        self.slow_body_ms = int(spec.get("slow_body_ms") or 0)
        self.cut_body = bool(spec.get("cut_body"))
        self.scheme = spec.get("scheme")
        self.hits = 0

    def matches(self, method, path, scheme):
        if self.count == 0:
            return False
        if not path.startswith(self.path_prefix):
            return False
        if self.method and self.method != method:
            return False
        if self.scheme and self.scheme != scheme:
            return False
        return True

    def view(self):
        d = dict(self.spec)
        d["id"] = self.id
        d["remaining"] = self.count
        d["hits"] = self.hits
        return d


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Go's net/http (Vault) sets TCP_NODELAY on every connection; without
    # it each answer, written as headers then body, waits ~40 ms for the
    # client's delayed ACK on loopback.
    disable_nagle_algorithm = True
    timeout = 120
    sim = None
    verbose = False

    # -- connection setup (TLS handshake runs here, off the accept loop)

    def setup(self):
        self.peer_der = None
        self.scheme = "http"
        if isinstance(self.request, ssl.SSLSocket):
            self.scheme = "https"
            self.request.settimeout(15)
            self.request.do_handshake()
            self.peer_der = self.request.getpeercert(binary_form=True)
        super().setup()

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("vaultsim: %s - %s\n" % (self.address_string(), fmt % args))

    def send_response(self, code, message=None):
        self.flight_leave()   # answered: the client may send the next one
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError):
            self.close_connection = True

    # -- every method goes through dispatch

    def do_GET(self):
        self.in_flight = self.path.startswith("/v1/")
        if self.in_flight:
            with self.sim.flight_lock:
                self.sim.in_flight += 1
                self.sim.in_flight_max = max(self.sim.in_flight_max, self.sim.in_flight)
        try:
            self.dispatch()
        finally:
            self.flight_leave()

    def flight_leave(self):
        if getattr(self, "in_flight", False):
            self.in_flight = False
            with self.sim.flight_lock:
                self.sim.in_flight -= 1

    do_POST = do_PUT = do_DELETE = do_LIST = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def client_cn(self):
        if not self.peer_der:
            return None
        try:
            c = x509.load_der_x509_certificate(self.peer_der)
            cns = c.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
            return cns[0].value if cns else ""
        except Exception:
            return None

    def write_response(self, resp, head=False):
        body = resp.body
        ctype = resp.content_type
        if isinstance(body, (dict, list)):
            payload = go_json(body)
            ctype = ctype or "application/json"
        elif body is None:
            payload = b""
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = body
        self.send_response(resp.status)
        if resp.status != 204 or payload:
            if ctype:
                self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-store")
        for k, v in resp.headers.items():
            self.send_header(k, str(v))
        if resp.status != 204:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head and resp.status != 204:
            self.wfile.write(payload)

    def dispatch(self):
        sim = self.sim
        t0 = time.time()
        url = urlsplit(self.path)
        path = url.path
        method = self.command.upper()
        entry = {
            "t": t0, "method": method, "path": path, "query": url.query,
            "status": None, "namespace": self.headers.get("X-Vault-Namespace"),
            "client_cert_cn": self.client_cn(), "remote_port": self.client_address[1],
            "scheme": self.scheme, "token_accessor": None, "fault": None,
            "request_id": None,
        }
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if (self.headers.get("Connection") or "").lower() == "close":
            self.close_connection = True

        if path.startswith("/_sim/") or path == "/_sim":
            try:
                resp = self.admin(method, path, url.query, body)
            except VaultError as e:
                resp = Response(e.status, {"errors": e.errors})
            except Exception as e:
                traceback.print_exc()
                resp = Response(500, {"errors": [str(e)]})
            self.write_response(resp)
            return

        if not path.startswith("/v1/"):
            entry["status"] = 404
            self.record(entry)
            self.write_response(Response(404, b"404 page not found\n",
                                         content_type="text/plain; charset=utf-8"))
            return

        # ---- fault injection
        fault = None
        with sim.lock:
            for f in sim.faults:
                if f.matches(method, path, self.scheme):
                    if f.count > 0:
                        f.count -= 1
                    f.hits += 1
                    fault = f
                    break
            sim.faults = [f for f in sim.faults if f.count != 0]
        if fault is not None:
            entry["fault"] = fault.id
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000.0)
            if fault.drop:
                entry["status"] = 0
                self.record(entry)
                self.close_connection = True
                try:
                    self.request.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault.malformed:
                entry["status"] = 200
                self.record(entry)
                self.write_response(Response(200, ('{"request_id": "%s", "lease_id": "", '
                                                   '"data": {"truncat' % new_uuid()).encode(),
                                             content_type="application/json"))
                return
            if fault.huge_bytes is not None:
                entry["status"] = 200
                self.record(entry)
                self.write_huge(int(fault.huge_bytes))
                return
            if fault.status is not None:
                status = int(fault.status)
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                if fault.body is not None:
                    resp = Response(status, fault.body.encode() if isinstance(fault.body, str)
                                    else json.dumps(fault.body).encode(), headers=headers,
                                    content_type="application/json")
                else:
                    errs = fault.errors
                    if errs is None:
                        msg = DEFAULT_FAULT_MESSAGES.get(status, "injected fault")
                        if "%s" in msg:
                            msg = msg % path[4:]
                        errs = [msg] if msg else []
                    resp = Response(status, {"errors": errs}, headers=headers)
                entry["status"] = status
                self.record(entry)
                self.write_response(resp, head=method == "HEAD")
                return

        # ---- Vault request handling
        try:
            resp = self.vault_request(method, path, url.query, body, entry)
        except VaultError as e:
            if e.data is not None or e.warnings:
                resp = envelope(e.data, warnings=e.warnings)
                resp.status = e.status
            else:
                resp = Response(e.status, {"errors": e.errors})
        except Exception as e:
            traceback.print_exc()
            resp = Response(500, {"errors": ["internal error: %s" % e]})
        if fault is not None and fault.pki and resp.status == 200:
            F.corrupt_pki(resp.body, fault.pki)
        entry["status"] = resp.status
        if isinstance(resp.body, dict):
            entry["request_id"] = resp.body.get("request_id")
        self.record(entry)
        if fault is not None and (fault.slow_body_ms or fault.cut_body):
            self.write_badly(resp, fault)
            return
        self.write_response(resp, head=method == "HEAD")

    def write_badly(self, resp, fault):
        """The answer with its body cut in half (the connection closes
        there), or trickled out a 64-byte piece every slow_body_ms."""
        payload = go_json(resp.body) if isinstance(resp.body, (dict, list)) else (resp.body or b"")
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type or "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            if fault.cut_body:
                self.wfile.write(payload[:len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.request.shutdown(socket.SHUT_RDWR)
                return
            for i in range(0, len(payload), 64):
                self.wfile.write(payload[i:i + 64])
                self.wfile.flush()
                time.sleep(fault.slow_body_ms / 1000.0)
        except OSError:
            self.close_connection = True

    def write_huge(self, n):
        prefix = b'{"request_id":"%s","data":{"pad":"' % new_uuid().encode()
        suffix = b'"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        if n < len(prefix) + len(suffix):
            self.wfile.write(b"x" * n)
            return
        self.wfile.write(prefix)
        left = n - len(prefix) - len(suffix)
        chunk = b"x" * 65536
        try:
            while left > 0:
                k = min(left, len(chunk))
                self.wfile.write(chunk[:k])
                left -= k
            self.wfile.write(suffix)
        except OSError:
            self.close_connection = True

    def record(self, entry):
        entry["duration_ms"] = round((time.time() - entry["t"]) * 1000, 3)
        with self.sim.lock:
            self.sim.requests.append(entry)
            if len(self.sim.requests) > 100000:
                del self.sim.requests[:10000]

    # -- /v1

    def vault_request(self, method, path, query, body, entry):
        sim = self.sim
        logical = unquote(path[4:])
        while "//" in logical:
            logical = logical.replace("//", "/")
        qs = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}

        # Operation (Vault's http/logical.go buildLogicalRequest)
        if method == "GET":
            op = "list" if qs.get("list") in ("true", "1", "t", "True") else "read"
        elif method == "LIST":
            op = "list"
        elif method in ("POST", "PUT"):
            op = "update"
        elif method == "DELETE":
            op = "delete"
        elif method == "PATCH":
            op = "patch"
        elif method == "HEAD":
            op = "head"
        elif method == "OPTIONS":
            return Response(204, None, headers={
                "Allow": "GET, POST, PUT, DELETE, LIST, PATCH, HEAD, OPTIONS"})
        else:
            raise VaultError(405, ["unsupported operation"])
        if op == "list" and not logical.endswith("/"):
            logical += "/"

        # sys/health answers in every state
        if logical in ("sys/health", "sys/health/"):
            if method not in ("GET", "HEAD"):
                raise VaultError(405, ["unsupported operation"])
            return self.health(qs)
        if logical in ("sys/seal-status", "sys/seal-status/") and op in ("read", "head"):
            return Response(200, sim.seal_status())

        if sim.standby_redirect:
            if logical in ("sys/leader", "sys/leader/") and op == "read":
                return Response(200, sim.leader_status())
            loc = sim.standby_redirect.rstrip("/") + path + ("?" + query if query else "")
            return Response(307, None, headers={"Location": loc})

        # requestWrapInfo runs while the HTTP request is turned into a logical
        # one: a bad header is a 400 before anything else.
        wrap_ttl = W.parse_wrap_ttl(self.headers.get("X-Vault-Wrap-TTL"))

        if sim.sealed or not sim.initialized:
            raise VaultError(503, ["Vault is sealed"])
        if op == "head":
            raise VaultError(405, ["unsupported operation"])

        # Body
        data = {}
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError as e:
                raise bad_request("failed to parse JSON input: %s" % e)
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise bad_request("failed to parse JSON input: body must be a JSON object")
        if op in ("read", "list"):
            for k, v in qs.items():
                if k != "list":
                    data.setdefault(k, v)

        token_str = self.headers.get("X-Vault-Token") or ""
        if not token_str:
            auth = self.headers.get("Authorization") or ""
            if auth.lower().startswith("bearer "):
                token_str = auth[7:].strip()

        req = Req()
        req.method = method
        req.op = op
        req.path = logical
        req.data = data
        req.query = qs
        req.scheme = self.scheme
        req.peer_cert_der = self.peer_der
        req.remote_addr = self.client_address[0]
        req.headers = self.headers
        req.client_token = token_str
        req.token = None
        req.wrap_ttl = wrap_ttl
        req.mount = None

        with sim.lock:
            if logical in W.VALIDATED_PATHS:
                # Core checks the wrapping token before the request's own token.
                W.validate(sim, data, token_str)
            mount, sub, is_auth = sim.resolve(logical)
            req.mount = mount
            req.sub = sub
            unauth = mount is not None and mount.backend.unauthenticated(req)
            last_use = False
            if not unauth:
                tok = sim.lookup_token(token_str) if token_str else None
                if tok is None:
                    raise permission_denied()
                entry["token_accessor"] = tok.accessor
                req.token = tok
                if op == "update" and mount is not None:
                    req.op = mount.backend.write_op(req)
                acl = sim.acl_for(tok)
                sudo = bool(mount is not None and hasattr(mount.backend, "sudo_required")
                            and mount.backend.sudo_required(req))
                cap = req.op
                if not acl.allowed(logical, cap, sudo=sudo):
                    # Vault maps a create on an existing path / update on a missing
                    # one only through its existence check; nothing else passes.
                    raise permission_denied()
                if tok.num_uses > 0:
                    tok.num_uses -= 1
                    if tok.num_uses == 0:
                        last_use = True
            elif op == "update":
                req.op = mount.backend.write_op(req)
            if mount is None:
                raise VaultError(404, ['no handler for route "%s". route entry not found.'
                                       % logical.rstrip("/")])
            try:
                resp = mount.backend.handle(req)
            finally:
                if last_use and req.token is not None:
                    sim.revoke_token(req.token)
            if getattr(resp, "wrapped", False):
                return resp
            if isinstance(resp.body, dict) and "mount_type" in resp.body and \
                    not resp.body["mount_type"]:
                resp.body["mount_type"] = mount.type if mount.type != "system" else "system"
            if logical == "cubbyhole/response" and req.token is not None and \
                    req.token.policies == [W.RESPONSE_WRAPPING] and isinstance(resp.body, dict) \
                    and "request_id" in resp.body:
                resp.body["warnings"] = (resp.body.get("warnings") or []) + \
                    [W.CUBBYHOLE_RESPONSE_WARNING]
            if wrap_ttl and W.wrappable(resp):
                resp = W.wrap(sim, req, resp, wrap_ttl)
            return resp

    def health(self, qs):
        sim = self.sim

        def flag(name):
            v = qs.get(name)
            return v is not None and v.lower() in ("", "true", "1", "t")

        def code(name, default):
            v = qs.get(name)
            try:
                return int(v) if v not in (None, "") else default
            except ValueError:
                return default

        standby = sim.standby_redirect is not None
        body = {
            "initialized": sim.initialized,
            "sealed": sim.sealed or not sim.initialized,
            "standby": standby or sim.sealed,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": int(sim.now()),
            "version": VERSION,
            "enterprise": False,
            "echo_duration_ms": 0,
            "clock_skew_ms": 0,
            "replication_primary_canary_age_ms": 0,
            "removed_from_cluster": False,
        }
        if not sim.sealed and sim.initialized:
            body["cluster_name"] = CLUSTER_NAME
            body["cluster_id"] = sim.cluster_id
        if not sim.initialized:
            status = code("uninitcode", 501)
        elif sim.sealed:
            status = code("sealedcode", 503)
        elif standby and not flag("standbyok"):
            status = code("standbycode", 429)
        else:
            status = code("activecode", 200)
        return Response(status, body)

    # -- /_sim admin side channel

    def admin(self, method, path, query, body):
        sim = self.sim
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError as e:
            raise bad_request("bad JSON: %s" % e)
        if not isinstance(data, dict):
            data = {}
        p = path[len("/_sim/"):].strip("/")
        with sim.lock:
            if p == "fault":
                if method == "DELETE":
                    n = len(sim.faults)
                    sim.faults = []
                    return Response(200, {"cleared": n})
                if method == "GET":
                    return Response(200, {"faults": [f.view() for f in sim.faults]})
                if method in ("POST", "PUT"):
                    specs = data.get("faults") if isinstance(data.get("faults"), list) else [data]
                    ids = []
                    for spec in specs:
                        sim.fault_seq += 1
                        f = Fault(spec, sim.fault_seq)
                        if f.pki is not None and f.pki not in F.PKI_FAULTS:
                            raise bad_request("pki must be one of %s" % ", ".join(F.PKI_FAULTS))
                        if f.status is None and not (f.delay_ms or f.drop or f.malformed or
                                                     f.huge_bytes is not None or f.pki or
                                                     f.slow_body_ms or f.cut_body):
                            raise bad_request("a fault needs status, delay_ms, drop, malformed "
                                              "or huge_bytes")
                        sim.faults.append(f)
                        ids.append(f.id)
                    return Response(200, {"ids": ids, "id": ids[0] if ids else None})
            elif p == "seal" and method in ("POST", "PUT"):
                sim.sealed = True
                return Response(200, {"sealed": True})
            elif p == "unseal" and method in ("POST", "PUT"):
                sim.sealed = False
                return Response(200, {"sealed": False})
            elif p == "initialized" and method in ("POST", "PUT"):
                sim.initialized = bool(data.get("initialized", True))
                return Response(200, {"initialized": sim.initialized})
            elif p == "standby" and method in ("POST", "PUT"):
                sim.ha_enabled = True
                sim.standby_redirect = data.get("redirect_to") or None
                if sim.standby_redirect is None:
                    sim.active_time = time.time()
                return Response(200, {"standby": sim.standby_redirect is not None,
                                      "redirect_to": sim.standby_redirect})
            elif p == "revoke" and method in ("POST", "PUT"):
                n = 0
                if data.get("all"):
                    for tok in list(sim.tokens.values()):
                        if not tok.is_root() or tok.id != sim.root_token.id:
                            if tok.id != sim.root_token.id:
                                sim.revoke_token(tok)
                                n += 1
                else:
                    tok = None
                    if data.get("token"):
                        tok = sim.tokens.get(data["token"])
                    elif data.get("accessor"):
                        tid = sim.accessors.get(data["accessor"])
                        tok = sim.tokens.get(tid) if tid else None
                    if tok is not None:
                        sim.revoke_token(tok)
                        n = 1
                return Response(200, {"revoked": n})
            elif p == "clock":
                if method in ("POST", "PUT"):
                    off = sim.clock.advance(float(data.get("advance", 0)))
                    return Response(200, {"now": sim.now(), "offset": off})
                if method == "GET":
                    return Response(200, {"now": sim.now(), "offset": sim.clock.offset})
            elif p == "requests":
                if method == "GET":
                    return Response(200, list(sim.requests))
                if method == "DELETE":
                    n = len(sim.requests)
                    sim.requests = []
                    with sim.flight_lock:
                        sim.in_flight_max = sim.in_flight
                    return Response(200, {"cleared": n})
            elif p == "tokens" and method == "GET":
                now = sim.now()
                # ?all=true: also revoked and expired tokens, so a test can
                # look for every token ever issued in an agent's log.
                everything = "all=true" in (query or "")
                toks = sim.issued_tokens if everything else sim.live_tokens()
                return Response(200, [t.admin_view(now) for t in toks])
            elif p == "leases" and method == "GET":
                now = sim.now()
                out = []
                for lid in sim.live_leases():
                    lease = sim.leases[lid]
                    d = lease.lookup_data(now)
                    tok = sim.tokens.get(lease.token_id) if lease.token_id else None
                    d["token_accessor"] = tok.accessor if tok else None
                    out.append(d)
                return Response(200, out)
            elif p == "pki" and method in ("POST", "PUT"):
                if "chain_includes_root" in data:
                    sim.pki_opts["chain_includes_root"] = bool(data["chain_includes_root"])
                if data.get("ttl") or data.get("key_type"):
                    ttl = parse_duration(data.get("ttl") or 5 * 365 * 86400)
                    kt = data.get("key_type") or "ec"
                    kb = int(data.get("key_bits") or 0)
                    sim.regen_intermediate(ttl, kt, P.validate_key_type_length(kt, kb),
                                           keep_old=bool(data.get("keep_old")))
                else:
                    sim.set_int_chain(sim.pki_opts["chain_includes_root"])
                be = sim.mounts["pki_int/"].backend
                iss = be.issuers[be.default_issuer]
                if "leaf_not_after_behavior" in data:
                    iss.leaf_not_after_behavior = data["leaf_not_after_behavior"]
                return Response(200, {
                    "issuer_id": iss.id,
                    "certificate": P.cert_pem(iss.cert),
                    "not_after": int(P.not_after_of(iss.cert).timestamp()),
                    "ca_chain": [P.cert_pem(c) for c in iss.chain],
                    "root": P.cert_pem(sim.pki_root[0]),
                    "leaf_not_after_behavior": iss.leaf_not_after_behavior,
                })
            elif p == "pki" and method == "GET":
                be = sim.mounts["pki_int/"].backend
                iss = be.issuers[be.default_issuer]
                return Response(200, {"issuer_id": iss.id, "certificate": P.cert_pem(iss.cert),
                                      "ca_chain": [P.cert_pem(c) for c in iss.chain],
                                      "root": P.cert_pem(sim.pki_root[0])})
            elif p == "state" and method == "GET":
                return Response(200, {"sealed": sim.sealed, "initialized": sim.initialized,
                                      "standby_redirect": sim.standby_redirect,
                                      "clock_offset": sim.clock.offset,
                                      "faults": len(sim.faults),
                                      "tokens": len(sim.tokens), "leases": len(sim.leases),
                                      "in_flight": sim.in_flight,
                                      "in_flight_max": sim.in_flight_max})
        raise VaultError(404, ["unknown admin endpoint %s %s" % (method, path)])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, ssl_ctx=None):
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_ctx is not None:
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def shutdown_request(self, request):
        if isinstance(request, ssl.SSLSocket):
            # Go's tls.Conn.Close sends close_notify and closes without
            # waiting for the peer's; a non-blocking unwrap does the same.
            try:
                request.settimeout(0.0)
                request.unwrap()
            except (OSError, ValueError):
                pass
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError,
                            OSError)):
            return
        if Handler.verbose:
            traceback.print_exc()


# ==========================================================================
# TLS: accept any client certificate at the TLS layer, as Vault does
# (tls.RequestClientCert); cert auth verifies it against registered CAs.

_VERIFY_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_accept_all = _VERIFY_CB(lambda ok, store: 1)


def _ssl_ctx_handle(ctx):
    """(libssl, SSL_CTX*) of an ssl.SSLContext whose verify mode is CERT_OPTIONAL,
    or (None, None). The verify mode read back through the pointer checks that
    the pointer really is the context's SSL_CTX."""
    try:
        if sys.implementation.name != "cpython":
            return None, None
        libssl = None
        for name in ("libssl.so.3", "libssl.so.1.1", "libssl.so"):
            try:
                libssl = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if libssl is None:
            return None, None
        # PySSLContext { PyObject_HEAD; SSL_CTX *ctx; ... }
        ptr = ctypes.c_void_p.from_address(id(ctx) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
        libssl.SSL_CTX_get_verify_mode.restype = ctypes.c_int
        libssl.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
        if libssl.SSL_CTX_get_verify_mode(ptr) != 1:   # SSL_VERIFY_PEER after CERT_OPTIONAL
            return None, None
        return libssl, ptr
    except Exception:
        return None, None


def install_accept_any_client_cert(ctx):
    """Set SSL_CTX_set_verify(SSL_VERIFY_PEER, accept-all). Returns True if done."""
    libssl, ptr = _ssl_ctx_handle(ctx)
    if libssl is None:
        return False
    try:
        libssl.SSL_CTX_set_verify.restype = None
        libssl.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VERIFY_CB]
        libssl.SSL_CTX_set_verify(ptr, 1, _accept_all)
        return True
    except Exception:
        return False


# Session resumption as Go's crypto/tls server (Vault's listener) does it:
# session tickets in TLS 1.2 and 1.3, valid for up to 7 days
# (maxSessionTicketLifetime), and no server-side session-ID cache (Go has
# none, so a TLS 1.2 client that offers only a session ID gets a full
# handshake). A resumed session carries the peer certificate of the full
# handshake it came from, in OpenSSL as in Go.
SSL_CTRL_SET_SESS_CACHE_MODE = 44
SSL_SESS_CACHE_OFF = 0
TICKET_LIFETIME = 7 * 86400


def configure_session_resumption(ctx):
    """Tickets on, session-ID cache off, 7 day lifetime. Returns a description
    for ready.json: "tickets" when done as Go does, else what OpenSSL does."""
    ctx.options &= ~ssl.OP_NO_TICKET
    if hasattr(ssl, "OP_NO_RENEGOTIATION"):
        # Go's server never renegotiates and refuses a client's attempt, so
        # a connection's client certificate is the one of its handshake.
        ctx.options |= ssl.OP_NO_RENEGOTIATION
    libssl, ptr = _ssl_ctx_handle(ctx)
    if libssl is None:
        return "tickets+session-id-cache"
    try:
        libssl.SSL_CTX_ctrl.restype = ctypes.c_long
        libssl.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long,
                                        ctypes.c_void_p]
        libssl.SSL_CTX_ctrl(ptr, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF, None)
        libssl.SSL_CTX_set_timeout.restype = ctypes.c_long
        libssl.SSL_CTX_set_timeout.argtypes = [ctypes.c_void_p, ctypes.c_long]
        libssl.SSL_CTX_set_timeout(ptr, TICKET_LIFETIME)
        return "tickets"
    except Exception:
        return "tickets+session-id-cache"


def make_tls(dirpath, server_names, ca_from=None, cert_mode="auto"):
    now = P.utcnow()
    if ca_from:
        # Share another instance's TLS CA (an HA pair clients trust through one CA).
        with open(os.path.join(ca_from, "tls-ca.pem"), "rb") as f:
            ca = x509.load_pem_x509_certificate(f.read())
        with open(os.path.join(ca_from, "tls-ca-key.pem"), "rb") as f:
            ca_key = serialization.load_pem_private_key(f.read(), None)
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = P.make_ca_cert(ca_key, "vaultsim TLS CA", now - datetime.timedelta(seconds=30),
                            now + datetime.timedelta(days=3650))
    skey = ec.generate_private_key(ec.SECP256R1())
    dns, ips = [], []
    for n in server_names:
        try:
            ipaddress.ip_address(n)
            ips.append(n)
        except ValueError:
            dns.append(n)
    cn = (dns or ips or ["localhost"])[0]
    scert = P.make_leaf_cert(ca, ca_key, skey.public_key(), P.build_name(cn),
                             now - datetime.timedelta(seconds=30),
                             now + datetime.timedelta(days=365), dns=dns, ips=ips,
                             server=True, client=False,
                             key_usage=("DigitalSignature", "KeyEncipherment"))
    ca_path = os.path.join(dirpath, "tls-ca.pem")
    cert_path = os.path.join(dirpath, "tls-server.pem")
    key_path = os.path.join(dirpath, "tls-server-key.pem")
    write_file(ca_path, (P.cert_pem(ca) + "\n").encode())
    write_file(os.path.join(dirpath, "tls-ca-key.pem"),
               ca_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()), mode=0o600)
    write_file(cert_path, (P.cert_pem(scert) + "\n").encode())
    write_file(key_path, skey.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()), mode=0o600)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    resumption = configure_session_resumption(ctx)
    mode = "any" if cert_mode == "auto" and install_accept_any_client_cert(ctx) else "ca"
    return ctx, ca_path, mode, resumption


# ==========================================================================

def main(argv=None):
    ap = argparse.ArgumentParser(description="Vault API simulator")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--https-port", type=int, default=0)
    ap.add_argument("--token-style", choices=("hvs", "legacy"), default="hvs")
    ap.add_argument("--server-name", default=None,
                    help="comma list replacing the TLS server cert's SANs "
                         "(default: localhost,127.0.0.1)")
    ap.add_argument("--tls-ca-from", default=None, metavar="DIR",
                    help="sign the server cert with the TLS CA of the instance in DIR")
    ap.add_argument("--client-cert-mode", choices=("auto", "ca"), default="auto",
                    help=argparse.SUPPRESS)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        ap.error("vaultsim listens on loopback only")
    os.makedirs(args.dir, exist_ok=True)

    names = [n.strip() for n in (args.server_name or "localhost,127.0.0.1").split(",")
             if n.strip()]
    ssl_ctx, ca_path, tls_mode, tls_resumption = make_tls(args.dir, names, args.tls_ca_from,
                                          args.client_cert_mode)

    sim = Sim(token_style=args.token_style)
    sim.dir = args.dir
    sim.setup_pki()
    write_file(os.path.join(args.dir, "pki-root.pem"), (P.cert_pem(sim.pki_root[0]) + "\n")
               .encode())

    if tls_mode == "ca":
        def reload_cas(pems):
            for pem in pems:
                try:
                    ssl_ctx.load_verify_locations(cadata=pem)
                except ssl.SSLError:
                    pass
        sim.client_ca_hook = reload_cas

    Handler.sim = sim
    Handler.verbose = args.verbose
    sim.verbose = args.verbose
    host = "127.0.0.1" if args.host == "localhost" else args.host
    http_srv = Server((host, args.http_port), Handler)
    https_srv = Server((host, args.https_port), Handler, ssl_ctx=ssl_ctx)
    http_addr = "http://%s:%d" % (host, http_srv.server_address[1])
    https_addr = "https://%s:%d" % (host, https_srv.server_address[1])
    sim.self_addr = https_addr

    threads = []
    for srv in (http_srv, https_srv):
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                             daemon=True)
        t.start()
        threads.append(t)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ready = {
        "http_addr": http_addr,
        "https_addr": https_addr,
        "root_token": sim.root_token.id,
        "tls_ca": os.path.abspath(ca_path),
        "pid": os.getpid(),
        "dir": os.path.abspath(args.dir),
        "pki_root": os.path.abspath(os.path.join(args.dir, "pki-root.pem")),
        "client_cert_verification": tls_mode,
        "tls_session_resumption": tls_resumption,
        "version": VERSION,
    }
    write_file(os.path.join(args.dir, "ready.json"), (json.dumps(ready, indent=1) + "\n")
               .encode())
    if args.verbose:
        sys.stderr.write("vaultsim: ready %s %s\n" % (http_addr, https_addr))

    while not stop.wait(0.5):
        pass
    for srv in (http_srv, https_srv):
        srv.shutdown()
        srv.server_close()
    # Remove ready.json only if it is still ours (another instance may share DIR).
    rpath = os.path.join(args.dir, "ready.json")
    try:
        with open(rpath) as f:
            if json.load(f).get("pid") == os.getpid():
                os.unlink(rpath)
    except (OSError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
