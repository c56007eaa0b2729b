"""vaultsim backends: sys, token store, approle, cert auth, kv v1, kv v2, database.

Each backend has handle(req) -> Response, unauthenticated(req) -> bool,
write_op(req) -> "create"|"update" (Vault's existence check) and optionally
sudo_required(req). The dispatcher holds Sim.lock while a backend runs.
"""

import base64
import copy
import datetime
import re
import secrets
import string

from cryptography import x509

from vs_core import (Policy, Response, VaultError, bad_request, calculate_ttl, envelope, new_uuid,
                     no_content, not_found, parse_bool, parse_duration, parse_int,
                     parse_policies, parse_str_list, permission_denied, rand_base62,
                     rfc3339, sanitize_policies, unsupported)
from vs_pki import _glob, hex_colon, verify_signed_by


def _list_response(keys):
    if not keys:
        raise not_found()
    return envelope({"keys": keys})


def _children(paths, prefix):
    """Immediate children of prefix among paths, directories with '/'."""
    out = set()
    for p in paths:
        if not p.startswith(prefix):
            continue
        rest = p[len(prefix):]
        if rest == "":
            continue
        if "/" in rest:
            out.add(rest.split("/", 1)[0] + "/")
        else:
            out.add(rest)
    return sorted(out)


# ==========================================================================
# Token-issuing helpers shared by auth backends ("token_*" role fields)

TOKEN_FIELDS_DUR = ("token_ttl", "token_max_ttl", "token_explicit_max_ttl", "token_period")


def parse_token_fields(entry, d, legacy=True):
    """tokenutil.TokenParams.ParseTokenFields (plus the deprecated aliases)."""
    for k in TOKEN_FIELDS_DUR:
        if k in d:
            entry[k] = parse_duration(d[k], k)
    if legacy:
        if "ttl" in d and "token_ttl" not in d:
            entry["token_ttl"] = parse_duration(d["ttl"], "ttl")
        if "max_ttl" in d and "token_max_ttl" not in d:
            entry["token_max_ttl"] = parse_duration(d["max_ttl"], "max_ttl")
        if "period" in d and "token_period" not in d:
            entry["token_period"] = parse_duration(d["period"], "period")
        if "policies" in d and "token_policies" not in d:
            entry["token_policies"] = parse_policies(d["policies"])
    if "token_policies" in d:
        entry["token_policies"] = parse_policies(d["token_policies"])
    if "token_bound_cidrs" in d:
        entry["token_bound_cidrs"] = parse_str_list(d["token_bound_cidrs"])
    if "token_no_default_policy" in d:
        entry["token_no_default_policy"] = parse_bool(d["token_no_default_policy"], False)
    if "token_num_uses" in d:
        n = parse_int(d["token_num_uses"], 0, "token_num_uses")
        if n < 0:
            raise bad_request("'token_num_uses' cannot be negative")
        entry["token_num_uses"] = n
    if "token_type" in d:
        tt = d["token_type"] or "default"
        if tt not in ("default", "service", "batch", "default-service", "default-batch"):
            raise bad_request("invalid 'token_type' value \"%s\"" % tt)
        entry["token_type"] = tt
    if entry.get("token_max_ttl", 0) > 0 and entry.get("token_ttl", 0) > entry["token_max_ttl"]:
        raise bad_request("'token_ttl' cannot be greater than 'token_max_ttl'")
    return entry


def token_fields_data(entry):
    return {
        "token_bound_cidrs": entry.get("token_bound_cidrs", []),
        "token_explicit_max_ttl": entry.get("token_explicit_max_ttl", 0),
        "token_max_ttl": entry.get("token_max_ttl", 0),
        "token_no_default_policy": entry.get("token_no_default_policy", False),
        "token_num_uses": entry.get("token_num_uses", 0),
        "token_period": entry.get("token_period", 0),
        "token_policies": entry.get("token_policies", []),
        "token_ttl": entry.get("token_ttl", 0),
        "token_type": entry.get("token_type", "default"),
    }


# ==========================================================================
# sys/

SYS_UNAUTH = {"health", "seal-status", "leader", "init", "internal/ui/mounts",
              "wrapping/lookup"}

KV_WARNING = ("Invalid path for a versioned K/V secrets engine. See the API docs for the "
              "appropriate API endpoints to use. If using the Vault CLI, use 'vault kv %s' "
              "for this operation.")


