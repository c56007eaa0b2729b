// tmplref renders the template corpus (test/templates/corpus) the way
// Vault Agent and consul-template do, to produce the expected outputs that
// certagent's corpus test compares against byte for byte.
//
// Why a Go program: the language certagent implements is Go's
// text/template, and the only faithful reference for its trimming,
// printing, map ordering, fmt verbs and error lines is Go itself.  It
// uses the standard library only; the consul-template functions the
// corpus calls are small stand-ins written here with consul-template's
// semantics (cited per function), reading the Vault data from data.json
// instead of a Vault server, and returning Vault's response shapes:
// .Data for kv v1, .Data.data and .Data.metadata for kv v2 (with or
// without "data/" in the path, as consul-template inserts it), the pki
// issue response, and pkiCert's Cert/Key/CA/CAChain.
//
// The PKI answers are fixed stand-in PEM blocks (a real issuance is never
// the same twice); the corpus test compares PKI outputs with every PEM
// block replaced by its label and order, see corpus/README.md.
//
// Run it when the corpus changes:  make tmplref   (needs Debian's golang-go).
// CI does not run it; it compares against the checked-in outputs.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

// Secret is consul-template's dependency.Secret (the fields a template sees).
type Secret struct {
	RequestID     string
	LeaseID       string
	LeaseDuration int
	Renewable     bool
	Data          map[string]interface{}
	Warnings      []string
}

// PemEncoded is consul-template's dependency.PemEncoded, pkiCert's value.
type PemEncoded struct {
	Cert, Key, CA string
	CAChain       []string
}

// Data lets templates write .Data.Cert as well as .Cert (consul-template).
func (a PemEncoded) Data() PemEncoded { return a }

type pkiFixture struct {
	Leaf   string   `json:"leaf"`
	Issuer string   `json:"issuer"`
	Chain  []string `json:"chain"`
	CA     string   `json:"ca"`
}

type dataFile struct {
	Mounts map[string]string          `json:"mounts"`
	KV     map[string]json.RawMessage `json:"kv"`
	PKI    map[string]pkiFixture      `json:"pki"`
}

type store struct {
	mounts map[string]string                   // "secret" -> "kv-v2"
	kv     map[string][]map[string]interface{} // "secret/app" -> versions
	pki    map[string]pkiFixture
}

// vaultsim's (and Vault's) default lease of a kv v1 read: 768h.
const kv1DefaultLease = 768 * 3600

func decode(raw []byte, v interface{}) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber() // as Vault's api client does: numbers stay json.Number
	return d.Decode(v)
}

func load(path string) (*store, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var df dataFile
	if err := decode(raw, &df); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	s := &store{
		// vaultsim's pre-mounted engines, then data.json's (re)mounts
		mounts: map[string]string{"secret": "kv-v2", "kv": "kv", "pki": "pki",
			"pki_int": "pki", "database": "database", "cubbyhole": "cubbyhole"},
		kv:  map[string][]map[string]interface{}{},
		pki: df.PKI,
	}
	for m, t := range df.Mounts {
		s.mounts[m] = t
	}
	for p, msg := range df.KV {
		var one map[string]interface{}
		if err := decode(msg, &one); err == nil {
			s.kv[p] = []map[string]interface{}{one}
			continue
		}
		var many []map[string]interface{}
		if err := decode(msg, &many); err != nil {
			return nil, fmt.Errorf("%s: kv %q: %v", path, p, err)
		}
		s.kv[p] = many
	}
	return s, nil
}

// mountOf returns the longest mount that prefixes path, and the rest.
func (s *store) mountOf(path string) (string, string, bool) {
	best := ""
	for m := range s.mounts {
		if strings.HasPrefix(path, m+"/") && len(m) > len(best) {
			best = m
		}
	}
	if best == "" {
		return "", "", false
	}
	return best, strings.TrimPrefix(path, best+"/"), true
}

