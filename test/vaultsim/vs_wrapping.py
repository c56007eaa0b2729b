"""vaultsim response wrapping: X-Vault-Wrap-TTL and sys/wrapping/*.

Follows Vault's http/handler.go requestWrapInfo, vault/request_handling.go
(wrap TTL choice, validation of wrapping tokens before the request runs),
vault/wrapping.go wrapInCubbyhole and vault/logical_system.go
handleWrapping{Wrap,Unwrap,Lookup,Rewrap}. A wrapping token is a service
token with the single policy "response-wrapping", one use, TTL = explicit
max TTL = the wrap TTL, no parent; its cubbyhole holds "response" (the
wrapped HTTP response, JSON-encoded once) and "wrapinfo".
"""

import base64
import binascii
import json
import re

from vs_core import Policy, Response, Token, VaultError, bad_request, envelope, go_json, \
    new_token_id, new_uuid, rand_base62, rfc3339

RESPONSE_WRAPPING = "response-wrapping"

# vault/policy_store.go responseWrappingPolicy
RESPONSE_WRAPPING_POLICY = Policy(RESPONSE_WRAPPING, """
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
""")

VALIDATED_PATHS = ("sys/wrapping/lookup", "sys/wrapping/rewrap", "sys/wrapping/unwrap")

CUBBYHOLE_RESPONSE_WARNING = (
    "Reading from 'cubbyhole/response' is deprecated. Please use sys/wrapping/unwrap to "
    "unwrap responses, as it provides additional security checks and other benefits.")

_GO_DUR = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|\u00b5s|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def _go_parse_duration(s):
    """time.ParseDuration, in seconds (float)."""
    orig = s
    neg = False
    if s[:1] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if s == "":
        raise ValueError('time: invalid duration "%s"' % orig)
    total, pos = 0.0, 0
    while pos < len(s):
        m = _GO_DUR.match(s, pos)
        if not m or m.group(1) in ("", "."):
            if re.match(r"[0-9.]+$", s[pos:]):
                raise ValueError('time: missing unit in duration "%s"' % orig)
            raise ValueError('time: invalid duration "%s"' % orig)
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    return -total if neg else total


def parse_wrap_ttl(value):
    """requestWrapInfo: None without the header, else the TTL in seconds.
    Errors are answered 400 by Vault's HTTP layer."""
    if value is None or value == "":
        return None
    v = value
    # parseutil.ParseDurationSecond: a unit suffix means a Go duration,
    # anything else is whole seconds.
    if v.endswith(("s", "m", "h")):
        try:
            ttl = _go_parse_duration(v)
        except ValueError as e:
            raise bad_request(str(e))
    else:
        if not re.fullmatch(r"[+-]?[0-9]+", v):
            raise bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % v)
        ttl = float(int(v))
    if ttl < 0:
        raise bad_request("requested wrap ttl cannot be negative")
    return ttl


def _cubbyhole(sim):
    return sim.mounts["cubbyhole/"].backend.data


def _looks_like_jwt(token):
    return token.count(".") == 2 and len(token) > 1 and token[1] != "."


def validate(sim, data, client_token):
    """Core's validateWrappingToken, run before sys/wrapping/{lookup,rewrap,
    unwrap}: 400 'wrapping token is not valid or does not exist' for a token
    that is not a live wrapping token; 403 for a malformed request."""
    def fail(msg):
        return VaultError(403, ["error validating wrapping token: %s" % msg])

    if data.get("token") is not None:
        token = data["token"]
        if not isinstance(token, str):
            raise fail("could not decode token in request body")
        if token == "":
            raise fail("empty token in request body")
    else:
        token = client_token or ""
    if _looks_like_jwt(token):
        # vaultsim issues no JWT-format wrapping tokens (X-Vault-Wrap-Format
        # jwt is not modelled), so no JWT passes the signature check.
        try:
            parts = token.split(".")
            json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
        except (ValueError, binascii.Error) as e:
            raise fail("wrapping token could not be parsed: %s" % e)
        raise fail("wrapping token signature could not be validated: "
                   "go-jose/go-jose: error in cryptographic primitive")
    if token == "":
        raise fail("token is empty")
    tok = sim.lookup_token(token)
    if tok is None or tok.policies != [RESPONSE_WRAPPING]:
        raise bad_request("wrapping token is not valid or does not exist")
    return token


def create_wrapping_token(sim, ttl, path):
    now = sim.now()
    while True:
        tid = new_token_id(sim.token_style)
        if tid not in sim.tokens:
            break
    tok = Token(id=tid, accessor=rand_base62(24), policies=[RESPONSE_WRAPPING], meta=None,
                display_name="", path=path, creation_time=now, creation_ttl=int(ttl),
                expire_time=now + ttl, explicit_max_ttl=int(ttl), backend_ttl=int(ttl),
                num_uses=1, renewable=False, orphan=True, parent=None, entity_id="",
                auth_mount="token/", auth_type="token", internal={})
    sim.tokens[tid] = tok
    sim.accessors[tok.accessor] = tid
    sim.issued_tokens.append(tok)
    return tok


def stored_response(resp):
    """The wrapped response as Vault keeps it in the cubbyhole: the HTTP
    response marshalled once (json.Marshal: no trailing newline). Raw
    answers (PEM, DER, CRL) are kept as Vault's http_* response fields."""
    if isinstance(resp.body, dict):
        return go_json(resp.body)[:-1].decode("utf-8")
    payload = resp.body if isinstance(resp.body, bytes) else (resp.body or "").encode()
    raw = {"request_id": new_uuid(), "lease_id": "", "renewable": False, "lease_duration": 0,
           "data": {"http_content_type": resp.content_type or "",
                    "http_raw_body": base64.b64encode(payload).decode(),
                    "http_status_code": resp.status},
           "wrap_info": None, "warnings": None, "auth": None, "mount_type": ""}
    return go_json(raw)[:-1].decode("utf-8")