class SysBackend:
    type = "system"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount

    def unauthenticated(self, req):
        s = req.sub.rstrip("/")
        return s in SYS_UNAUTH or s.startswith("internal/ui/mounts/")

    def write_op(self, req):
        m = re.match(r"^(?:policy|policies/acl)/(.+)$", req.sub)
        if m:
            return "update" if m.group(1).lower() in self.sim.policies else "create"
        return "update"

    def sudo_required(self, req):
        s = req.sub
        return (s.startswith("auth/") and req.op in ("update", "create", "delete")
                and not s.endswith("/tune")) or s.startswith("leases/revoke-prefix/") or \
            s.startswith("leases/revoke-force/") or (s.startswith("leases/lookup/")
                                                     and req.op == "list") or \
            s.startswith("audit") or s.startswith("raw")

    def handle(self, req):
        sim = self.sim
        s, op = req.sub.rstrip("/") if req.op == "list" else req.sub, req.op
        if s == "seal-status" and op == "read":
            return Response(200, sim.seal_status())
        if s == "leader" and op == "read":
            return Response(200, sim.leader_status())
        if s == "init" and op == "read":
            return Response(200, {"initialized": sim.initialized})
        # ---- policies
        if s in ("policy",) and op in ("read", "list"):
            names = sorted(sim.policies) + ["root"]
            return Response(200, dict(envelope({"keys": names, "policies": names}).body,
                                      keys=names, policies=names))
        if s == "policies/acl" and op == "list":
            return envelope({"keys": sorted(sim.policies) + ["root"]})
        m = re.match(r"^(policy|policies/acl)/(.+)$", s)
        if m:
            return self._policy(req, m.group(1), m.group(2).lower())
        # ---- mounts
        if s == "mounts" and op == "read":
            data = {p: m.info() for p, m in sorted(sim.mounts.items())}
            body = envelope(data).body
            body.update(data)
            return Response(200, body)
        m = re.match(r"^mounts/(.+?)/tune$", s)
        if m:
            return self._tune(req, m.group(1))
        m = re.match(r"^mounts/(.+)$", s)
        if m:
            return self._mount(req, m.group(1))
        if s == "auth" and op == "read":
            data = {p: m.info() for p, m in sorted(sim.auth_mounts.items())}
            body = envelope(data).body
            body.update(data)
            return Response(200, body)
        m = re.match(r"^auth/(.+?)/tune$", s)
        if m:
            return self._tune(req, "auth/" + m.group(1))
        m = re.match(r"^auth/(.+)$", s)
        if m:
            return self._auth_mount(req, m.group(1))
        # ---- leases
        m = re.match(r"^(?:leases/renew|renew)(?:/(.+))?$", s)
        if m:
            if op not in ("update", "create"):
                raise unsupported()
            return self._lease_renew(req, m.group(1))
        m = re.match(r"^(?:leases/revoke|revoke)(?:/(.+))?$", s)
        if m:
            if op not in ("update", "create"):
                raise unsupported()
            lid = m.group(1) or req.data.get("lease_id") or ""
            if not lid:
                raise bad_request("lease_id must be specified")
            lease = sim.leases.get(lid)
            if lease is not None:
                sim.revoke_lease(lease)
            return no_content()
        m = re.match(r"^(?:leases/revoke-prefix|revoke-prefix|leases/revoke-force|"
                     r"revoke-force)/(.+)$", s)
        if m:
            for lease in list(sim.leases.values()):
                if lease.id.startswith(m.group(1)):
                    sim.revoke_lease(lease)
            return no_content()
        if s == "leases/lookup" and op in ("update", "create"):
            lid = req.data.get("lease_id") or ""
            if not lid:
                raise bad_request("lease_id must be specified")
            lease = sim.get_lease(lid)
            if lease is None:
                raise bad_request("invalid lease")
            return envelope(lease.lookup_data(sim.now()))
        m = re.match(r"^leases/lookup/(.*)$", s)
        if m and op == "list":
            prefix = m.group(1)
            if prefix and not prefix.endswith("/"):
                prefix += "/"
            ids = [lid for lid in sim.live_leases() if lid.startswith(prefix)]
            return _list_response(_children(ids, prefix))
        # ---- capabilities
        if s in ("capabilities-self", "capabilities", "capabilities-accessor"):
            return self._capabilities(req, s)
        # ---- ui mounts (used by consul-template / Vault Agent for kv detection)
        if s == "internal/ui/mounts" and op == "read":
            data = {"secret": {p: m.info() for p, m in sim.mounts.items()},
                    "auth": {p: m.info() for p, m in sim.auth_mounts.items()}}
            return envelope(data)
        m = re.match(r"^internal/ui/mounts/(.+)$", s)
        if m and op == "read":
            return self._ui_mount(req, m.group(1))
        if s == "internal/ui/resultant-acl" and op == "read":
            return envelope({"root": req.token is not None and req.token.is_root()})
        # ---- response wrapping
        m = re.match(r"^wrapping/(wrap|unwrap|lookup|rewrap)$", s)
        if m:
            import vs_wrapping
            return vs_wrapping.handle(sim, req, m.group(1))
        if s == "health":
            raise unsupported()
        raise VaultError(404, ['no handler for route "sys/%s". route entry not found.' % s])

    # ---- policies

    def _policy(self, req, kind, name):
        sim, op = self.sim, req.op
        field = "rules" if kind == "policy" else "policy"
        if op == "read":
            if name == "root" and kind == "policy":
                return envelope({"name": "root", "rules": ""})
            pol = sim.policies.get(name)
            if pol is None:
                raise not_found()
            data = {"name": name, field: pol.raw}
            resp = envelope(data)
            if kind == "policy":
                resp.body.update(data)
            return resp
        if op in ("update", "create"):
            if name in ("root", "response-wrapping", "control-group"):
                raise bad_request('cannot update "%s" policy' % name)
            text = req.data.get("policy")
            if text is None:
                text = req.data.get("rules")
            if text is None or text == "":
                raise bad_request("'policy' parameter not supplied or empty")
            try:
                text = base64.b64decode(text, validate=True).decode() \
                    if re.fullmatch(r"[A-Za-z0-9+/=\s]+", text) and "path" not in text else text
            except (ValueError, UnicodeDecodeError):
                pass
            sim.policies[name] = Policy(name, text)
            return no_content()
        if op == "delete":
            if name in ("root", "default", "response-wrapping", "control-group"):
                raise bad_request('cannot delete "%s" policy' % name)
            sim.policies.pop(name, None)
            return no_content()
        raise unsupported()

    # ---- mounts

    def _mount(self, req, path):
        sim, op = self.sim, req.op
        path = path.strip("/") + "/"
        if op in ("update", "create"):
            d = req.data
            mtype = d.get("type") or ""
            if not mtype:
                raise bad_request("backend type must be specified as a string")
            opts = dict(d.get("options") or {})
            if mtype == "kv-v2":
                mtype = "kv"
                opts["version"] = "2"
            if mtype not in ("kv", "generic", "pki", "database", "cubbyhole"):
                raise bad_request("plugin not found in the catalog: %s" % mtype)
            if mtype == "generic":
                mtype = "kv"
            for p in list(sim.mounts):
                if path.startswith(p) or p.startswith(path):
                    raise bad_request("path is already in use at %s" % p)
            if path.startswith("sys/") or path.startswith("auth/") or \
                    path.startswith("identity/"):
                raise bad_request("cannot mount \"%s\"" % path)
            cfg = d.get("config") or {}
            sim.add_mount(path, mtype, options=opts, config=cfg,
                          description=d.get("description") or "")
            return no_content()
        if op == "delete":
            m = sim.mounts.pop(path, None)
            if m is not None:
                for lease in list(sim.leases.values()):
                    if lease.id.startswith(path):
                        sim.revoke_lease(lease)
            return no_content()
        if op == "read":
            m = sim.mounts.get(path)
            if m is None:
                raise bad_request("No secret engine mount at %s" % path)
            return envelope(m.info())
        raise unsupported()

    def _auth_mount(self, req, path):
        sim, op = self.sim, req.op
        path = path.strip("/") + "/"
        if op in ("update", "create"):
            d = req.data
            mtype = d.get("type") or ""
            if mtype not in ("approle", "cert", "token", "kubernetes", "jwt", "oidc"):
                raise bad_request("plugin not found in the catalog: %s" % mtype)
            if path in sim.auth_mounts:
                raise bad_request("path is already in use at auth/%s" % path)
            sim.add_auth_mount(path, mtype, config=d.get("config") or {},
                               description=d.get("description") or "")
            return no_content()
        if op == "delete":
            if path == "token/":
                raise bad_request("token credential backend cannot be disabled")
            sim.auth_mounts.pop(path, None)
            for tok in list(sim.tokens.values()):
                if tok.path.startswith("auth/" + path):
                    sim.revoke_token(tok)
            return no_content()
        if op == "read":
            m = sim.auth_mounts.get(path)
            if m is None:
                raise bad_request("No auth engine at %s" % path)
            return envelope(m.info())
        raise unsupported()

    def _tune(self, req, path):
        sim = self.sim
        path = path.strip("/") + "/"
        if path.startswith("auth/"):
            m = sim.auth_mounts.get(path[5:])
        else:
            m = sim.mounts.get(path)
        if m is None:
            raise bad_request("cannot fetch sysview for path \"%s\"" % path)
        if req.op == "read":
            return envelope(m.tune_info())
        if req.op in ("update", "create"):
            d = req.data
            for k in ("default_lease_ttl", "max_lease_ttl"):
                if k in d:
                    v = d[k]
                    m.config[k] = 0 if v in ("system", "") else parse_duration(v, k)
            if "description" in d:
                m.description = d["description"] or ""
            if isinstance(d.get("options"), dict):
                m.options.update(d["options"])
            return no_content()
        raise unsupported()

    # ---- leases

    def _lease_renew(self, req, url_id):
        sim = self.sim
        lid = url_id or req.data.get("lease_id") or ""
        if not lid:
            raise bad_request("lease_id must be specified")
        increment = parse_duration(req.data.get("increment"), "increment")
        lease = sim.get_lease(lid)
        if lease is None:
            raise bad_request("lease not found")
        if not lease.renewable:
            raise bad_request("lease is not renewable")
        backend_ttl, backend_max = lease.backend_ttl, lease.backend_max
        if lease.renew_fn is not None:
            backend_ttl, backend_max = lease.renew_fn()
        now = sim.now()
        ttl, warnings = calculate_ttl(now, increment, backend_ttl, 0, backend_max, 0,
                                      lease.issue_time, lease.mount_default, lease.mount_max)
        lease.expire_time = now + ttl
        lease.last_renewal = now
        return envelope(None, lease_id=lease.id, renewable=True, lease_duration=ttl,
                        warnings=warnings)

    # ---- capabilities

    def _capabilities(self, req, kind):
        sim = self.sim
        d = req.data
        paths = parse_str_list(d.get("paths")) or parse_str_list(d.get("path"))
        if kind == "capabilities-self":
            tok = req.token
        elif kind == "capabilities":
            tok = sim.lookup_token(d.get("token") or "")
        else:
            tok = sim.lookup_accessor(d.get("accessor") or "")
        if tok is None:
            raise bad_request("invalid token")
        acl = sim.acl_for(tok)
        data = {}
        allcaps = set()
        for p in paths:
            p = p.lstrip("/")
            if acl.root:
                caps = ["root"]
            else:
                c = acl.capabilities(p)
                caps = sorted(c) if c else ["deny"]
            data[p] = caps
            allcaps.update(caps)
        data["capabilities"] = sorted(allcaps) if allcaps else ["deny"]
        return envelope(data)

    def _ui_mount(self, req, path):
        sim = self.sim
        tok = sim.lookup_token(req.client_token) if req.client_token else None
        if tok is None:
            raise permission_denied()
        full = path if path.endswith("/") else path + "/"
        full = full[1:] if full.startswith("/") else full
        # Vault's sanitizeMountPath, and one answer for "no such mount" and
        # "no access", so the endpoint cannot list mounts by brute force.
        preflight = VaultError(403, ["preflight capability check returned 403, please "
                                     "ensure client's policies grant access to path "
                                     "\"%s\"" % full])
        best = None
        for p, m in sim.mounts.items():
            if full.startswith(p) and (best is None or len(p) > len(best.path)):
                best = m
        if best is None:
            raise preflight
        acl = sim.acl_for(tok)
        if not acl.root:
            ok = False
            for pat in list(acl.exact) + list(acl.globs):
                plain = pat.rstrip("*")
                if plain.startswith(best.path) or best.path.startswith(plain.split("+")[0]):
                    if "deny" not in (acl.exact.get(pat) or acl.globs.get(pat) or set()):
                        ok = True
                        break
            if not ok:
                raise preflight
        info = best.info()
        info["path"] = best.path
        return envelope(info)


