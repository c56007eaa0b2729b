"""vaultsim core: errors, envelopes, durations, clock, tokens, leases, ACL.

Behaviour follows HashiCorp Vault (sdk/framework/lease.go CalculateTTL,
vault/expiration.go, vault/token_store.go, vault/policy.go); see README.md.
"""

import datetime
import json
import re
import secrets
import string
import threading
import time
import uuid

SYSTEM_DEFAULT_TTL = 768 * 3600   # 32 days, Vault's default_lease_ttl
SYSTEM_MAX_TTL = 768 * 3600       # 32 days, Vault's max_lease_ttl

BASE62 = string.ascii_letters + string.digits


# --------------------------------------------------------------------------
# Errors and responses

class VaultError(Exception):
    """An error answered as {"errors": [...]} with a status code."""

    def __init__(self, status, errors=None, warnings=None, data=None):
        if errors is None:
            errors = []
        if isinstance(errors, str):
            errors = [errors]
        super().__init__("%d %s" % (status, errors))
        self.status = status
        self.errors = errors
        self.warnings = warnings
        self.data = data


def bad_request(msg):
    return VaultError(400, [msg])


def permission_denied():
    return VaultError(403, ["permission denied"])


def not_found():
    return VaultError(404, [])


def unsupported():
    return VaultError(405, ["unsupported operation"])


class Response:
    """A handler result. body: dict (JSON), bytes (raw) or None (204)."""

    def __init__(self, status=200, body=None, headers=None, content_type=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type


def new_uuid():
    return str(uuid.uuid4())


def envelope(data=None, auth=None, warnings=None, lease_id="", renewable=False,
             lease_duration=0, mount_type="", status=200):
    body = {
        "request_id": new_uuid(),
        "lease_id": lease_id,
        "renewable": renewable,
        "lease_duration": lease_duration,
        "data": data,
        "wrap_info": None,
        "warnings": warnings if warnings else None,
        "auth": auth,
        "mount_type": mount_type,
    }
    return Response(status, body)


def no_content():
    return Response(204, None)


def raw(status, payload, content_type):
    return Response(status, payload, content_type=content_type)


def _sorted_maps(v):
    if isinstance(v, dict):
        return {k: _sorted_maps(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sorted_maps(x) for x in v]
    return v


def go_json(body):
    """Encode like Go's json.Encoder as Vault uses it: compact, HTML-escaped,
    trailing newline; map values ("data", "metadata"...) have sorted keys while
    the envelope keeps Vault's struct field order."""
    if isinstance(body, dict) and "request_id" in body:
        body = dict(body)
        # data is a map (sorted keys); wrap_info and auth are structs.
        if body.get("data") is not None:
            body["data"] = _sorted_maps(body["data"])
        if isinstance(body.get("auth"), dict) and body["auth"].get("metadata"):
            body["auth"] = dict(body["auth"])
            body["auth"]["metadata"] = _sorted_maps(body["auth"]["metadata"])
    s = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    s = (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
         .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return (s + "\n").encode("utf-8")


# --------------------------------------------------------------------------
# Random identifiers

def rand_base62(n):
    return "".join(secrets.choice(BASE62) for _ in range(n))


# --------------------------------------------------------------------------
# Parameter parsing (Vault's framework field types)

_DUR_RE = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|\u00b5s|ms|s|m|h|d)")
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1,
              "m": 60, "h": 3600, "d": 86400}


def parse_duration(v, field="duration"):
    """parseutil.ParseDurationSecond: ints are seconds, strings are Go
    durations ("1h30m", "90s", "1.5h") or plain seconds ("3600")."""
    if v is None or v == "":
        return 0
    if isinstance(v, bool):
        raise bad_request("invalid duration for %s" % field)
    if isinstance(v, (int, float)):
        return int(v)
    if not isinstance(v, str):
        raise bad_request("invalid duration for %s" % field)
    s = v.strip()
    if re.fullmatch(r"-?[0-9]+", s):
        return int(s)
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _DUR_RE.match(s, pos)
        if not m:
            raise bad_request('error converting input %s for field "%s": '
                              'time: invalid duration "%s"' % (v, field, v))
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    return -int(total) if neg else int(total)


def parse_bool(v, default=False, field="bool"):
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("1", "t", "true"):
            return True
        if s in ("0", "f", "false"):
            return False
    raise bad_request('error converting input %s for field "%s": cannot parse \'%s\' as bool'
                      % (v, field, v))


def parse_int(v, default=0, field="int"):
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        return int(v)
    try:
        return int(v)
    except (TypeError, ValueError):
        raise bad_request('error converting input %s for field "%s"' % (v, field))


def parse_str_list(v):
    """TypeCommaStringSlice: a list, or a comma separated string."""
    if v is None or v == "":
        return []
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip() != ""]
    if isinstance(v, (list, tuple)):
        out = []
        for p in v:
            if isinstance(p, str):
                out.extend(x.strip() for x in p.split(",") if x.strip() != "")
            else:
                out.append(str(p))
        return out
    return [str(v)]