def wrappable(resp):
    if resp is None or resp.status != 200 or resp.body is None:
        return False
    if isinstance(resp.body, dict):
        return "errors" not in resp.body and "request_id" in resp.body
    return isinstance(resp.body, (bytes, str))


def wrap(sim, req, resp, ttl, creation_path=None, stored=None):
    """wrapInCubbyhole: a new wrapping token holding resp; answers Vault's
    wrap_info envelope."""
    body = resp.body if isinstance(resp.body, dict) else {}
    request_id = body.get("request_id") or new_uuid()
    if stored is None:
        stored = stored_response(resp)
    if creation_path is None:
        creation_path = req.path
    tok = create_wrapping_token(sim, ttl, req.path)
    now = tok.creation_time
    info = {"token": tok.id, "accessor": tok.accessor, "ttl": int(ttl),
            "creation_time": rfc3339(now), "creation_path": creation_path}
    auth = body.get("auth")
    if isinstance(auth, dict) and auth.get("accessor"):
        info["wrapped_accessor"] = auth["accessor"]
    elif req.mount is not None and req.mount.type == "approle" and \
            isinstance(body.get("data"), dict) and "secret_id_accessor" in body["data"]:
        # Vault exposes the secret ID's accessor for wrapped secret-id calls.
        info["wrapped_accessor"] = body["data"]["secret_id_accessor"]
    _cubbyhole(sim)[tok.id] = {
        "response": {"response": stored},
        "wrapinfo": {"creation_ttl": int(ttl * 1e9), "creation_time": rfc3339(now),
                     "creation_path": creation_path},
    }
    return Response(200, {
        "request_id": request_id, "lease_id": "", "renewable": False, "lease_duration": 0,
        "data": None, "wrap_info": info, "warnings": body.get("warnings"), "auth": None,
        "mount_type": "",
    })


# --------------------------------------------------------------------------
# sys/wrapping/*

def _target(req):
    token = req.data.get("token")
    if isinstance(token, str) and token != "":
        return token, True
    return req.client_token, False


def _seconds(ns):
    """time.Duration(ns).Seconds() as Go's encoder writes a float64."""
    return ns // 1000000000 if ns % 1000000000 == 0 else ns / 1e9


def _entry(sim, token):
    tok = sim.tokens.get(token or "")
    if tok is None:
        return None
    if len(tok.policies) != 1:
        raise VaultError(500, ["token is not a valid unwrap token"])
    return tok


def handle(sim, req, what):
    op = req.op
    if what == "wrap":
        if op not in ("update", "create"):
            raise VaultError(405, ["unsupported operation"])
        if not req.wrap_ttl:
            raise bad_request("endpoint requires response wrapping to be used")
        return envelope(dict(req.data))
    if what == "unwrap":
        if op not in ("update", "create"):
            raise VaultError(405, ["unsupported operation"])
        token, third_party = _target(req)
        tok = _entry(sim, token)
        if tok is None:
            return Response(204, None)
        box = _cubbyhole(sim).get(tok.id, {})
        if third_party:
            sim.revoke_token(tok)
        stored = (box.get("response") or {}).get("response")
        if stored is None:
            raise VaultError(500, ["no response found inside the cubbyhole"])
        if stored == "":
            return Response(204, None)
        try:
            inner = json.loads(stored)
        except ValueError:
            inner = None
        data = inner.get("data") if isinstance(inner, dict) else None
        if isinstance(data, dict) and "http_raw_body" in data:
            try:
                raw = base64.b64decode(data["http_raw_body"], validate=True)
            except (ValueError, binascii.Error):
                raw = str(data["http_raw_body"]).encode()
            return Response(int(data.get("http_status_code") or 200), raw,
                            content_type=data.get("http_content_type") or None)
        return Response(200, stored.encode("utf-8"), content_type="application/json")
    if what == "lookup":
        if op not in ("update", "create", "read"):
            raise VaultError(405, ["unsupported operation"])
        token = req.data.get("token") or req.client_token
        if not token:
            raise bad_request('missing "token" value in input')
        tok = _entry(sim, token)
        if tok is None:
            return Response(204, None)
        info = _cubbyhole(sim).get(tok.id, {}).get("wrapinfo")
        if info is None:
            raise bad_request("no information found; wrapping token may be from a previous "
                              "Vault version")
        return envelope({"creation_path": info["creation_path"],
                         "creation_time": info["creation_time"],
                         "creation_ttl": _seconds(info["creation_ttl"])})
    if what == "rewrap":
        if op not in ("update", "create"):
            raise VaultError(405, ["unsupported operation"])
        token, third_party = _target(req)
        tok = _entry(sim, token)
        if tok is None:
            return Response(204, None)
        box = _cubbyhole(sim).get(tok.id, {})
        if third_party:
            sim.revoke_token(tok)
        info = box.get("wrapinfo")
        stored = (box.get("response") or {}).get("response")
        if info is None or stored is None:
            raise bad_request("no information found; wrapping token may be from a previous "
                              "Vault version")
        ttl = info["creation_ttl"] / 1e9
        if req.wrap_ttl and req.wrap_ttl < ttl:
            ttl = req.wrap_ttl
        resp = wrap(sim, req, Response(200, {"request_id": new_uuid()}), ttl,
                    creation_path=info["creation_path"], stored=stored)
        resp.wrapped = True
        return resp
    raise VaultError(404, ['no handler for route "sys/wrapping/%s". route entry not found.'
                           % what])
