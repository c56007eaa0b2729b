"""vaultsim auth methods that check a JWT: kubernetes and jwt (oidc).

kubernetes follows hashicorp/vault-plugin-auth-kubernetes v0.19.0 (the one in
Vault 1.17.0): path_config.go, path_role.go, path_login.go, token_review.go.
jwt follows hashicorp/vault-plugin-auth-jwt v0.20.3 (Vault 1.17.0; v0.21.0 has
the same code): path_config.go, path_role.go, path_login.go, claims.go. JWT validation is vs_jwt's model of hashicorp/cap.
Times in JWTs are checked against the simulated clock (Vault's clock).
"""

import copy
import json
import os
import re

import vs_jwt as J
from vs_backends import _list_response, parse_token_fields, token_fields_data
from vs_core import (VaultError, bad_request, envelope, no_content, not_found, parse_bool,
                     parse_duration, parse_str_list, permission_denied, unsupported)

# --------------------------------------------------------------------------
# Role token fields with the deprecated names (tokenutil.UpgradeValue)

LEGACY = (("policies", "token_policies"), ("bound_cidrs", "token_bound_cidrs"),
          ("num_uses", "token_num_uses"), ("ttl", "token_ttl"), ("max_ttl", "token_max_ttl"),
          ("period", "token_period"))


def parse_role_token_fields(entry, d):
    """ParseTokenFields, then UpgradeValue for each deprecated field: an old
    name given without the new one sets both; a new name clears the old one
    unless both were given. entry["_legacy"] keeps the old fields' values."""
    parse_token_fields(entry, d, legacy=False)
    legacy = entry.setdefault("_legacy", {})
    for old, new in LEGACY:
        if new not in d and old in d:
            parse_token_fields(entry, {new: d[old]}, legacy=False)
            legacy[old] = entry[new]
        elif new in d:
            if old in d:
                legacy[old] = entry[new]
            else:
                legacy.pop(old, None)


def role_token_data(entry, d):
    d.update(token_fields_data(entry))
    legacy = entry.get("_legacy", {})
    if legacy.get("policies"):
        d["policies"] = d["token_policies"]
    if legacy.get("bound_cidrs"):
        d["bound_cidrs"] = d["token_bound_cidrs"]
    for k in ("ttl", "max_ttl", "period", "num_uses"):
        if legacy.get(k):
            d[k] = legacy[k]
    return d


def new_role_entry():
    return {"token_policies": [], "token_ttl": 0, "token_max_ttl": 0,
            "token_explicit_max_ttl": 0, "token_period": 0, "token_num_uses": 0,
            "token_bound_cidrs": [], "token_no_default_policy": False,
            "token_type": "default", "_legacy": {}}


def display_name(mount, name):
    """Vault core prefixes a login's display name with the mount path."""
    return (mount.path.replace("/", "-") + name).rstrip("-")


def _string_field(d, k):
    v = d.get(k)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if not isinstance(v, str):
        raise bad_request('error converting input %s for field "%s": expected type \'string\', '
                          'got unconvertible type \'%s\''
                          % (J.go_fmt(v), k, "map[string]interface {}" if isinstance(v, dict)
                             else "[]interface {}"))
    return v


def _renew(backend, tok, kind):
    name = tok.internal.get("role", "")
    if not name:
        raise VaultError(500, ["failed to renew entry: failed to fetch role_name during "
                               "renewal"])
    role = backend.roles.get(name.lower())
    if role is None:
        raise VaultError(500, ["failed to renew entry: role %s does not exist during renewal"
                               % name])
    return role["token_ttl"], role["token_max_ttl"], role["token_period"]


def _go_open_error(path, e):
    msg = os.strerror(e.errno) if e.errno else str(e)
    return "open %s: %s" % (path, msg[:1].lower() + msg[1:])


# ==========================================================================
# auth/kubernetes/

K8S_ALGS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
LOCAL_CA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
LOCAL_JWT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
ALIAS_SOURCES = ("serviceaccount_uid", "serviceaccount_name")


class ReviewError(Exception):
    pass