func copyMap(m map[string]interface{}) map[string]interface{} {
	c := make(map[string]interface{}, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// fakePEM is a fixed stand-in PEM block for NAME, as Vault returns PEM:
// canonical base64 lines, no trailing newline.
func fakePEM(label, name string) string {
	b := pem.EncodeToMemory(&pem.Block{Type: label, Bytes: []byte("tmplref stand-in " + name)})
	return strings.TrimSuffix(string(b), "\n")
}

func (s *store) pkiIssue(path string) (map[string]interface{}, error) {
	f, ok := s.pki[path]
	if !ok || f.Leaf == "" {
		return nil, fmt.Errorf("tmplref: no pki fixture for %s", path)
	}
	chain := f.Chain
	if len(chain) == 0 {
		chain = []string{f.Issuer}
	}
	var cc []interface{}
	for _, c := range chain {
		cc = append(cc, fakePEM("CERTIFICATE", c))
	}
	return map[string]interface{}{
		"certificate":      fakePEM("CERTIFICATE", f.Leaf),
		"issuing_ca":       fakePEM("CERTIFICATE", f.Issuer),
		"ca_chain":         cc,
		"private_key":      fakePEM("EC PRIVATE KEY", f.Leaf+" key"),
		"private_key_type": "ec",
		"serial_number":    "39:dd:2e:90:b7:23:1f:8d:d3:7d:31:c5:1b:da:84:d0:5b:65:31:58",
		"expiration":       json.Number("1767225600"),
	}, nil
}

// secret is consul-template's `secret`: a read without data arguments, a
// write (here: a pki issue) with "k=v" arguments.  kv v2 paths get "data/"
// inserted after the mount when missing (consul-template's shimKVv2Path),
// and "?version=N" picks a version.
func (s *store) secret(path string, args ...string) (*Secret, error) {
	path = strings.TrimPrefix(path, "/")
	version := 0
	if i := strings.Index(path, "?"); i >= 0 {
		q := path[i+1:]
		path = path[:i]
		for _, kv := range strings.Split(q, "&") {
			if strings.HasPrefix(kv, "version=") {
				n, err := strconv.Atoi(strings.TrimPrefix(kv, "version="))
				if err != nil {
					return nil, fmt.Errorf("secret %q: bad version", path)
				}
				version = n
			}
		}
	}
	for _, a := range args {
		if !strings.Contains(a, "=") {
			return nil, fmt.Errorf("invalid value %q - must be key=value", a)
		}
	}
	mount, rel, ok := s.mountOf(path)
	if !ok {
		return nil, fmt.Errorf("no secret exists at %s", path)
	}
	switch s.mounts[mount] {
	case "pki":
		if len(args) > 0 {
			d, err := s.pkiIssue(path)
			if err != nil {
				return nil, err
			}
			return &Secret{Data: d}, nil
		}
		f, ok := s.pki[path]
		if !ok {
			return nil, fmt.Errorf("no secret exists at %s", path)
		}
		switch rel {
		case "cert/ca":
			return &Secret{Data: map[string]interface{}{
				"certificate": fakePEM("CERTIFICATE", f.CA) + "\n"}}, nil
		case "cert/ca_chain":
			var parts []string
			for _, c := range f.Chain {
				parts = append(parts, fakePEM("CERTIFICATE", c))
			}
			chain := strings.Join(parts, "\n") + "\n"
			return &Secret{Data: map[string]interface{}{
				"certificate": chain, "ca_chain": chain}}, nil
		}
		return nil, fmt.Errorf("tmplref: pki read %s not modelled", path)
	case "kv-v2":
		rel = strings.TrimPrefix(rel, "data/")
		vs, ok := s.kv[mount+"/"+rel]
		if !ok {
			return nil, fmt.Errorf("no secret exists at %s", path)
		}
		if version == 0 {
			version = len(vs)
		}
		if version < 1 || version > len(vs) {
			return nil, fmt.Errorf("no secret exists at %s", path)
		}
		return &Secret{Data: map[string]interface{}{
			"data": copyMap(vs[version-1]),
			"metadata": map[string]interface{}{
				"created_time": "2026-01-01T00:00:00Z", "custom_metadata": nil,
				"deletion_time": "", "destroyed": false,
				"version": json.Number(strconv.Itoa(version))},
		}}, nil
	case "kv":
		vs, ok := s.kv[mount+"/"+rel]
		if !ok {
			return nil, fmt.Errorf("no secret exists at %s", path)
		}
		d := copyMap(vs[len(vs)-1])
		lease := kv1DefaultLease
		return &Secret{Data: d, LeaseDuration: lease}, nil
	}
	return nil, fmt.Errorf("tmplref: %s engine not modelled", s.mounts[mount])
}

// secrets is consul-template's `secrets`: the keys one level under a path
// (folders end in "/"), sorted; kv v2 lists through metadata/.
func (s *store) secrets(path string) ([]string, error) {
	path = strings.TrimPrefix(path, "/")
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	mount, rel, ok := s.mountOf(path)
	if !ok {
		return nil, fmt.Errorf("no secrets at %s", path)
	}
	if s.mounts[mount] == "kv-v2" {
		rel = strings.TrimPrefix(rel, "metadata/")
	}
	seen := map[string]bool{}
	for p := range s.kv {
		pre := mount + "/" + rel
		if !strings.HasPrefix(p, pre) {
			continue
		}
		rest := strings.TrimPrefix(p, pre)
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// pkiCert is consul-template's `pkiCert`: the issue answer's PEM blocks
// re-encoded by encoding/pem (so each ends in a newline); CA is the
// first CA certificate, CAChain every distinct one.
func (s *store) pkiCert(path string, args ...string) (PemEncoded, error) {
	d, err := s.pkiIssue(strings.TrimPrefix(path, "/"))
	if err != nil {
		return PemEncoded{}, err
	}
	var p PemEncoded
	p.Cert = d["certificate"].(string) + "\n"
	p.Key = d["private_key"].(string) + "\n"
	p.CA = d["issuing_ca"].(string) + "\n"
	add := func(c string) {
		for _, x := range p.CAChain {
			if x == c {
				return
			}
		}
		p.CAChain = append(p.CAChain, c)
	}
	add(p.CA)
	for _, c := range d["ca_chain"].([]interface{}) {
		add(c.(string) + "\n")
	}
	return p, nil
}

// writeToFile is consul-template's: PATH USER GROUP PERMS [FLAGS] CONTENT,
// FLAGS "append" and/or "newline"; it renders as "".
func writeToFile(base string) func(string, string, string, string, ...string) (string, error) {
	return func(path, user, group, perms string, args ...string) (string, error) {
		if len(args) < 1 || len(args) > 2 {
			return "", errors.New("writeToFile: wrong number of arguments")
		}
		flags := ""
		if len(args) == 2 {
			flags = args[0]
		}
		content := args[len(args)-1]
		if user != "" || group != "" {
			return "", errors.New("tmplref: writeToFile ownership is not modelled")
		}
		pu, err := strconv.ParseUint(perms, 8, 32)
		if err != nil {
			return "", err
		}
		perm := os.FileMode(pu)
		if !filepath.IsAbs(path) {
			path = filepath.Join(base, path)
		}
		var f *os.File
		if strings.Contains(flags, "append") {
			f, err = os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, perm)
		} else {
			if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
				f, err = os.Create(path)
			}
		}
		if err != nil {
			return "", err
		}
		defer f.Close()
		b := []byte(content)
		if strings.Contains(flags, "newline") {
			b = append(b, '\n')
		}
		if _, err = f.Write(b); err != nil {
			return "", err
		}
		return "", os.Chmod(path, perm)
	}
}

// toJSON is consul-template's: json.Marshal (HTML-escaping, sorted keys)
// with surrounding space trimmed.
func toJSON(v interface{}) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(b)), nil
}