def parse_policies(v):
    """policyutil.ParsePolicies: lower-case, dedupe, sort; "root" alone."""
    pols = sorted(set(p.lower() for p in parse_str_list(v)))
    if "root" in pols:
        return ["root"]
    return pols


def sanitize_policies(pols, add_default=True):
    pols = [p.lower() for p in pols if p]
    if "root" in pols:
        return ["root"]
    if add_default and "default" not in pols:
        pols.append("default")
    return sorted(set(pols))


# --------------------------------------------------------------------------
# Time formatting

def rfc3339(t):
    """Go's RFC3339Nano in UTC (trailing zeros trimmed)."""
    if t is None:
        return None
    dt = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = "%06d" % dt.microsecond
    frac = frac.rstrip("0")
    if frac:
        s += "." + frac
    return s + "Z"


def rfc3339_sec(t):
    dt = datetime.datetime.fromtimestamp(int(t), tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def go_duration(secs):
    """time.Duration.String() for whole seconds."""
    secs = int(secs)
    if secs == 0:
        return "0s"
    neg = secs < 0
    secs = abs(secs)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    if h:
        out = "%dh%dm%ds" % (h, m, s)
    elif m:
        out = "%dm%ds" % (m, s)
    else:
        out = "%ds" % s
    return ("-" if neg else "") + out


def human_duration(secs):
    """sdk/framework humanDuration: Go duration without zero elements."""
    if int(secs) == 0:
        return "0s"
    s = go_duration(secs)
    if s.endswith("m0s"):
        s = s[:-2]
    idx = s.find("h0m")
    if idx > 0:
        s = s[:idx + 1] + s[idx + 3:]
    return s


# --------------------------------------------------------------------------
# Clock (shiftable through the admin side channel)

class Clock:
    def __init__(self):
        self.offset = 0.0
        self._lock = threading.Lock()

    def now(self):
        with self._lock:
            return time.time() + self.offset

    def advance(self, secs):
        with self._lock:
            self.offset += float(secs)
            return self.offset


def calculate_ttl(now, increment, backend_ttl, period, backend_max, explicit_max,
                  start, mount_default=SYSTEM_DEFAULT_TTL, mount_max=SYSTEM_MAX_TTL):
    """framework.CalculateTTL. All values in whole seconds."""
    now = int(now)
    start = int(start) if start else now
    max_ttl = mount_max
    if 0 < backend_max < max_ttl:
        max_ttl = backend_max
    if 0 < explicit_max < max_ttl:
        max_ttl = explicit_max
    if max_ttl <= 0:
        raise VaultError(500, ["max TTL must be greater than zero"])
    warnings = []
    max_valid = None
    if period > 0:
        if period > max_ttl:
            warnings.append('period of "%s" exceeded the effective max_ttl of "%s"; '
                            'period value is capped accordingly'
                            % (human_duration(period), human_duration(max_ttl)))
            period = max_ttl
        ttl = period
        if explicit_max > 0:
            max_valid = start + explicit_max
    else:
        if increment > 0:
            ttl = increment
        elif backend_ttl > 0:
            ttl = backend_ttl
        else:
            ttl = mount_default
        max_valid = start + max_ttl
    if max_valid is not None:
        max_valid_ttl = max_valid - now
        if max_valid_ttl <= 0:
            raise VaultError(500, ["past the max TTL, cannot renew"])
        if max_valid_ttl - ttl < 0:
            warnings.append('TTL of "%s" exceeded the effective max_ttl of "%s"; '
                            'TTL value is capped accordingly'
                            % (human_duration(ttl), human_duration(max_valid_ttl)))
            ttl = max_valid_ttl
    return ttl, warnings


# --------------------------------------------------------------------------
# Tokens

class Token:
    def __init__(self, **kw):
        self.id = kw["id"]
        self.accessor = kw["accessor"]
        self.policies = kw.get("policies", ["default"])
        self.meta = kw.get("meta")
        self.display_name = kw.get("display_name", "token")
        self.path = kw.get("path", "auth/token/create")
        self.creation_time = kw["creation_time"]      # float (sim clock)
        self.creation_ttl = kw.get("creation_ttl", 0)
        self.expire_time = kw.get("expire_time")      # float or None
        self.explicit_max_ttl = kw.get("explicit_max_ttl", 0)
        self.backend_ttl = kw.get("backend_ttl", 0)   # Auth.TTL from the backend
        self.backend_max_ttl = kw.get("backend_max_ttl", 0)
        self.period = kw.get("period", 0)
        self.num_uses = kw.get("num_uses", 0)
        self.renewable = kw.get("renewable", True)
        self.orphan = kw.get("orphan", True)
        self.parent = kw.get("parent")
        self.entity_id = kw.get("entity_id", "")
        self.last_renewal = None
        self.auth_mount = kw.get("auth_mount", "token/")   # e.g. "approle/"
        self.auth_type = kw.get("auth_type", "token")
        self.internal = kw.get("internal", {})
        self.mount_max = kw.get("mount_max", SYSTEM_MAX_TTL)
        self.mount_default = kw.get("mount_default", SYSTEM_DEFAULT_TTL)
        self.lease_id = kw.get("lease_id", "")
        self.type = "service"
        self.alias = None           # entity alias of a login token
        self.group_aliases = []

    def is_root(self):
        return self.policies == ["root"]

    def ttl(self, now):
        if self.expire_time is None:
            return 0
        return max(0, int(round(self.expire_time - now)))

    def lookup_data(self, now, hide_id=False):
        d = {
            "accessor": self.accessor,
            "creation_time": int(self.creation_time),
            "creation_ttl": self.creation_ttl,
            "display_name": self.display_name,
            "entity_id": self.entity_id,
            "expire_time": rfc3339(self.expire_time) if self.expire_time is not None else None,
            "explicit_max_ttl": self.explicit_max_ttl,
            "id": "" if hide_id else self.id,
            "meta": self.meta if self.meta else None,
            "num_uses": self.num_uses,
            "orphan": self.orphan,
            "path": self.path,
            "policies": list(self.policies),
            "renewable": self.renewable,
            "ttl": self.ttl(now),
            "type": self.type,
        }
        d["issue_time"] = rfc3339(self.creation_time)
        if self.period:
            d["period"] = self.period
        if self.last_renewal is not None:
            d["last_renewal"] = rfc3339(self.last_renewal)
            d["last_renewal_time"] = int(self.last_renewal)
        return d

    def auth_block(self, lease_duration=None, now=None):
        token_pols = list(self.policies)
        return {
            "client_token": self.id,
            "accessor": self.accessor,
            "policies": list(self.policies),
            "token_policies": token_pols,
            "metadata": self.meta if self.meta else None,
            "lease_duration": lease_duration if lease_duration is not None else
            (self.ttl(now) if now is not None else self.creation_ttl),
            "renewable": self.renewable,
            "entity_id": self.entity_id,
            "token_type": self.type,
            "orphan": self.orphan,
            "mfa_requirement": None,
            "num_uses": self.num_uses,
        }

    def admin_view(self, now):
        return {
            "accessor": self.accessor,
            "token": self.id,
            "ttl": self.ttl(now),
            "expire_time": self.expire_time,
            "policies": list(self.policies),
            "path": self.path,
            "auth_path": self.path,
            "display_name": self.display_name,
            "renewable": self.renewable,
            "num_uses": self.num_uses,
            "meta": self.meta,
            "orphan": self.orphan,
            "entity_id": self.entity_id,
            "alias": self.alias,
            "group_aliases": list(self.group_aliases),
        }


def new_token_id(style):
    if style == "legacy":
        return "s." + rand_base62(24)
    return "hvs." + rand_base62(91)


# --------------------------------------------------------------------------
# Leases (dynamic secrets)

class Lease:
    def __init__(self, lease_id, path, issue_time, ttl, renewable, token_id,
                 backend_ttl=0, backend_max=0, mount_default=SYSTEM_DEFAULT_TTL,
                 mount_max=SYSTEM_MAX_TTL, kind="secret", internal=None, on_revoke=None):
        self.id = lease_id
        self.path = path
        self.issue_time = issue_time
        self.expire_time = issue_time + ttl
        self.last_renewal = None
        self.renewable = renewable
        self.token_id = token_id
        self.backend_ttl = backend_ttl
        self.backend_max = backend_max
        self.mount_default = mount_default
        self.mount_max = mount_max
        self.kind = kind
        self.internal = internal or {}
        self.on_revoke = on_revoke

    def ttl(self, now):
        return max(0, int(round(self.expire_time - now)))

    def lookup_data(self, now):
        return {
            "id": self.id,
            "issue_time": rfc3339(self.issue_time),
            "expire_time": rfc3339(self.expire_time),
            "last_renewal": rfc3339(self.last_renewal) if self.last_renewal else None,
            "renewable": self.renewable,
            "ttl": self.ttl(now),
        }


# --------------------------------------------------------------------------
# Policies (HCL subset) and ACL evaluation

DEFAULT_POLICY = """
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its resultant ACL from all policies
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}
"""

VALID_CAPS = {"create", "read", "update", "delete", "list", "sudo", "deny", "patch",
              "subscribe", "recover"}
_LEGACY_POLICY = {
    "deny": ["deny"],
    "read": ["read", "list"],
    "write": ["create", "read", "update", "delete", "list"],
    "sudo": ["create", "read", "update", "delete", "list", "sudo"],
}


class _HCLLexer:
    TOK = re.compile(r'''
        (?P<ws>\s+)
      | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
      | (?P<heredoc><<-?(?P<tag>[A-Za-z_][A-Za-z0-9_]*)\n.*?\n\s*(?P=tag)(?=\s|$))
      | (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<num>-?[0-9]+(?:\.[0-9]+)?)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_\-\.]*)
      | (?P<punct>[{}\[\]=,:])
    ''', re.S | re.X)

    def __init__(self, text):
        self.toks = []
        pos = 0
        while pos < len(text):
            m = self.TOK.match(text, pos)
            if not m:
                line = text.count("\n", 0, pos) + 1
                raise ValueError("illegal char at line %d" % line)
            pos = m.end()
            kind = m.lastgroup
            if kind in ("ws", "comment"):
                continue
            if kind == "tag":
                kind = "heredoc"
            val = m.group(0)
            if kind == "str":
                val = json.loads(val) if "\\" in val else val[1:-1]
            elif kind == "heredoc":
                body = val.split("\n", 1)[1]
                val = body.rsplit("\n", 1)[0]
                kind = "str"
            self.toks.append((kind, val))
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def next(self):
        t = self.peek()
        self.i += 1
        return t


def _parse_hcl_value(lx):
    kind, val = lx.next()
    if kind == "str" or kind == "num":
        return val
    if kind == "ident":
        if val in ("true", "false"):
            return val == "true"
        return val
    if val == "[":
        out = []
        while True:
            k, v = lx.peek()
            if v == "]":
                lx.next()
                return out
            out.append(_parse_hcl_value(lx))
            k, v = lx.peek()
            if v == ",":
                lx.next()
    if val == "{":
        return _parse_hcl_body(lx, "}")
    raise ValueError("unexpected token %r" % (val,))


def _parse_hcl_body(lx, end):
    """Returns a list of (key, labels, value) items."""
    items = []
    while True:
        kind, val = lx.peek()
        if kind is None:
            if end is None:
                return items
            raise ValueError("unexpected end of policy")
        if val == end:
            lx.next()
            return items
        if val == ",":
            lx.next()
            continue
        kind, key = lx.next()
        if kind not in ("ident", "str"):
            raise ValueError("unexpected token %r" % (key,))
        labels = []
        while lx.peek()[0] == "str":
            labels.append(lx.next()[1])
        k, v = lx.peek()
        if v in ("=", ":"):
            lx.next()
            items.append((key, labels, _parse_hcl_value(lx)))
        elif v == "{":
            lx.next()
            items.append((key, labels, _parse_hcl_body(lx, "}")))
        else:
            raise ValueError("expected '=' or '{' after %r" % (key,))


class Policy:
    def __init__(self, name, raw_text):
        self.name = name
        self.raw = raw_text
        self.rules = {}   # pattern -> set(capabilities)
        self._parse()

    def _parse(self):
        text = self.raw
        stripped = text.strip()
        if stripped.startswith("{"):
            # JSON policy syntax
            try:
                obj = json.loads(stripped)
            except ValueError as e:
                raise bad_request("failed to parse policy: %s" % e)
            paths = obj.get("path", {})
            if isinstance(paths, list):
                merged = {}
                for p in paths:
                    merged.update(p)
                paths = merged
            for pat, body in paths.items():
                self._add(pat, body)
            return
        try:
            lx = _HCLLexer(text)
            items = _parse_hcl_body(lx, None)
        except ValueError as e:
            raise bad_request("failed to parse policy: %s" % e)
        for key, labels, value in items:
            if key != "path":
                if key == "name":
                    continue
                raise bad_request('failed to parse policy: invalid key "%s" on line 1' % key)
            if not labels or not isinstance(value, list):
                raise bad_request("failed to parse policy: path block needs a name")
            body = {}
            for k, _lab, v in value:
                body[k] = v
            self._add(labels[0], body)

    def _add(self, pattern, body):
        caps = []
        if "capabilities" in body:
            caps = body["capabilities"]
            if isinstance(caps, str):
                caps = [caps]
        if "policy" in body:
            pol = body["policy"]
            if pol not in _LEGACY_POLICY:
                raise bad_request('failed to parse policy: path "%s": invalid policy "%s"'
                                  % (pattern, pol))
            caps = list(caps) + _LEGACY_POLICY[pol]
        for c in caps:
            if c not in VALID_CAPS:
                raise bad_request('failed to parse policy: path "%s": invalid capability "%s"'
                                  % (pattern, c))
        pattern = pattern.lstrip("/")
        cur = self.rules.setdefault(pattern, set())
        cur.update(caps)


def _pattern_matches(pattern, path):
    """Vault path patterns: trailing * is a prefix glob, + matches one segment."""
    glob = pattern.endswith("*")
    pat = pattern[:-1] if glob else pattern
    if "+" not in pat:
        if glob:
            return path.startswith(pat)
        return path == pat
    pat_segs = pat.split("/")
    path_segs = path.split("/")
    if glob:
        if len(path_segs) < len(pat_segs):
            return False
        for i, ps in enumerate(pat_segs):
            last = i == len(pat_segs) - 1
            if ps == "+":
                continue
            if last:
                if not path_segs[i].startswith(ps):
                    return False
                # prefix glob may continue past the last segment
            elif ps != path_segs[i]:
                return False
        return True
    if len(path_segs) != len(pat_segs):
        return False
    for ps, s in zip(pat_segs, path_segs):
        if ps != "+" and ps != s:
            return False
    return True


def _priority_key(pattern):
    """Higher sorts later (= higher priority), per Vault's documented rules."""
    first_wild = len(pattern)
    for i, ch in enumerate(pattern):
        if ch in "+*":
            first_wild = i
            break
    ends_glob = pattern.endswith("*")
    plus_count = pattern.split("/").count("+")
    return (first_wild, 0 if ends_glob else 1, -plus_count, len(pattern), pattern)


class ACL:
    def __init__(self, policies):
        self.root = False
        self.exact = {}
        self.globs = {}
        for pol in policies:
            if pol is None:
                continue
            if pol == "root":
                self.root = True
                continue
            for pat, caps in pol.rules.items():
                is_glob = pat.endswith("*") or "+" in pat.split("/")
                target = self.globs if is_glob else self.exact
                cur = target.setdefault(pat, set())
                cur.update(caps)

    def capabilities(self, path):
        if self.root:
            return {"root"}
        if path in self.exact:
            caps = self.exact[path]
        else:
            matches = [p for p in self.globs if _pattern_matches(p, path)]
            if not matches:
                return set()
            best = max(matches, key=_priority_key)
            caps = self.globs[best]
        if "deny" in caps:
            return {"deny"}
        return set(caps)

    def allowed(self, path, op, sudo=False):
        if self.root:
            return True
        caps = self.capabilities(path)
        if "deny" in caps:
            return False
        if sudo and "sudo" not in caps:
            return False
        return op in caps