class KubernetesBackend:
    type = "kubernetes"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount
        self.config = None
        self.roles = {}

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
        if s == "config":
            if op == "read":
                return self._config_read()
            if write:
                return self._config_write(req)
            raise unsupported()
        if s == "role" and op == "list":
            return _list_response(sorted(self.roles))
        m = re.match(r"^role/([^/]+)$", s)
        if m:
            return self._role(req, m.group(1))
        raise unsupported()

    # ---- config

    def _config_read(self):
        c = self.config
        if c is None:
            raise not_found()
        return envelope({
            "kubernetes_host": c["host"], "kubernetes_ca_cert": c["ca_cert"],
            "pem_keys": list(c["pem_keys"]), "issuer": c["issuer"],
            "disable_iss_validation": c["disable_iss_validation"],
            "disable_local_ca_jwt": c["disable_local_ca_jwt"],
            "token_reviewer_jwt_set": c["token_reviewer_jwt"] != "",
            "use_annotations_as_alias_metadata": c["use_annotations_as_alias_metadata"],
        })

    def _config_write(self, req):
        d = req.data
        host = _string_field(d, "kubernetes_host")
        if host == "":
            raise bad_request("no host provided")
        c = {
            "host": host,
            "ca_cert": _string_field(d, "kubernetes_ca_cert"),
            "token_reviewer_jwt": _string_field(d, "token_reviewer_jwt"),
            "pem_keys": parse_str_list(d.get("pem_keys")),
            "issuer": _string_field(d, "issuer"),
            "disable_iss_validation": parse_bool(d.get("disable_iss_validation"), True,
                                                 "disable_iss_validation"),
            "disable_local_ca_jwt": parse_bool(d.get("disable_local_ca_jwt"), False,
                                               "disable_local_ca_jwt"),
            "use_annotations_as_alias_metadata": parse_bool(
                d.get("use_annotations_as_alias_metadata"), False,
                "use_annotations_as_alias_metadata"),
        }
        if c["ca_cert"] and "-----BEGIN " not in c["ca_cert"]:
            raise bad_request("The provided CA PEM data contains no valid certificates")
        keys = []
        for pem in c["pem_keys"]:
            try:
                key = J.parse_public_key_pem(pem)
            except J.JoseError as e:
                msg = str(e)
                if msg.startswith(("data does not", "unexpected trailing")):
                    msg = "data does not contain any valid RSA or ECDSA public keys"
                raise bad_request(msg)
            if not isinstance(key, (J.rsa.RSAPublicKey, J.ec.EllipticCurvePublicKey)):
                raise bad_request("data does not contain any valid RSA or ECDSA public keys")
            keys.append(key)
        if not c["ca_cert"] and not c["disable_local_ca_jwt"]:
            # updateTLSConfig reads the pod's CA file when none is configured.
            try:
                with open(LOCAL_CA_PATH) as f:
                    f.read()
            except OSError as e:
                raise bad_request(_go_open_error(LOCAL_CA_PATH, e))
        c["keys"] = keys
        self.config = c
        return no_content()

    def _load_config(self):
        """loadConfig: the stored config, plus the pod's service account token
        and CA when they are not configured and disable_local_ca_jwt is false."""
        if self.config is None:
            return None
        c = dict(self.config)
        if c["disable_local_ca_jwt"]:
            return c
        if c["token_reviewer_jwt"] == "":
            try:
                with open(LOCAL_JWT_PATH) as f:
                    c["token_reviewer_jwt"] = f.read()
            except OSError:
                pass     # the login's own JWT is used
        if c["ca_cert"] == "":
            try:
                with open(LOCAL_CA_PATH) as f:
                    c["ca_cert"] = f.read()
            except OSError as e:
                raise VaultError(500, [_go_open_error(LOCAL_CA_PATH, e)])
        return c

    # ---- roles

    def _role(self, req, raw_name):
        name = raw_name.lower()
        op = req.op
        if op == "read":
            r = self.roles.get(name)
            if r is None:
                raise not_found()
            d = {"bound_service_account_names": list(r["names"]),
                 "bound_service_account_namespaces": list(r["namespaces"]),
                 "bound_service_account_namespace_selector": r["namespace_selector"]}
            if r["audience"]:
                d["audience"] = r["audience"]
            role_token_data(r, d)
            d["alias_name_source"] = r["alias_name_source"]
            return envelope(d)
        if op == "delete":
            self.roles.pop(name, None)
            return no_content()
        if op not in ("create", "update"):
            raise unsupported()
        d = req.data
        r = copy.deepcopy(self.roles.get(name))
        if r is None:
            if op != "create":
                raise VaultError(500, ["role entry not found during update operation"])
            r = new_role_entry()
            r.update({"names": [], "namespaces": [], "namespace_selector": "", "audience": "",
                      "alias_name_source": ""})
        parse_role_token_fields(r, d)
        if r["token_max_ttl"] > 0 and r["token_ttl"] > r["token_max_ttl"]:
            raise bad_request("token ttl should not be greater than token max ttl")
        warnings = None
        if r["token_max_ttl"] > self.mount.max_ttl():
            warnings = ["max_ttl is greater than the system or backend mount's maximum TTL "
                        "value; issued tokens' max TTL value will be truncated"]
        if "bound_service_account_names" in d or op == "create":
            r["names"] = parse_str_list(d.get("bound_service_account_names"))
        if not r["names"]:
            raise bad_request('"bound_service_account_names" can not be empty')
        if len(r["names"]) > 1 and "*" in r["names"]:
            raise bad_request('can not mix "*" with values')
        if "bound_service_account_namespaces" in d:
            r["namespaces"] = parse_str_list(d.get("bound_service_account_namespaces"))
        r["namespace_selector"] = _string_field(d, "bound_service_account_namespace_selector")
        if not r["namespaces"] and not r["namespace_selector"]:
            raise bad_request('"bound_service_account_namespaces" can not be empty if '
                              '"bound_service_account_namespace_selector" is not set')
        if r["namespace_selector"] and not _label_selector_ok(r["namespace_selector"]):
            raise bad_request('invalid "bound_service_account_namespace_selector" configured')
        if len(r["namespaces"]) > 1 and "*" in r["namespaces"]:
            raise bad_request('can not mix "*" with values')
        if "audience" in d:
            r["audience"] = _string_field(d, "audience")
        if "alias_name_source" in d:
            src = _string_field(d, "alias_name_source")
            r["alias_name_source"] = "serviceaccount_uid" if (
                src == "" and r["alias_name_source"] == "") else src
        elif r["alias_name_source"] == "":
            r["alias_name_source"] = "serviceaccount_uid"
        if r["alias_name_source"] not in ALIAS_SOURCES:
            raise bad_request("invalid alias_name_source, must be one of: " +
                              ", ".join(ALIAS_SOURCES))
        self.roles[name] = r
        if warnings:
            return envelope(None, warnings=warnings)
        return no_content()

    # ---- login

    def _login(self, req):
        d = req.data
        role_name = _string_field(d, "role")
        if role_name == "":
            raise bad_request("missing role")
        jwt = _string_field(d, "jwt")
        if jwt == "":
            raise bad_request("missing jwt")
        role = self.roles.get(role_name.lower())
        if role is None:
            raise bad_request('invalid role name "%s"' % role_name)
        role = copy.deepcopy(role)
        config = self._load_config()
        if config is None:
            raise VaultError(500, ["could not load backend configuration"])
        sa = self._parse_and_validate(jwt, role, config)
        uid = sa.uid()
        if role["alias_name_source"] == "serviceaccount_name":
            if not sa.namespace() or not sa.name():
                raise VaultError(500, ["service account namespace and name must be set"])
            alias_name = "%s/%s" % (sa.namespace(), sa.name())
        else:
            alias_name = uid
        want_aud = [role["audience"]] if role["audience"] else sa.audience
        try:
            with self.sim.unlocked():
                result = token_review(config, jwt, want_aud)
            if sa.name() != result[0]:
                raise ReviewError("JWT names did not match")
            if uid != result[2]:
                raise ReviewError("JWT UIDs did not match")
            if sa.namespace() != result[1]:
                raise ReviewError("JWT namepaces did not match")
        except ReviewError as e:
            self.sim.log("auth/%slogin unauthorized: %s" % (self.mount.path, e))
            raise permission_denied()
        meta = {"service_account_uid": uid, "service_account_name": sa.name(),
                "service_account_namespace": sa.namespace(),
                "service_account_secret_name": sa.secret_name}
        alias_meta = dict(meta)
        meta["role"] = role_name
        tok, warnings = self.sim.login_token(
            mount=self.mount, entry=role, path="auth/%slogin" % self.mount.path,
            display_name=display_name(self.mount, "%s-%s" % (sa.namespace(), sa.name())),
            meta=meta, internal={"role": role_name}, auth_type="kubernetes",
            alias={"name": alias_name, "metadata": alias_meta})
        return envelope(None, auth=tok.auth_block(lease_duration=tok.creation_ttl),
                        warnings=warnings, mount_type="kubernetes")

    def _parse_and_validate(self, jwt, role, config):
        expected = J.Expected(algorithms=K8S_ALGS, now=self.sim.now())
        if not config["disable_iss_validation"] and config["issuer"]:
            expected.issuer = config["issuer"]
        if role["audience"]:
            expected.audiences = [role["audience"]]
        keyset = J.StaticKeySet(config["keys"]) if config["keys"] else J.NoVerifyKeySet()
        try:
            claims = J.validate([keyset], jwt, expected, allow_missing_iat_nbf_exp=True)
        except J.JoseError as e:
            if "verifying token signature" in str(e):
                self.sim.log("auth/%slogin unauthorized: %s" % (self.mount.path, e))
                raise permission_denied()
            raise VaultError(403, [str(e)])
        sa = ServiceAccount(claims)
        names = role["names"]
        if len(names) > 1 or names[0] != "*":
            if not any(J.go_glob(p, sa.name()) for p in names):
                raise VaultError(403, ["service account name not authorized"])
        allowed = False
        spaces = role["namespaces"]
        if spaces and (spaces[0] == "*" or any(J.go_glob(p, sa.namespace()) for p in spaces)):
            allowed = True
        # bound_service_account_namespace_selector needs the namespace's labels
        # from the Kubernetes API; vaultsim does not look them up.
        if not allowed:
            raise VaultError(403, ["namespace not authorized"])
        return sa

    def renew_params(self, tok, req):
        return _renew(self, tok, "kubernetes")