# ==========================================================================
# auth/token/

class TokenBackend:
    type = "token"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount

    def unauthenticated(self, req):
        return False

    def write_op(self, req):
        return "update"

    def sudo_required(self, req):
        return (req.sub.rstrip("/") == "accessors") or req.sub.startswith("create-orphan") or \
            req.sub.startswith("revoke-orphan")

    def handle(self, req):
        sim = self.sim
        s, op = req.sub.rstrip("/"), req.op
        write = op in ("update", "create")
        if s in ("create", "create-orphan") or s.startswith("create/"):
            if not write:
                raise unsupported()
            if s.startswith("create/"):
                raise bad_request("unknown role %s" % s.split("/", 1)[1])
            return self._create(req, orphan=s == "create-orphan")
        if s == "lookup-self":
            if op not in ("read", "update", "create"):
                raise unsupported()
            return envelope(req.token.lookup_data(sim.now()))
        if s == "lookup" or s.startswith("lookup/"):
            if op not in ("read", "update", "create"):
                raise unsupported()
            tid = s[7:] if s.startswith("lookup/") else req.data.get("token") or ""
            if not tid:
                raise bad_request("missing token")
            tok = sim.lookup_token(tid)
            if tok is None:
                raise VaultError(403, ["bad token"])
            return envelope(tok.lookup_data(sim.now()))
        if s == "lookup-accessor" or s.startswith("lookup-accessor/"):
            acc = s[16:] if "/" in s else req.data.get("accessor") or ""
            tok = sim.lookup_accessor(acc)
            if tok is None:
                raise bad_request("invalid accessor")
            return envelope(tok.lookup_data(sim.now(), hide_id=True))
        if s == "renew-self":
            if not write:
                raise unsupported()
            return sim.renew_token(req.token, req)
        if s == "renew" or s.startswith("renew/"):
            if not write:
                raise unsupported()
            tid = s[6:] if s.startswith("renew/") else req.data.get("token") or ""
            if not tid:
                raise bad_request("missing token")
            tok = sim.lookup_token(tid)
            if tok is None:
                raise bad_request("token not found")
            return sim.renew_token(tok, req)
        if s == "renew-accessor":
            tok = sim.lookup_accessor(req.data.get("accessor") or "")
            if tok is None:
                raise bad_request("invalid accessor")
            resp = sim.renew_token(tok, req)
            if resp.body and resp.body.get("auth"):
                resp.body["auth"]["client_token"] = ""
            return resp
        if s == "revoke-self":
            if not write:
                raise unsupported()
            sim.revoke_token(req.token)
            return no_content()
        if s in ("revoke", "revoke-orphan") or s.startswith("revoke/"):
            if not write:
                raise unsupported()
            tid = s[7:] if s.startswith("revoke/") else req.data.get("token") or ""
            if not tid:
                raise bad_request("missing token")
            tok = sim.tokens.get(tid)
            if tok is not None:
                sim.revoke_token(tok, orphan_children=s == "revoke-orphan")
            return no_content()
        if s == "revoke-accessor":
            if not write:
                raise unsupported()
            tok = sim.lookup_accessor(req.data.get("accessor") or "")
            if tok is None:
                raise bad_request("invalid accessor")
            sim.revoke_token(tok)
            return no_content()
        if s == "accessors" and op == "list":
            return envelope({"keys": sorted(t.accessor for t in sim.live_tokens())})
        if s == "roles" and op == "list":
            raise not_found()
        if s == "tidy" and write:
            return envelope(None, warnings=["Tidy operation successfully started. Any "
                                            "information from the operation will be printed "
                                            "to Vault's server logs."])
        raise VaultError(404, ['no handler for route "auth/token/%s". route entry not found.'
                               % s])

    def _create(self, req, orphan):
        sim = self.sim
        d = req.data
        parent = req.token
        parent_root = parent.is_root()
        if "policies" in d and d["policies"] not in (None, "", []):
            pols = parse_policies(d["policies"])
        else:
            pols = list(parent.policies)
        no_default = parse_bool(d.get("no_default_policy"), False)
        if not parent_root:
            parent_pols = set(parent.policies) - {"default"}
            req_pols = set(pols) - {"default"}
            if not req_pols.issubset(parent_pols):
                raise bad_request("child policies must be subset of parent")
        if pols == ["root"]:
            final_pols = ["root"]
        else:
            final_pols = sanitize_policies(pols, add_default=not no_default)
            if no_default:
                final_pols = [p for p in final_pols if p != "default"] or final_pols
        no_parent = parse_bool(d.get("no_parent"), False) or orphan
        if no_parent and not parent_root and not sim.acl_for(parent).allowed(
                "auth/token/create-orphan", "update", sudo=True) and not orphan:
            raise bad_request("root or sudo privileges required to create orphan token")
        ttl = parse_duration(d.get("ttl") or d.get("lease"), "ttl")
        explicit_max = parse_duration(d.get("explicit_max_ttl"), "explicit_max_ttl")
        period = parse_duration(d.get("period"), "period")
        if period and not parent_root:
            if not sim.acl_for(parent).allowed("auth/token/create", "update", sudo=True):
                raise bad_request("root or sudo privileges required to create periodic token")
        num_uses = parse_int(d.get("num_uses"), 0, "num_uses")
        if num_uses < 0:
            raise bad_request("number of uses cannot be negative")
        renewable = parse_bool(d.get("renewable"), True, "renewable")
        meta = d.get("meta") or None
        if meta is not None and not isinstance(meta, dict):
            raise bad_request("meta must be a map")
        dn = d.get("display_name") or ""
        display = ("token-" + dn) if dn else "token"
        display = re.sub(r"[^a-zA-Z0-9-]", "-", display)
        tok, warnings = sim.create_token(
            policies=final_pols, ttl=ttl, max_ttl=0, period=period,
            explicit_max_ttl=explicit_max, num_uses=num_uses, renewable=renewable,
            meta=meta, display_name=display, path="auth/token/create" +
            ("-orphan" if orphan else ""), auth_mount=self.mount, auth_type="token",
            parent=None if no_parent else parent.id, orphan=no_parent,
            no_expiry=(final_pols == ["root"] and ttl == 0 and period == 0 and
                       explicit_max == 0))
        if tok.expire_time is None:
            lease_duration = 0
        else:
            lease_duration = tok.creation_ttl
        return envelope(None, auth=tok.auth_block(lease_duration=lease_duration),
                        warnings=warnings)

    def renew_params(self, tok, req):
        return tok.backend_ttl, 0, tok.period