func toJSONPretty(v interface{}) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(b)), nil
}

func funcs(s *store, base string) template.FuncMap {
	return template.FuncMap{
		"secret":       s.secret,
		"secrets":      s.secrets,
		"pkiCert":      s.pkiCert,
		"writeToFile":  writeToFile(base),
		"toJSON":       toJSON,
		"toJSONPretty": toJSONPretty,
		"base64Encode": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"base64Decode": func(s string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(s)
			return string(b), err
		},
		"env":        os.Getenv,
		"replaceAll": func(f, t, s string) string { return strings.ReplaceAll(s, f, t) },
		"toLower":    strings.ToLower,
		"toUpper":    strings.ToUpper,
		"trimSpace":  strings.TrimSpace,
		"split":      func(sep, s string) []string { return strings.Split(s, sep) },
		"join":       func(sep string, a []string) string { return strings.Join(a, sep) },
	}
}

func main() {
	corpus := flag.String("corpus", "test/templates/corpus", "the corpus directory")
	flag.Parse()
	s, err := load(filepath.Join(*corpus, "data.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tmplref:", err)
		os.Exit(1)
	}
	exp := filepath.Join(*corpus, "expected")
	files := filepath.Join(exp, "files")
	// Start clean, so a removed template leaves no stale output.
	if err := os.RemoveAll(exp); err != nil {
		fmt.Fprintln(os.Stderr, "tmplref:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(exp, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "tmplref:", err)
		os.Exit(1)
	}
	names, _ := filepath.Glob(filepath.Join(*corpus, "*.tmpl"))
	sort.Strings(names)
	failed := 0
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tmplref:", err)
			os.Exit(1)
		}
		base := filepath.Base(n)
		// consul-template: missingkey=zero unless error_on_missing_key.
		t, err := template.New(base).Option("missingkey=zero").Funcs(funcs(s, files)).Parse(string(src))
		var out bytes.Buffer
		if err == nil {
			err = t.Execute(&out, nil)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "tmplref: %s: %v\n", base, err)
			failed++
			continue
		}
		o := filepath.Join(exp, strings.TrimSuffix(base, ".tmpl")+".out")
		if err := os.WriteFile(o, out.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "tmplref:", err)
			os.Exit(1)
		}
	}
	// Malformed templates: Go's own parse error, whose line the corpus
	// test checks certagent's file:line:col against.
	bad, _ := filepath.Glob(filepath.Join(*corpus, "bad", "*.tmpl"))
	sort.Strings(bad)
	for _, n := range bad {
		src, err := os.ReadFile(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tmplref:", err)
			os.Exit(1)
		}
		base := filepath.Base(n)
		_, err = template.New(base).Funcs(funcs(s, files)).Parse(string(src))
		if err == nil {
			fmt.Fprintf(os.Stderr, "tmplref: bad/%s parses without error\n", base)
			failed++
			continue
		}
		o := filepath.Join(exp, "bad", strings.TrimSuffix(base, ".tmpl")+".goerr")
		os.MkdirAll(filepath.Dir(o), 0o755)
		if err := os.WriteFile(o, []byte(err.Error()+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "tmplref:", err)
			os.Exit(1)
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
	fmt.Printf("tmplref: %d templates, %d malformed, outputs in %s\n", len(names), len(bad), exp)
}