def _label_selector_ok(text):
    """A LabelSelector as JSON or YAML (matchLabels / matchExpressions). YAML
    is only checked for being a mapping of those keys."""
    try:
        sel = json.loads(text)
        return isinstance(sel, dict) and set(sel) <= {"matchLabels", "matchExpressions"}
    except ValueError:
        keys = [ln.split(":", 1)[0].strip() for ln in text.splitlines()
                if ln.strip() and not ln.startswith((" ", "\t", "-"))]
        return bool(keys) and all(":" in ln for ln in text.splitlines()
                                  if ln.strip() and not ln.startswith((" ", "\t", "-"))) \
            and set(keys) <= {"matchLabels", "matchExpressions"}


class ServiceAccount:
    """The serviceAccount struct decoded (mapstructure) from the JWT claims:
    a projected token's "kubernetes.io" claim wins over the legacy ones."""

    def __init__(self, claims):
        def s(k):
            v = claims.get(k, "")
            if not isinstance(v, str):
                raise VaultError(500, ["1 error(s) decoding:\n\n* '%s' expected type 'string', "
                                       "got unconvertible type '%s'" % (k, type(v).__name__)])
            return v
        self._name = s("kubernetes.io/serviceaccount/service-account.name")
        self._uid = s("kubernetes.io/serviceaccount/service-account.uid")
        self.secret_name = s("kubernetes.io/serviceaccount/secret.name")
        self._namespace = s("kubernetes.io/serviceaccount/namespace")
        aud = claims.get("aud")
        if aud is None:
            self.audience = []
        elif isinstance(aud, list):
            self.audience = [str(a) for a in aud]
        else:
            raise VaultError(500, ["1 error(s) decoding:\n\n* 'aud': source data must be an "
                                   "array or slice, got %s" % type(aud).__name__.replace(
                                       "str", "string")])
        k = claims.get("kubernetes.io")
        self.projected = None
        if k is not None:
            if not isinstance(k, dict):
                raise VaultError(500, ["1 error(s) decoding:\n\n* 'kubernetes.io' expected a "
                                       "map, got '%s'" % type(k).__name__])
            sa = k.get("serviceaccount")
            self.projected = {"namespace": k.get("namespace") or "",
                              "serviceaccount": sa if isinstance(sa, dict) else None}

    def name(self):
        if self.projected and self.projected["serviceaccount"] is not None:
            return self.projected["serviceaccount"].get("name") or ""
        return self._name

    def namespace(self):
        if self.projected is not None:
            return self.projected["namespace"]
        return self._namespace

    def uid(self):
        uid = self._uid
        if self.projected and self.projected["serviceaccount"] is not None:
            uid = self.projected["serviceaccount"].get("uid") or ""
        if uid == "":
            raise VaultError(500, ["could not parse UID from claims"])
        return uid