# ==========================================================================
# auth/approle/

class AppRoleBackend:
    type = "approle"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount
        self.roles = {}
        self.role_ids = {}        # role_id -> role name
        self.secret_ids = {}      # role name -> {secret_id: entry}
        self.accessors = {}       # accessor -> (role name, secret_id)

    def unauthenticated(self, req):
        return req.sub == "login"

    def write_op(self, req):
        m = re.match(r"^role/([^/]+)$", req.sub)
        if m:
            return "update" if m.group(1).lower() in self.roles else "create"
        return "update"

    def handle(self, req):
        s, op = req.sub.rstrip("/") if req.op == "list" else req.sub, req.op
        write = op in ("update", "create")
        if s == "login":
            if not write:
                raise unsupported()
            return self._login(req)
        if s == "role" and op == "list":
            return _list_response(sorted(self.roles))
        m = re.match(r"^role/([^/]+)$", s)
        if m:
            return self._role(req, m.group(1).lower())
        m = re.match(r"^role/([^/]+)/role-id$", s)
        if m:
            return self._role_id(req, m.group(1).lower())
        m = re.match(r"^role/([^/]+)/(secret-id|custom-secret-id)$", s)
        if m:
            name = m.group(1).lower()
            if op == "list" and m.group(2) == "secret-id":
                self._purge(name)
                role = self.roles.get(name)
                if role is None:
                    raise bad_request('role "%s" does not exist' % name)
                return _list_response(sorted(e["secret_id_accessor"] for e in
                                             self.secret_ids.get(name, {}).values()))
            if not write:
                raise unsupported()
            return self._gen_secret_id(req, name, custom=m.group(2) == "custom-secret-id")
        m = re.match(r"^role/([^/]+)/secret-id/(lookup|destroy)$", s)
        if m:
            return self._secret_id_op(req, m.group(1).lower(), m.group(2), by_accessor=False)
        m = re.match(r"^role/([^/]+)/secret-id-accessor/(lookup|destroy)$", s)
        if m:
            return self._secret_id_op(req, m.group(1).lower(), m.group(2), by_accessor=True)
        m = re.match(r"^role/([^/]+)/([a-z_-]+)$", s)
        if m and m.group(1).lower() in self.roles:
            return self._role_field(req, m.group(1).lower(), m.group(2))
        if s == "tidy/secret-id" and write:
            for name in list(self.secret_ids):
                self._purge(name)
            return Response(202, envelope(None, warnings=["Tidy operation successfully "
                                                          "started."]).body)
        raise unsupported()

    # ---- roles

    def _role(self, req, name):
        op = req.op
        if op == "read":
            role = self.roles.get(name)
            if role is None:
                raise not_found()
            data = {
                "bind_secret_id": role["bind_secret_id"],
                "local_secret_ids": role["local_secret_ids"],
                "secret_id_bound_cidrs": role["secret_id_bound_cidrs"],
                "secret_id_num_uses": role["secret_id_num_uses"],
                "secret_id_ttl": role["secret_id_ttl"],
            }
            data.update(token_fields_data(role))
            data["policies"] = role.get("token_policies", [])
            data["period"] = role.get("token_period", 0)
            return envelope(data)
        if op == "delete":
            role = self.roles.pop(name, None)
            if role is not None:
                self.role_ids.pop(role["role_id"], None)
                for e in self.secret_ids.pop(name, {}).values():
                    self.accessors.pop(e["secret_id_accessor"], None)
            return no_content()
        if op in ("create", "update"):
            d = req.data
            role = copy.deepcopy(self.roles.get(name)) or {
                "bind_secret_id": True, "local_secret_ids": False,
                "secret_id_bound_cidrs": [], "secret_id_num_uses": 0, "secret_id_ttl": 0,
                "token_policies": [], "token_ttl": 0, "token_max_ttl": 0,
                "token_explicit_max_ttl": 0, "token_period": 0, "token_num_uses": 0,
                "token_bound_cidrs": [], "token_no_default_policy": False,
                "token_type": "default", "role_id": None,
            }
            if "bind_secret_id" in d:
                role["bind_secret_id"] = parse_bool(d["bind_secret_id"], True, "bind_secret_id")
            if "secret_id_bound_cidrs" in d or "bound_cidr_list" in d:
                role["secret_id_bound_cidrs"] = parse_str_list(
                    d.get("secret_id_bound_cidrs", d.get("bound_cidr_list")))
            if "secret_id_num_uses" in d:
                n = parse_int(d["secret_id_num_uses"], 0, "secret_id_num_uses")
                if n < 0:
                    raise bad_request("secret_id_num_uses cannot be negative")
                role["secret_id_num_uses"] = n
            if "secret_id_ttl" in d:
                role["secret_id_ttl"] = parse_duration(d["secret_id_ttl"], "secret_id_ttl")
            if "local_secret_ids" in d:
                role["local_secret_ids"] = parse_bool(d["local_secret_ids"], False)
            parse_token_fields(role, d)
            if not role["bind_secret_id"] and not role["secret_id_bound_cidrs"] and \
                    not role["token_bound_cidrs"]:
                raise bad_request("at least one constraint should be enabled on the role")
            new_rid = d.get("role_id")
            if new_rid:
                owner = self.role_ids.get(new_rid)
                if owner is not None and owner != name:
                    raise bad_request("role_id already in use")
            if role["role_id"] is None or new_rid:
                if role["role_id"]:
                    self.role_ids.pop(role["role_id"], None)
                role["role_id"] = new_rid or new_uuid()
            self.role_ids[role["role_id"]] = name
            self.roles[name] = role
            return no_content()
        raise unsupported()

    def _role_field(self, req, name, field):
        role = self.roles[name]
        aliases = {"policies": "token_policies", "period": "token_period"}
        key = aliases.get(field, field)
        if key not in role and key not in ("token_policies",):
            raise unsupported()
        if req.op == "read":
            return envelope({field: role.get(key)})
        if req.op in ("update", "create"):
            fake = type("R", (), {})()
            fake.op = "update"
            fake.data = {field: req.data.get(field)}
            r = copy.deepcopy(role)
            if key in TOKEN_FIELDS_DUR or key.startswith("token_") or field in aliases:
                parse_token_fields(r, fake.data)
            elif key in ("secret_id_ttl",):
                r[key] = parse_duration(req.data.get(field), field)
            elif key in ("secret_id_num_uses",):
                r[key] = parse_int(req.data.get(field), 0, field)
            elif key in ("bind_secret_id", "local_secret_ids"):
                r[key] = parse_bool(req.data.get(field), True)
            elif key == "secret_id_bound_cidrs":
                r[key] = parse_str_list(req.data.get(field))
            self.roles[name] = r
            return no_content()
        if req.op == "delete":
            return no_content()
        raise unsupported()

    def _role_id(self, req, name):
        role = self.roles.get(name)
        if req.op == "read":
            if role is None:
                raise not_found()
            return envelope({"role_id": role["role_id"]})
        if req.op in ("update", "create"):
            if role is None:
                raise bad_request('role "%s" does not exist' % name)
            rid = req.data.get("role_id") or ""
            if not rid:
                raise bad_request("missing role_id")
            owner = self.role_ids.get(rid)
            if owner is not None and owner != name:
                raise bad_request("role_id already in use")
            self.role_ids.pop(role["role_id"], None)
            role["role_id"] = rid
            self.role_ids[rid] = name
            return no_content()
        raise unsupported()

    # ---- secret IDs

    def _purge(self, name):
        now = self.sim.now()
        ents = self.secret_ids.get(name, {})
        for sid, e in list(ents.items()):
            if e["expiration_time"] and now >= e["expiration_time"]:
                del ents[sid]
                self.accessors.pop(e["secret_id_accessor"], None)

    def _gen_secret_id(self, req, name, custom):
        role = self.roles.get(name)
        if role is None:
            raise bad_request('role "%s" does not exist' % name)
        if not role["bind_secret_id"]:
            raise bad_request("bind_secret_id is not set on the role")
        d = req.data
        if custom:
            sid = d.get("secret_id") or ""
            if not sid:
                raise bad_request("missing secret_id")
            if sid in self.secret_ids.get(name, {}):
                raise bad_request("SecretID is already registered")
        else:
            sid = new_uuid()
        num_uses = role["secret_id_num_uses"]
        if "num_uses" in d:
            n = parse_int(d["num_uses"], 0, "num_uses")
            if n < 0:
                raise bad_request("num_uses cannot be negative")
            if role["secret_id_num_uses"] > 0 and (n == 0 or n > role["secret_id_num_uses"]):
                raise bad_request("num_uses cannot be higher than the role's secret_id_num_uses")
            num_uses = n
        ttl = role["secret_id_ttl"]
        if "ttl" in d:
            t = parse_duration(d["ttl"], "ttl")
            if role["secret_id_ttl"] > 0 and (t == 0 or t > role["secret_id_ttl"]):
                raise bad_request("ttl cannot be longer than the role's secret_id_ttl")
            ttl = t
        meta = d.get("metadata") or {}
        if isinstance(meta, str):
            import json as _json
            try:
                meta = _json.loads(meta) if meta else {}
            except ValueError:
                raise bad_request("failed to parse metadata")
        now = self.sim.now()
        acc = new_uuid()
        entry = {
            "secret_id": sid, "secret_id_accessor": acc, "secret_id_num_uses": num_uses,
            "secret_id_ttl": ttl, "creation_time": now, "last_updated_time": now,
            "expiration_time": now + ttl if ttl else 0, "metadata": meta,
            "cidr_list": parse_str_list(d.get("cidr_list")),
            "token_bound_cidrs": parse_str_list(d.get("token_bound_cidrs")),
        }
        self.secret_ids.setdefault(name, {})[sid] = entry
        self.accessors[acc] = (name, sid)
        return envelope({"secret_id": sid, "secret_id_accessor": acc, "secret_id_ttl": ttl,
                         "secret_id_num_uses": num_uses})

    def _secret_id_data(self, e):
        return {
            "cidr_list": e["cidr_list"], "token_bound_cidrs": e["token_bound_cidrs"],
            "creation_time": rfc3339(e["creation_time"]),
            "expiration_time": rfc3339(e["expiration_time"]) if e["expiration_time"] else
            "0001-01-01T00:00:00Z",
            "last_updated_time": rfc3339(e["last_updated_time"]),
            "metadata": e["metadata"], "secret_id_accessor": e["secret_id_accessor"],
            "secret_id_num_uses": e["secret_id_num_uses"], "secret_id_ttl": e["secret_id_ttl"],
        }

    def _secret_id_op(self, req, name, action, by_accessor):
        if req.op not in ("update", "create"):
            raise unsupported()
        if name not in self.roles:
            raise bad_request('role "%s" does not exist' % name)
        self._purge(name)
        ents = self.secret_ids.get(name, {})
        if by_accessor:
            acc = req.data.get("secret_id_accessor") or ""
            ref = self.accessors.get(acc)
            e = ents.get(ref[1]) if ref and ref[0] == name else None
            if e is None:
                raise bad_request("failed to find accessor entry for secret_id_accessor: \"%s\""
                                  % acc)
        else:
            sid = req.data.get("secret_id") or ""
            if not sid:
                raise bad_request("missing secret_id")
            e = ents.get(sid)
        if action == "lookup":
            if e is None:
                return no_content()
            return envelope(self._secret_id_data(e))
        if e is not None:
            del ents[e["secret_id"]]
            self.accessors.pop(e["secret_id_accessor"], None)
        return no_content()

    # ---- login

    def _login(self, req):
        d = req.data
        role_id = (d.get("role_id") or "").strip()
        if not role_id:
            raise bad_request("missing role_id")
        name = self.role_ids.get(role_id)
        role = self.roles.get(name) if name else None
        if role is None:
            raise bad_request("invalid role or secret ID")
        meta = {}
        if role["bind_secret_id"]:
            sid = (d.get("secret_id") or "").strip()
            if not sid:
                raise bad_request("missing secret_id")
            self._purge(name)
            ents = self.secret_ids.get(name, {})
            e = ents.get(sid)
            if e is None:
                raise bad_request("invalid role or secret ID")
            if e["secret_id_num_uses"] > 0:
                if e["secret_id_num_uses"] == 1:
                    del ents[sid]
                    self.accessors.pop(e["secret_id_accessor"], None)
                else:
                    e["secret_id_num_uses"] -= 1
                    e["last_updated_time"] = self.sim.now()
            meta = dict(e["metadata"] or {})
        meta["role_name"] = name
        tok, warnings = self.sim.login_token(
            mount=self.mount, entry=role, path="auth/%slogin" % self.mount.path,
            display_name=self.mount.type, meta=meta, internal={"role_name": name},
            auth_type="approle")
        return envelope(None, auth=tok.auth_block(lease_duration=tok.creation_ttl),
                        warnings=warnings, mount_type="approle")

    def renew_params(self, tok, req):
        name = tok.internal.get("role_name")
        role = self.roles.get(name)
        if role is None:
            raise VaultError(500, ['failed to renew entry: role "%s" does not exist during '
                                   'renewal' % name])
        return role["token_ttl"], role["token_max_ttl"], role["token_period"]