def token_review(config, jwt, want_aud):
    """tokenReviewAPI.Review: (name, namespace, uid) or ReviewError."""
    spec = {"token": jwt}
    if want_aud:
        spec["audiences"] = list(want_aud)
    body = json.dumps({"metadata": {"creationTimestamp": None}, "spec": spec,
                       "status": {"user": {}}}).encode()
    bearer = (config["token_reviewer_jwt"] or jwt).strip()
    url = config["host"].rstrip("/") + "/apis/authentication.k8s.io/v1/tokenreviews"
    try:
        status, raw = J.https_request(
            "POST", url, ca_pem=config["ca_cert"] or None, body=body,
            headers={"Authorization": "Bearer " + bearer, "Content-Type": "application/json",
                     "Accept": "application/json"})
    except (OSError, ValueError) as e:
        raise ReviewError('Post "%s": %s' % (url, e))
    if status == 401:
        raise ReviewError("lookup failed: service account unauthorized; this could mean it has "
                          "been deleted or recreated with a new token")
    if status < 200 or status > 206:
        raise ReviewError("the server responded with the status code %d: %s"
                          % (status, raw.decode("utf-8", "replace").strip()))
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise ReviewError(str(e))
    if not isinstance(doc, dict):
        raise ReviewError("json: cannot unmarshal into Go value of type v1.TokenReview")
    if isinstance(doc.get("status"), str) and doc["status"] != "Success":
        raise ReviewError(doc.get("message") or doc["status"])
    st = doc.get("status") if isinstance(doc.get("status"), dict) else {}
    if st.get("error"):
        raise ReviewError("lookup failed: %s" % st["error"])
    if not st.get("authenticated"):
        raise ReviewError("lookup failed: service account jwt not valid")
    if want_aud:
        got = st.get("audiences") or []
        if not any(a in got for a in want_aud):
            raise ReviewError("lookup failed: service account jwt valid for audience(s) [%s], "
                              "but wanted [%s]" % (" ".join(got), " ".join(want_aud)))
    user = st.get("user") or {}
    parts = str(user.get("username") or "").split(":")
    if len(parts) != 4:
        raise ReviewError("lookup failed: unexpected username format")
    if parts[0] != "system" or parts[1] != "serviceaccount":
        raise ReviewError("lookup failed: username returned is not a service account")
    return parts[3], parts[2], str(user.get("uid") or "")


# ==========================================================================
# auth/jwt/ (also mounted as type "oidc")

BOUND_CLAIMS_TYPES = ("string", "glob")


class JWTBackend:
    type = "jwt"

    def __init__(self, sim, mount):
        self.sim = sim
        self.mount = mount
        self.config = None
        self.roles = {}
        self.keysets = None

    def unauthenticated(self, req):
        return req.sub in ("login", "oidc/auth_url", "oidc/callback")

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
        if s == "config":
            if op == "read":
                return self._config_read()
            if write:
                return self._config_write(req)
            raise unsupported()
        if s == "role" and op == "list":
            return _list_response(sorted(self.roles))
        m = re.match(r"^role/([^/]+)$", s)
        if m:
            return self._role(req, m.group(1).lower())
        raise unsupported()

    # ---- fetching (without the request lock)

    def _fetch(self, url, ca_pem):
        with self.sim.unlocked():
            return J.https_request("GET", url, ca_pem=ca_pem or None)

    def _discover(self, issuer, ca_pem):
        """cap jwt.NewOIDCDiscoveryKeySet: the discovery document's jwks_uri."""
        status, body = self._fetch(issuer.rstrip("/") + "/.well-known/openid-configuration",
                                   ca_pem)
        if status != 200:
            raise J.JoseError("%d: %s" % (status, body.decode("utf-8", "replace")))
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise J.JoseError("failed to decode OIDC discovery document: %s" % e)
        if doc.get("issuer") != issuer:
            raise J.JoseError('issuer did not match the returned issuer, expected "%s" got "%s"'
                              % (issuer, doc.get("issuer")))
        return J.RemoteKeySet(doc.get("jwks_uri") or "", ca_pem, self._fetch)

    # ---- config

    def _config_read(self):
        c = self.config
        if c is None:
            raise not_found()
        return envelope({k: copy.deepcopy(c[k]) for k in (
            "oidc_discovery_url", "oidc_discovery_ca_pem", "oidc_client_id",
            "oidc_response_mode", "oidc_response_types", "default_role",
            "jwt_validation_pubkeys", "jwt_supported_algs", "jwks_url", "jwks_pairs",
            "jwks_ca_pem", "bound_issuer", "provider_config", "namespace_in_state")})

    def _config_write(self, req):
        d = req.data
        c = {
            "oidc_discovery_url": _string_field(d, "oidc_discovery_url"),
            "oidc_discovery_ca_pem": _string_field(d, "oidc_discovery_ca_pem"),
            "oidc_client_id": _string_field(d, "oidc_client_id"),
            "oidc_client_secret": _string_field(d, "oidc_client_secret"),
            "oidc_response_mode": _string_field(d, "oidc_response_mode"),
            "oidc_response_types": parse_str_list(d.get("oidc_response_types")),
            "jwks_url": _string_field(d, "jwks_url"),
            "jwks_pairs": list(d.get("jwks_pairs") or []),
            "jwks_ca_pem": _string_field(d, "jwks_ca_pem"),
            "default_role": _string_field(d, "default_role").lower(),
            "jwt_validation_pubkeys": parse_str_list(d.get("jwt_validation_pubkeys")),
            "jwt_supported_algs": parse_str_list(d.get("jwt_supported_algs")),
            "bound_issuer": _string_field(d, "bound_issuer"),
            "provider_config": dict(d.get("provider_config") or {}),
        }
        if "namespace_in_state" in d:
            c["namespace_in_state"] = parse_bool(d["namespace_in_state"], False,
                                                 "namespace_in_state")
        else:
            c["namespace_in_state"] = True if self.config is None else \
                self.config["namespace_in_state"]
        methods = sum([bool(c["oidc_discovery_url"]), bool(c["jwt_validation_pubkeys"]),
                       bool(c["jwks_url"]), bool(c["jwks_pairs"])])
        keys = []
        if methods != 1:
            raise bad_request("exactly one of 'jwt_validation_pubkeys', 'jwks_url', "
                              "'jwks_pairs' or 'oidc_discovery_url' must be set")
        if bool(c["oidc_client_id"]) != bool(c["oidc_client_secret"]):
            raise bad_request("both 'oidc_client_id' and 'oidc_client_secret' must be set for "
                              "OIDC")
        if c["oidc_discovery_url"]:
            try:
                self._discover(c["oidc_discovery_url"], c["oidc_discovery_ca_pem"])
            except (J.JoseError, OSError, ValueError) as e:
                self.sim.log("error checking oidc discovery URL: %s" % e)
                raise bad_request("error checking oidc discovery URL")
        elif c["oidc_client_id"]:
            raise bad_request("'oidc_discovery_url' must be set for OIDC")
        elif c["jwks_ca_pem"] and c["jwks_pairs"]:
            raise bad_request("CA PEMs must be provided as part of the 'jwks_pairs' when using "
                              "multiple JWKS URLs")
        elif c["jwks_pairs"] and c["bound_issuer"]:
            raise bad_request("Bound issuer is not supported for use with 'jwks_pairs'")
        elif c["jwks_url"]:
            self._check_jwks_url(c["jwks_url"], c["jwks_ca_pem"])
        elif c["jwks_pairs"]:
            for url, ca in self._pairs(c["jwks_pairs"]):
                self._check_jwks_url(url, ca)
        else:
            for pem in c["jwt_validation_pubkeys"]:
                try:
                    keys.append(J.parse_public_key_pem(pem))
                except J.JoseError as e:
                    raise bad_request("error parsing public key: %s" % e)
        for alg in c["jwt_supported_algs"]:
            if alg not in J.ALL_ALGS:
                raise bad_request('invalid jwt_supported_algs: unsupported signing algorithm '
                                  '"%s"' % alg)
        if any(t not in ("code", "id_token") for t in c["oidc_response_types"]):
            raise bad_request("invalid response_types [%s]. 'code' and 'id_token' are allowed"
                              % " ".join(c["oidc_response_types"]))
        mode = c["oidc_response_mode"]
        if mode in ("", "query"):
            if "id_token" in c["oidc_response_types"]:
                raise bad_request("query response_mode may not be used with an id_token "
                                  "response_type")
        elif mode != "form_post":
            raise bad_request('invalid response_mode: "%s"' % mode)
        if c["provider_config"]:
            prov = c["provider_config"].get("provider")
            if not prov:
                raise bad_request("invalid provider_config: 'provider' field not found in "
                                  "provider_config")
            # azure, gsuite, ibmisam and secureauth are not modelled.
            raise bad_request('invalid provider_config: provider "%s" not found in custom '
                              'providers' % prov)
        c["keys"] = keys
        self.config = c
        self.keysets = None
        return no_content()

    def _pairs(self, pairs):
        out = []
        for p in pairs:
            if not isinstance(p, dict) or not isinstance(p.get("jwks_url"), str):
                raise bad_request("invalid jwks_pairs: each pair needs a 'jwks_url' string")
            out.append((p["jwks_url"], p.get("jwks_ca_pem") or ""))
        return out

    def _check_jwks_url(self, url, ca_pem):
        """validateJWKSURL: the keys must be fetchable."""
        if ca_pem and "-----BEGIN " not in ca_pem:
            raise bad_request("error checking jwks_ca_pem")
        try:
            J.RemoteKeySet(url, ca_pem, self._fetch)._remote()
        except J.JoseError as e:
            self.sim.log("error checking jwks URL %s: %s" % (url, e))
            raise bad_request("error checking jwks URL %s" % url)

    def _keysets(self):
        if self.keysets is not None:
            return self.keysets
        c = self.config
        if c["keys"]:
            ks = [J.StaticKeySet(c["keys"])]
        elif c["jwks_url"]:
            ks = [J.RemoteKeySet(c["jwks_url"], c["jwks_ca_pem"], self._fetch)]
        elif c["jwks_pairs"]:
            ks = [J.RemoteKeySet(u, ca, self._fetch) for u, ca in self._pairs(c["jwks_pairs"])]
        elif c["oidc_discovery_url"] and not c["oidc_client_id"]:
            try:
                ks = [self._discover(c["oidc_discovery_url"], c["oidc_discovery_ca_pem"])]
            except (J.JoseError, OSError, ValueError) as e:
                raise bad_request("error configuring token validator: keyset configuration "
                                  "error: %s" % e)
        else:
            raise bad_request("error configuring token validator: unsupported config type")
        self.keysets = ks
        return ks

    # ---- roles

    def _role(self, req, name):
        op = req.op
        if op == "read":
            r = self.roles.get(name)
            if r is None:
                raise not_found()
            d = {k: copy.deepcopy(r[k]) for k in (
                "role_type", "expiration_leeway", "not_before_leeway", "clock_skew_leeway",
                "bound_audiences", "bound_subject", "bound_claims_type", "bound_claims",
                "claim_mappings", "user_claim", "user_claim_json_pointer", "groups_claim",
                "allowed_redirect_uris", "oidc_scopes", "verbose_oidc_logging", "max_age")}
            return envelope(role_token_data(r, d))
        if op == "delete":
            self.roles.pop(name, None)
            return no_content()
        if op not in ("create", "update"):
            raise unsupported()
        d = req.data
        r = copy.deepcopy(self.roles.get(name))
        if r is None:
            if op == "update":
                raise VaultError(500, ["role entry not found during update operation"])
            r = new_role_entry()
            r.update({"role_type": "", "expiration_leeway": 0, "not_before_leeway": 0,
                      "clock_skew_leeway": 0, "bound_audiences": None, "bound_subject": "",
                      "bound_claims_type": "string", "bound_claims": None,
                      "claim_mappings": None, "user_claim": "", "user_claim_json_pointer": False,
                      "groups_claim": "", "oidc_scopes": None, "allowed_redirect_uris": None,
                      "verbose_oidc_logging": False, "max_age": 0})
        role_type = _string_field(d, "role_type") or "oidc"
        if role_type not in ("jwt", "oidc"):
            raise bad_request("invalid 'role_type': %s" % role_type)
        r["role_type"] = role_type
        parse_role_token_fields(r, d)
        for k in ("expiration_leeway", "not_before_leeway", "clock_skew_leeway"):
            if k in d:
                r[k] = parse_duration(d[k], k)
        if "bound_audiences" in d:
            r["bound_audiences"] = parse_str_list(d["bound_audiences"])
        if "bound_subject" in d:
            r["bound_subject"] = _string_field(d, "bound_subject")
        if "verbose_oidc_logging" in d:
            r["verbose_oidc_logging"] = parse_bool(d["verbose_oidc_logging"], False,
                                                   "verbose_oidc_logging")
        if "max_age" in d:
            r["max_age"] = parse_duration(d["max_age"], "max_age")
        bct = _string_field(d, "bound_claims_type") or "string"
        if bct not in BOUND_CLAIMS_TYPES:
            raise bad_request("invalid 'bound_claims_type': %s" % bct)
        r["bound_claims_type"] = bct
        if "bound_claims" in d:
            bc = d["bound_claims"]
            if bc is None or bc == "":
                bc = {}
            if not isinstance(bc, dict):
                raise bad_request('error converting input %s for field "bound_claims"'
                                  % J.go_fmt(bc))
            bc = {k: _request_value(v) for k, v in bc.items()}
            if bct == "glob":
                for v in bc.values():
                    vals, ok = J.normalize_list(v)
                    if not ok:
                        raise bad_request("claim is not a string or list: %s" % J.go_fmt(v))
                    for x in vals:
                        if not isinstance(x, str) or isinstance(x, J.Num):
                            raise bad_request("claim is not a string: %s" % J.go_fmt(x))
            r["bound_claims"] = bc
        if "claim_mappings" in d:
            cm = d["claim_mappings"] or {}
            if not isinstance(cm, dict):
                raise bad_request('error converting input %s for field "claim_mappings"'
                                  % J.go_fmt(cm))
            cm = {str(k): J.go_fmt(v) if not isinstance(v, str) else v for k, v in cm.items()}
            targets = set()
            for target in (cm[k] for k in sorted(cm)):
                if target == "role":
                    raise bad_request('metadata key "role" is reserved and may not be a mapping '
                                      'destination')
                if target in targets:
                    raise bad_request('multiple keys are mapped to metadata key "%s"' % target)
                targets.add(target)
            r["claim_mappings"] = cm
        if "user_claim" in d:
            r["user_claim"] = _string_field(d, "user_claim")
        if r["user_claim"] == "":
            raise bad_request("a user claim must be defined on the role")
        if "user_claim_json_pointer" in d:
            r["user_claim_json_pointer"] = parse_bool(d["user_claim_json_pointer"], False,
                                                      "user_claim_json_pointer")
        if "groups_claim" in d:
            r["groups_claim"] = _string_field(d, "groups_claim")
        if "oidc_scopes" in d:
            r["oidc_scopes"] = parse_str_list(d["oidc_scopes"])
        if "allowed_redirect_uris" in d:
            r["allowed_redirect_uris"] = parse_str_list(d["allowed_redirect_uris"])
        if role_type == "oidc" and not r["allowed_redirect_uris"]:
            raise bad_request("'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or "
                              "unspecified.")
        if role_type != "oidc" and not (r["bound_audiences"] or r["token_bound_cidrs"] or
                                        r["bound_subject"] or r["bound_claims"]):
            raise bad_request("must have at least one bound constraint when creating/updating "
                              "a role")
        if r["token_max_ttl"] > 0 and r["token_ttl"] > r["token_max_ttl"]:
            raise bad_request("ttl should not be greater than max ttl")
        warnings = []
        if r["token_max_ttl"] > self.mount.max_ttl():
            warnings.append("token max ttl is greater than the system or backend mount's "
                            "maximum TTL value; issued tokens' max TTL value will be truncated")
        if r["verbose_oidc_logging"]:
            warnings.append("verbose_oidc_logging has been enabled for this role. This is not "
                            "recommended in production since sensitive information may be "
                            "present in OIDC responses.")
        self.roles[name] = r
        if warnings:
            return envelope(None, warnings=warnings)
        return no_content()

    # ---- login

    def _login(self, req):
        c = self.config
        if c is None:
            raise bad_request("could not load configuration")
        d = req.data
        role_name = _string_field(d, "role").lower() or c["default_role"]
        if role_name == "":
            raise bad_request("missing role")
        role = self.roles.get(role_name)
        if role is None:
            raise bad_request('role "%s" could not be found' % role_name)
        role = copy.deepcopy(role)
        if role["role_type"] == "oidc":
            raise bad_request("role with oidc role_type is not allowed")
        token = _string_field(d, "jwt")
        if token == "":
            raise bad_request("missing token")
        keysets = self._keysets()
        expected = J.Expected(issuer=c["bound_issuer"], subject=role["bound_subject"],
                              audiences=role["bound_audiences"],
                              algorithms=c["jwt_supported_algs"] or J.ALL_ALGS,
                              not_before_leeway=role["not_before_leeway"],
                              expiration_leeway=role["expiration_leeway"],
                              clock_skew_leeway=role["clock_skew_leeway"], now=self.sim.now())
        try:
            claims = J.validate(keysets, token, expected)
        except J.JoseError as e:
            raise bad_request("error validating token: %s" % e)
        if not role["bound_audiences"]:
            aud = J.get_claim(claims, "aud")
            if (isinstance(aud, list) and aud) or (isinstance(aud, str) and aud != ""):
                raise bad_request("audience claim found in JWT but no audiences bound to the "
                                  "role")
        alias, groups = self._identity(claims, role_name, role)
        err = validate_bound_claims(role["bound_claims_type"], role["bound_claims"] or {},
                                    claims)
        if err:
            raise bad_request("error validating claims: %s" % err)
        tok, warnings = self.sim.login_token(
            mount=self.mount, entry=role, path="auth/%slogin" % self.mount.path,
            display_name=display_name(self.mount, alias["name"]), meta=dict(alias["metadata"]),
            internal={"role": role_name}, auth_type=self.mount.type, alias=alias,
            group_aliases=groups)
        return envelope(None, auth=tok.auth_block(lease_duration=tok.creation_ttl),
                        warnings=warnings, mount_type=self.mount.type)

    def _identity(self, claims, role_name, role):
        """createIdentity: the alias from user_claim, metadata from
        claim_mappings (+ role), group aliases from groups_claim."""
        uc = role["user_claim"]
        raw = J.get_claim(claims, uc) if role["user_claim_json_pointer"] else claims.get(uc)
        if raw is None:
            raise bad_request('claim "%s" not found in token' % uc)
        if not isinstance(raw, str) or isinstance(raw, J.Num):
            raise bad_request('claim "%s" could not be converted to string' % uc)
        meta = {}
        for source in sorted(role["claim_mappings"] or {}):
            v = J.get_claim(claims, source)
            if v is not None:
                if not isinstance(v, str) or isinstance(v, J.Num):
                    raise bad_request("error converting claim '%s' to string" % source)
                meta[role["claim_mappings"][source]] = v
        meta["role"] = role_name
        groups = []
        gc = role["groups_claim"]
        if gc:
            graw = J.get_claim(claims, gc)
            if graw is None:
                raise bad_request('failed to fetch groups: "%s" claim not found in token' % gc)
            vals, ok = J.normalize_list(graw)
            if not ok:
                raise bad_request('"%s" claim could not be converted to string list' % gc)
            for g in vals:
                if not isinstance(g, str) or isinstance(g, J.Num):
                    raise bad_request("value %s in groups claim could not be parsed as string"
                                      % J.go_fmt(g))
                if g:
                    groups.append({"name": g})
        return {"name": raw, "metadata": meta}, groups

    def renew_params(self, tok, req):
        return _renew(self, tok, "jwt")