# ==========================================================================
# auth/cert/

def _eku_allows_client(cert):
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    oids = list(eku)
    return (x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in oids or
            x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in oids)


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _valid_now(cert, now):
    nb = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    na = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return nb <= now <= na


class CertBackend:
    type = "cert"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount
        self.certs = {}
        self.config = {"disable_binding": False, "enable_identity_alias_metadata": False,
                       "ocsp_cache_size": 100, "role_cache_size": 200}

    def unauthenticated(self, req):
        return req.sub == "login"

    def write_op(self, req):
        m = re.match(r"^certs/([^/]+)$", req.sub)
        if m:
            return "update" if m.group(1).lower() in self.certs else "create"
        return "update"

    def handle(self, req):
        s, op = req.sub.rstrip("/") if req.op == "list" else req.sub, req.op
        write = op in ("update", "create")
        if s == "login":
            if not write:
                raise unsupported()
            return self._login(req)
        if s == "certs" and op == "list":
            return _list_response(sorted(self.certs))
        m = re.match(r"^certs/([^/]+)$", s)
        if m:
            return self._cert(req, m.group(1).lower())
        if s == "config":
            if op == "read":
                return envelope(dict(self.config))
            if write:
                for k in ("disable_binding", "enable_identity_alias_metadata"):
                    if k in req.data:
                        self.config[k] = parse_bool(req.data[k], False)
                return no_content()
        if s == "crls" and op == "list":
            raise not_found()
        raise unsupported()

    def _cert(self, req, name):
        op = req.op
        if op == "read":
            e = self.certs.get(name)
            if e is None:
                raise not_found()
            data = {k: v for k, v in e.items() if k not in ("parsed",)}
            data.update(token_fields_data(e))
            data["policies"] = e.get("token_policies", [])
            data["ttl"] = e.get("token_ttl", 0)
            data["max_ttl"] = e.get("token_max_ttl", 0)
            data["period"] = e.get("token_period", 0)
            return envelope(data)
        if op == "delete":
            self.certs.pop(name, None)
            return no_content()
        if op in ("update", "create"):
            d = req.data
            e = copy.deepcopy({k: v for k, v in (self.certs.get(name) or {}).items()
                               if k != "parsed"}) or {
                "certificate": "", "display_name": name, "allowed_names": [],
                "allowed_common_names": [], "allowed_dns_sans": [], "allowed_email_sans": [],
                "allowed_uri_sans": [], "allowed_organizational_units": [],
                "required_extensions": [], "allowed_metadata_extensions": [],
                "ocsp_enabled": False, "token_policies": [], "token_ttl": 0,
                "token_max_ttl": 0, "token_explicit_max_ttl": 0, "token_period": 0,
                "token_num_uses": 0, "token_bound_cidrs": [], "token_no_default_policy": False,
                "token_type": "default",
            }
            if "certificate" in d:
                e["certificate"] = d["certificate"] or ""
            if not e["certificate"]:
                raise bad_request("must specify a certificate")
            from vs_pki import load_pem_certs
            try:
                parsed = load_pem_certs(e["certificate"])
            except ValueError:
                parsed = []
            if not parsed:
                raise bad_request("failed to parse certificate")
            if "display_name" in d:
                e["display_name"] = d["display_name"] or name
            for k in ("allowed_names", "allowed_common_names", "allowed_dns_sans",
                      "allowed_email_sans", "allowed_uri_sans", "allowed_organizational_units",
                      "required_extensions", "allowed_metadata_extensions"):
                if k in d:
                    e[k] = parse_str_list(d[k])
            parse_token_fields(e, d)
            e["parsed"] = parsed
            self.certs[name] = e
            self.sim.client_cas_changed()
            return no_content()
        raise unsupported()

    def registered_ca_pems(self):
        out = []
        for e in self.certs.values():
            out.append(e["certificate"])
        return out

    def _verify(self, req, name=None):
        """verifyCredentials from builtin/credential/cert/path_login.go."""
        if req.scheme != "https":
            raise bad_request("tls connection required")
        if not req.peer_cert_der:
            raise bad_request("client certificate must be supplied")
        client = x509.load_der_x509_certificate(req.peer_cert_der)
        now = datetime.datetime.now(datetime.timezone.utc)
        if name:
            entries = [(name, self.certs[name])] if name in self.certs else []
        else:
            entries = sorted(self.certs.items())
        # Explicitly trusted non-CA certificates first.
        for n, e in entries:
            for t in e["parsed"]:
                if not _is_ca(t) and t.serial_number == client.serial_number and \
                        _aki(t) == _aki(client) and t == client:
                    if self._constraints(client, e):
                        return n, e, client
        chain_ok = []
        for n, e in entries:
            for t in e["parsed"]:
                if not _is_ca(t):
                    continue
                if client.issuer == t.subject and verify_signed_by(client, t) and \
                        _valid_now(client, now) and _valid_now(t, now) and \
                        _eku_allows_client(client):
                    chain_ok.append((n, e))
                    break
        if not chain_ok:
            raise bad_request("invalid certificate or no client certificate supplied")
        for n, e in chain_ok:
            if self._constraints(client, e):
                return n, e, client
        raise bad_request("no chain matching all constraints could be found for this login "
                          "certificate")

    def _constraints(self, client, e):
        cns = [a.value for a in client.subject.get_attributes_for_oid(
            x509.oid.NameOID.COMMON_NAME)]
        cn = cns[0] if cns else ""
        try:
            san = client.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns = san.get_values_for_type(x509.DNSName)
            emails = san.get_values_for_type(x509.RFC822Name)
            uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        except x509.ExtensionNotFound:
            dns, emails, uris = [], [], []
        if e["allowed_names"]:
            if not any(_glob(a, n) for a in e["allowed_names"] for n in [cn] + dns + emails):
                return False
        if e["allowed_common_names"]:
            if not any(_glob(a, cn) for a in e["allowed_common_names"]):
                return False
        if e["allowed_dns_sans"]:
            if not any(_glob(a, n) for a in e["allowed_dns_sans"] for n in dns):
                return False
        if e["allowed_email_sans"]:
            if not any(_glob(a, n) for a in e["allowed_email_sans"] for n in emails):
                return False
        if e["allowed_uri_sans"]:
            if not any(_glob(a, n) for a in e["allowed_uri_sans"] for n in uris):
                return False
        if e["allowed_organizational_units"]:
            ous = [a.value for a in client.subject.get_attributes_for_oid(
                x509.oid.NameOID.ORGANIZATIONAL_UNIT_NAME)]
            if not any(_glob(a, o) for a in e["allowed_organizational_units"] for o in ous):
                return False
        return True

    def _login(self, req):
        name = (req.data.get("name") or "").lower()
        n, e, client = self._verify(req, name or None)
        from cryptography.x509 import SubjectKeyIdentifier
        try:
            ski = client.extensions.get_extension_for_class(SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            ski = b""
        aki = _aki(client)
        cns = [a.value for a in client.subject.get_attributes_for_oid(
            x509.oid.NameOID.COMMON_NAME)]
        meta = {
            "cert_name": n,
            "common_name": cns[0] if cns else "",
            "serial_number": str(client.serial_number),
            "subject_key_id": hex_colon(ski),
            "authority_key_id": hex_colon(aki),
        }
        internal = {"subject_key_id": base64.b64encode(ski).decode(),
                    "authority_key_id": base64.b64encode(aki).decode(),
                    "policies": list(e.get("token_policies", []))}
        tok, warnings = self.sim.login_token(
            mount=self.mount, entry=e, path="auth/%slogin" % self.mount.path,
            display_name="%s-%s" % (self.mount.type, e.get("display_name") or n), meta=meta,
            internal=internal, auth_type="cert")
        return envelope(None, auth=tok.auth_block(lease_duration=tok.creation_ttl),
                        warnings=warnings, mount_type="cert")

    def renew_params(self, tok, req):
        name = (tok.meta or {}).get("cert_name", "")
        if not self.config["disable_binding"]:
            # Errors here are error responses: answered as 400 by Vault.
            _n, _e, client = self._verify(req, name)
            try:
                ski = client.extensions.get_extension_for_class(
                    x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                ski = b""
            skid = base64.b64encode(ski).decode()
            akid = base64.b64encode(_aki(client)).decode()
            if tok.internal.get("subject_key_id") != skid and \
                    tok.internal.get("authority_key_id") != akid:
                raise VaultError(500, ["failed to renew entry: client identity during renewal "
                                       "not matching client identity used during login"])
        e = self.certs.get(name)
        if e is None:
            return None
        if sorted(e.get("token_policies", [])) != sorted(tok.internal.get("policies", [])):
            raise VaultError(500, ["failed to renew entry: policies have changed, not renewing"])
        return e["token_ttl"], e["token_max_ttl"], e["token_period"]


def _aki(cert):
    try:
        return cert.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier).value.key_identifier or b""
    except x509.ExtensionNotFound:
        return b""


# ==========================================================================
# kv v1

class KVv1Backend:
    type = "kv"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount
        self.data = {}

    def unauthenticated(self, req):
        return False

    def write_op(self, req):
        return "update" if req.sub in self.data else "create"

    def handle(self, req):
        s, op = req.sub, req.op
        if op == "list":
            prefix = s if s.endswith("/") or s == "" else s + "/"
            if prefix == "/":
                prefix = ""
            return _list_response(_children(self.data.keys(), prefix))
        if s == "" or s.endswith("/"):
            if op == "read":
                raise not_found()
            raise bad_request("cannot write to a path ending in '/'")
        if op == "read":
            v = self.data.get(s)
            if v is None:
                raise not_found()
            ttl = self.mount.default_ttl()
            if "ttl" in v:
                try:
                    ttl = parse_duration(v["ttl"], "ttl")
                except VaultError:
                    pass
            elif "lease" in v:
                try:
                    ttl = parse_duration(v["lease"], "lease")
                except VaultError:
                    pass
            return envelope(copy.deepcopy(v), lease_duration=ttl, mount_type="kv")
        if op in ("create", "update"):
            if not req.data:
                raise bad_request("missing data fields")
            if "ttl" in req.data:
                parse_duration(req.data["ttl"], "ttl")
            self.data[s] = copy.deepcopy(req.data)
            return no_content()
        if op == "delete":
            self.data.pop(s, None)
            return no_content()
        raise unsupported()


# ==========================================================================
# kv v2

class KVv2Backend:
    type = "kv"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount
        self.config = {"max_versions": 0, "cas_required": False, "delete_version_after": 0}
        self.secrets = {}

    def unauthenticated(self, req):
        return False

    def write_op(self, req):
        m = re.match(r"^(data|metadata)/(.+)$", req.sub)
        if m:
            return "update" if m.group(2) in self.secrets else "create"
        return "update"

    def _now(self):
        return self.sim.now()

    def _version_meta(self, v):
        return {
            "created_time": rfc3339(v["created_time"]),
            "deletion_time": rfc3339(v["deletion_time"]) if v["deletion_time"] else "",
            "destroyed": v["destroyed"],
        }

    def _meta_for_version(self, sec, n):
        v = sec["versions"][n]
        d = self._version_meta(v)
        d["custom_metadata"] = sec["custom_metadata"] or None
        d["version"] = n
        return d

    def _max_versions(self, sec):
        mv = sec["max_versions"] or self.config["max_versions"] or 10
        return mv

    def handle(self, req):
        s, op = req.sub, req.op
        if s == "config":
            if op == "read":
                return envelope({"max_versions": self.config["max_versions"],
                                 "cas_required": self.config["cas_required"],
                                 "delete_version_after": _dur_str(
                                     self.config["delete_version_after"])})
            if op in ("update", "create"):
                d = req.data
                if "max_versions" in d:
                    self.config["max_versions"] = parse_int(d["max_versions"], 0)
                if "cas_required" in d:
                    self.config["cas_required"] = parse_bool(d["cas_required"], False)
                if "delete_version_after" in d:
                    self.config["delete_version_after"] = parse_duration(
                        d["delete_version_after"])
                return no_content()
            raise unsupported()
        m = re.match(r"^(data|metadata|delete|undelete|destroy|subkeys)/(.*)$", s)
        if not m or (m.group(2) == "" and not (m.group(1) == "metadata" and op == "list")):
            verb = {"read": "get", "update": "put", "create": "put", "list": "list",
                    "delete": "delete", "patch": "patch"}.get(op, "get")
            return Response(404, envelope(None, warnings=[KV_WARNING % verb]).body)
        kind, path = m.group(1), m.group(2)
        if kind == "data":
            return self._data(req, path)
        if kind == "metadata":
            return self._metadata(req, path)
        if kind == "subkeys":
            if op != "read":
                raise unsupported()
            resp = self._data(req, path)
            body = resp.body
            if resp.status == 200:
                body["data"] = {"subkeys": _subkeys(body["data"]["data"]),
                                "metadata": body["data"]["metadata"]}
            return resp
        if op not in ("update", "create"):
            raise unsupported()
        sec = self.secrets.get(path)
        versions = [parse_int(v, 0) for v in parse_str_list(req.data.get("versions"))]
        if kind != "delete" and not versions:
            raise bad_request("no version number provided")
        if kind == "delete" and not versions:
            raise bad_request("no version number provided")
        if sec is None:
            return no_content()
        now = self._now()
        for n in versions:
            v = sec["versions"].get(n)
            if v is None:
                continue
            if kind == "delete":
                if not v["deletion_time"]:
                    v["deletion_time"] = now
            elif kind == "undelete":
                if not v["destroyed"]:
                    v["deletion_time"] = None
            else:
                v["destroyed"] = True
                v["data"] = None
        sec["updated_time"] = now
        return no_content()

    def _data(self, req, path):
        op = req.op
        sec = self.secrets.get(path)
        now = self._now()
        if op == "read":
            if sec is None:
                raise not_found()
            n = parse_int(req.data.get("version"), 0, "version")
            if n == 0:
                n = sec["current_version"]
            v = sec["versions"].get(n)
            if v is None:
                raise not_found()
            meta = self._meta_for_version(sec, n)
            if v["destroyed"] or (v["deletion_time"] and v["deletion_time"] <= now):
                return Response(404, envelope({"data": None, "metadata": meta}).body)
            return envelope({"data": copy.deepcopy(v["data"]), "metadata": meta},
                            mount_type="kv")
        if op in ("create", "update"):
            d = req.data
            data = d.get("data")
            if data is None:
                raise bad_request("no data provided")
            if not isinstance(data, dict):
                raise bad_request("data must be a map")
            opts = d.get("options") or {}
            cas_required = self.config["cas_required"] or (sec and sec["cas_required"])
            cas = opts.get("cas") if isinstance(opts, dict) else None
            if cas is None and cas_required:
                raise bad_request("check-and-set parameter required for this call")
            if cas is not None:
                cur = sec["current_version"] if sec else 0
                if parse_int(cas, -1, "cas") != cur:
                    raise bad_request("check-and-set parameter did not match the current version")
            if sec is None:
                sec = {"created_time": now, "updated_time": now, "current_version": 0,
                       "oldest_version": 0, "max_versions": 0, "cas_required": False,
                       "delete_version_after": 0, "custom_metadata": None, "versions": {}}
                self.secrets[path] = sec
            return self._put_version(sec, copy.deepcopy(data), now)
        if op == "patch":
            if sec is None or sec["current_version"] == 0:
                raise not_found()
            v = sec["versions"].get(sec["current_version"])
            if v is None or v["destroyed"] or v["deletion_time"]:
                raise not_found()
            d = req.data
            data = d.get("data")
            if not isinstance(data, dict):
                raise bad_request("no data provided")
            opts = d.get("options") or {}
            if isinstance(opts, dict) and opts.get("cas") is not None:
                if parse_int(opts["cas"], -1) != sec["current_version"]:
                    raise bad_request("check-and-set parameter did not match the current version")
            merged = copy.deepcopy(v["data"])
            _merge_patch(merged, data)
            return self._put_version(sec, merged, now)
        if op == "delete":
            if sec is None:
                return no_content()
            v = sec["versions"].get(sec["current_version"])
            if v is not None and not v["deletion_time"]:
                v["deletion_time"] = now
            sec["updated_time"] = now
            return no_content()
        raise unsupported()

    def _put_version(self, sec, data, now):
        n = sec["current_version"] + 1
        dva = sec["delete_version_after"] or self.config["delete_version_after"]
        sec["versions"][n] = {"data": data, "created_time": now,
                              "deletion_time": now + dva if dva else None,
                              "destroyed": False}
        sec["current_version"] = n
        sec["updated_time"] = now
        if sec["oldest_version"] == 0:
            sec["oldest_version"] = 1
        mv = self._max_versions(sec)
        while len(sec["versions"]) > mv:
            oldest = min(sec["versions"])
            del sec["versions"][oldest]
            sec["oldest_version"] = min(sec["versions"])
        return envelope(self._meta_for_version(sec, n), mount_type="kv")

    def _metadata(self, req, path):
        op = req.op
        if op == "list":
            prefix = path if path.endswith("/") or path == "" else path + "/"
            return _list_response(_children(self.secrets.keys(), prefix))
        sec = self.secrets.get(path)
        if op == "read":
            if sec is None:
                raise not_found()
            return envelope({
                "cas_required": sec["cas_required"],
                "created_time": rfc3339(sec["created_time"]),
                "current_version": sec["current_version"],
                "custom_metadata": sec["custom_metadata"] or None,
                "delete_version_after": _dur_str(sec["delete_version_after"]),
                "max_versions": sec["max_versions"],
                "oldest_version": sec["oldest_version"],
                "updated_time": rfc3339(sec["updated_time"]),
                "versions": {str(n): self._version_meta(v)
                             for n, v in sorted(sec["versions"].items())},
            })
        if op in ("create", "update", "patch"):
            d = req.data
            now = self._now()
            if sec is None:
                sec = {"created_time": now, "updated_time": now, "current_version": 0,
                       "oldest_version": 0, "max_versions": 0, "cas_required": False,
                       "delete_version_after": 0, "custom_metadata": None, "versions": {}}
                self.secrets[path] = sec
            if "max_versions" in d:
                sec["max_versions"] = parse_int(d["max_versions"], 0)
            if "cas_required" in d:
                sec["cas_required"] = parse_bool(d["cas_required"], False)
            if "delete_version_after" in d:
                sec["delete_version_after"] = parse_duration(d["delete_version_after"])
            if "custom_metadata" in d:
                cm = d["custom_metadata"]
                if cm is not None and not isinstance(cm, dict):
                    raise bad_request("custom_metadata must be a map")
                sec["custom_metadata"] = cm
            sec["updated_time"] = now
            return no_content()
        if op == "delete":
            self.secrets.pop(path, None)
            return no_content()
        raise unsupported()


def _dur_str(secs):
    from vs_core import go_duration
    return go_duration(secs)


def _merge_patch(target, patch):
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            _merge_patch(target[k], v)
        else:
            target[k] = copy.deepcopy(v)


def _subkeys(data):
    if not isinstance(data, dict):
        return None
    return {k: _subkeys(v) if isinstance(v, dict) else None for k, v in data.items()}


# ==========================================================================
# database/

def _password():
    """Vault's default password policy: 20 chars, >=1 lower, upper, digit, '-'."""
    alpha = string.ascii_letters + string.digits + "-"
    while True:
        pw = [secrets.choice(alpha) for _ in range(20)]
        s = "".join(pw)
        if (any(c.islower() for c in s) and any(c.isupper() for c in s) and
                any(c.isdigit() for c in s) and "-" in s):
            return s


class DatabaseBackend:
    type = "database"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount
        self.configs = {}
        self.roles = {}
        self.users = {}     # username -> lease id (live "database users")

    def unauthenticated(self, req):
        return False

    def write_op(self, req):
        m = re.match(r"^(roles|config)/([^/]+)$", req.sub)
        if m:
            store = self.roles if m.group(1) == "roles" else self.configs
            return "update" if m.group(2) in store else "create"
        return "update"

    def handle(self, req):
        s, op = req.sub.rstrip("/") if req.op == "list" else req.sub, req.op
        write = op in ("update", "create")
        if s == "config" and op == "list":
            return _list_response(sorted(self.configs))
        m = re.match(r"^config/([^/]+)$", s)
        if m:
            name = m.group(1)
            if op == "read":
                c = self.configs.get(name)
                if c is None:
                    raise not_found()
                return envelope(copy.deepcopy(c))
            if write:
                d = req.data
                c = copy.deepcopy(self.configs.get(name)) or {
                    "plugin_name": "", "plugin_version": "", "allowed_roles": [],
                    "connection_details": {}, "password_policy": "",
                    "root_credentials_rotate_statements": [], "verify_connection": True}
                if "plugin_name" in d:
                    c["plugin_name"] = d["plugin_name"] or ""
                if not c["plugin_name"]:
                    raise bad_request("empty plugin name")
                if "allowed_roles" in d:
                    c["allowed_roles"] = parse_str_list(d["allowed_roles"])
                if "verify_connection" in d:
                    c["verify_connection"] = parse_bool(d["verify_connection"], True)
                if "password_policy" in d:
                    c["password_policy"] = d["password_policy"] or ""
                for k in ("connection_url", "username", "max_open_connections",
                          "max_idle_connections", "max_connection_lifetime",
                          "username_template"):
                    if k in d:
                        c["connection_details"][k] = d[k]
                self.configs[name] = c
                return no_content()
            if op == "delete":
                self.configs.pop(name, None)
                return no_content()
            raise unsupported()
        if s == "roles" and op == "list":
            return _list_response(sorted(self.roles))
        m = re.match(r"^roles/([^/]+)$", s)
        if m:
            return self._role(req, m.group(1))
        m = re.match(r"^creds/([^/]+)$", s)
        if m:
            if op != "read":
                raise unsupported()
            return self._creds(req, m.group(1))
        m = re.match(r"^reset/([^/]+)$", s)
        if m and write:
            return no_content()
        m = re.match(r"^rotate-root/([^/]+)$", s)
        if m and write:
            if m.group(1) not in self.configs:
                raise bad_request("failed to find entry for connection with name: \"%s\""
                                  % m.group(1))
            return no_content()
        raise unsupported()

    def _role(self, req, name):
        op = req.op
        if op == "read":
            r = self.roles.get(name)
            if r is None:
                raise not_found()
            return envelope(copy.deepcopy(r))
        if op in ("create", "update"):
            d = req.data
            r = copy.deepcopy(self.roles.get(name)) or {
                "db_name": "", "creation_statements": [], "revocation_statements": [],
                "rollback_statements": [], "renew_statements": [], "default_ttl": 0,
                "max_ttl": 0, "credential_type": "password", "credential_config": {}}
            if "db_name" in d:
                r["db_name"] = d["db_name"] or ""
            if not r["db_name"]:
                raise bad_request("database name is required")
            for k in ("creation_statements", "revocation_statements", "rollback_statements",
                      "renew_statements"):
                if k in d:
                    v = d[k]
                    r[k] = [v] if isinstance(v, str) else list(v or [])
            if not r["creation_statements"]:
                raise bad_request("creation statements are required")
            for k in ("default_ttl", "max_ttl"):
                if k in d:
                    r[k] = parse_duration(d[k], k)
            if r["max_ttl"] > 0 and r["default_ttl"] > r["max_ttl"]:
                raise bad_request("ttl cannot be greater than max_ttl")
            self.roles[name] = r
            return no_content()
        if op == "delete":
            self.roles.pop(name, None)
            return no_content()
        raise unsupported()

    def _creds(self, req, name):
        sim = self.sim
        role = self.roles.get(name)
        if role is None:
            raise bad_request("unknown role: %s" % name)
        cfg = self.configs.get(role["db_name"])
        if cfg is None:
            raise VaultError(500, ['failed to find entry for connection with name: "%s"'
                                   % role["db_name"]])
        allowed = cfg["allowed_roles"]
        if "*" not in allowed and not any(_glob(a, name) for a in allowed):
            raise VaultError(500, ['"%s" is not an allowed role' % name])
        now = sim.now()
        ttl, _w = calculate_ttl(now, 0, role["default_ttl"], 0, role["max_ttl"], 0, now,
                                self.mount.default_ttl(), self.mount.max_ttl())
        display = (req.token.display_name if req.token else "token")[:8]
        username = ("v-%s-%s-%s-%d" % (display, name[:8], rand_base62(20), int(now)))[:63]
        password = _password()
        lease_id = "%screds/%s/%s" % (self.mount.path, name, rand_base62(24))

        def renew_fn(role_name=name):
            r = self.roles.get(role_name)
            if r is None:
                raise VaultError(500, ['error during renew: could not find role with name %s'
                                       % role_name])
            return r["default_ttl"], r["max_ttl"]

        def revoke_fn(u=username):
            self.users.pop(u, None)

        sim.add_lease(lease_id, req.token, ttl, renewable=True, mount=self.mount,
                      backend_ttl=role["default_ttl"], backend_max=role["max_ttl"],
                      on_revoke=revoke_fn, renew_fn=renew_fn)
        self.users[username] = lease_id
        return envelope({"username": username, "password": password}, lease_id=lease_id,
                        renewable=True, lease_duration=ttl, mount_type="database")