def _request_value(v):
    """A bound claim value as Vault decodes a request body (UseNumber)."""
    if isinstance(v, list):
        return [_request_value(x) for x in v]
    return J.go_number(v)


def validate_bound_claims(claims_type, bound, claims):
    """validateBoundClaims; returns the error text or None. Go ranges over a
    map in random order; vaultsim checks the claims in sorted order."""
    globs = claims_type == "glob"
    for name in sorted(bound):
        actual = J.get_claim(claims, name)
        if actual is None:
            return 'claim "%s" is missing' % name
        acts, ok = J.normalize_list(actual)
        if not ok:
            return "received claim is not a string, bool, int or list: %s" % J.go_fmt(actual)
        exps, ok = J.normalize_list(bound[name])
        if not ok:
            return "bound claim is not a string, bool, int or list: %s" % J.go_fmt(bound[name])
        found = False
        for e in exps:
            for a in acts:
                if globs:
                    if not isinstance(e, str) or isinstance(e, J.Num):
                        return "received claim is not a glob string: %s" % J.go_fmt(e)
                    if isinstance(a, str) and not isinstance(a, J.Num) and J.go_glob(e, a):
                        found = True
                elif J.go_value_key(a) == J.go_value_key(e):
                    found = True
                if found:
                    break
            if found:
                break
        if not found:
            return 'claim "%s" does not match any associated bound claim values' % name
    return None

