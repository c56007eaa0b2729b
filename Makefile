# certagent: build, test and demo.
#
#   make            build ./certagent
#   make deps       install missing system packages (apt-get, dnf or apk)
#   make check      build and run every test (unit + integration)
#   make small      the small static build, build/small/certagent
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan
#   make valgrind   unit tests under valgrind
#   make fuzz       libFuzzer harnesses, FUZZ_S seconds each (test/fuzz/)
#   make demo       start vaultsim and certagent and show what happens
#   make soak       leak soak: 10,000 rotations with hooks, 2,000 SIGHUPs

PKGS     := libuv libcurl openssl libcjson yaml-0.1
CC       ?= cc
PYTHON   ?= /usr/bin/python3
VERSION  := 0.1.0
CSTD     := -std=c11 -D_GNU_SOURCE -DCERTAGENT_VERSION=\"$(VERSION)\"
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter
# -Os: 100 KB (15%) smaller than -O2 for 0.4% more instructions per
# issuance (bench/profile.py), nearly all of which are OpenSSL's.
OPT      ?= -Os -g

ifeq ($(SANITIZE),1)
BUILD    := build/san
OPT      := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD    := build/rel
SANFLAGS :=
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   += $(CSTD) $(WARN) $(OPT) $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS  += $(SANFLAGS)
LDLIBS   += $(PKG_LIBS) -lm

AGENT_SRC  := $(wildcard agent/*.c agent/*/*.c)
AGENT_OBJ  := $(AGENT_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ    := $(filter-out $(BUILD)/agent/main.o,$(AGENT_OBJ))
UNIT_SRC   := $(wildcard test/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:test/unit/%.c=$(BUILD)/test/%)
BIN        := $(BUILD)/certagent

# Each object depends on the headers it includes, as the compiler saw
# them (-MMD); -MP keeps a removed header from breaking the build.
DEPFLAGS   := -MMD -MP

.PHONY: all deps check unit integration valgrind demo bench clean lint format image
.PHONY: small integration-small bench-footprint FORCE
.PHONY: soak soak-valgrind

all: certagent

certagent: $(BIN)
	cp $(BIN) $@.tmp && mv -f $@.tmp $@

# The flags the objects were built with: a changed OPT (or CFLAGS)
# rebuilds them rather than linking objects of another build.
$(BUILD)/.cflags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(CFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS)' > $@

$(BUILD)/agent/%.o: agent/%.c $(BUILD)/.cflags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Iagent -c -o $@ $<

# Linked beside and renamed, so a test running the old binary never sees
# a half-written one.
$(BIN): $(AGENT_OBJ)
	$(CC) $(LDFLAGS) -o $@.tmp $^ $(LDLIBS) && mv -f $@.tmp $@

$(BUILD)/test/%: test/unit/%.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -MF $@.d -Iagent $(shell pkg-config --cflags cmocka) \
		-o $@ $< $(LIB_OBJ) $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

-include $(AGENT_OBJ:.o=.d) $(UNIT_BIN:=.d)

deps:
	sh scripts/deps.sh

# Unit tests: each binary in its own process under a timeout; cmocka
# prints its summary per file, and scripts/unit.sh adds a total line.
unit: deps $(BIN) $(UNIT_BIN)
	sh scripts/unit.sh $(UNIT_BIN)

# The integration tests wait on processes far more than they compute, and
# each has its own ports and directories: run them several at a time.
PYTEST_JOBS ?= 4

integration: deps $(BIN) image
	CERTAGENT_BIN=$(abspath $(BIN)) CERTAGENT_IMAGE=$(abspath $(IMAGE_DIR)):$(VERSION) \
		$(PYTHON) -m pytest -q -p no:cacheprovider -n $(PYTEST_JOBS) test/integration

# The container image: an OCI layout in $(IMAGE_DIR), written offline from
# IMAGE_BIN and exactly the libraries it loads (packaging/image/build.py).
# It carries the small static build (release flags, nothing but libc
# beside it), also under SANITIZE=1: a sanitizer runtime is no part of
# what ships, and LeakSanitizer cannot run in the image's chroot anyway
# (it needs /proc).
REL_BIN   := build/rel/certagent
SMALL_BIN := build/small/certagent
IMAGE_BIN ?= $(SMALL_BIN)
IMAGE_DIR ?= build/image

image:
	$(MAKE) SANITIZE= $(IMAGE_BIN)
	$(PYTHON) packaging/image/build.py --binary $(IMAGE_BIN) --out $(IMAGE_DIR) \
		--tag certagent:$(VERSION)

check: deps lint
	$(MAKE) unit
	$(MAKE) integration
ifneq ($(SANITIZE),1)
	$(MAKE) integration-small
endif

# The small static build (packaging/small/build.sh): libcurl from Debian's
# source package (or CURL_SRC=curl-X.tar.xz) with HTTP and HTTPS only;
# libcurl, OpenSSL, libuv, libyaml and cJSON linked in, glibc shared.
# The script caches libcurl under build/small/ and compiles the agent in
# build/small/obj through this Makefile; it runs every time, and does
# nothing when all is up to date.
small: deps $(SMALL_BIN)

$(SMALL_BIN): FORCE
	+MAKE="$(MAKE)" CC="$(CC)" sh packaging/small/build.sh

FORCE:

# The integration suite again, against the small build, so the two
# builds cannot drift apart (the image's tests ran in the first pass).
integration-small: deps $(SMALL_BIN)
	CERTAGENT_BIN=$(abspath $(SMALL_BIN)) \
		$(PYTHON) -m pytest -q -p no:cacheprovider -n $(PYTEST_JOBS) test/integration

valgrind: deps $(UNIT_BIN)
	VALGRIND=1 sh scripts/unit.sh $(UNIT_BIN)

lint:
	sh scripts/checksrc.sh

# Formats the lines changed since FORMAT_BASE (default HEAD: what is not
# committed yet) with .clang-format; see the note at its top.
FORMAT_BASE ?= HEAD
format:
	git clang-format --force --binary clang-format --extensions c,h $(FORMAT_BASE) -- agent test/unit

demo: deps certagent
	$(PYTHON) examples/demo/run.py

# Benchmarks (bench/README.md): an optimised build without debug info in
# its own directory, then bench/run.py against vaultsim; writes
# bench/results.md.  BENCH_ARGS=--quick for small counts.
bench: deps
	$(MAKE) SANITIZE= OPT=-Os BUILD=build/bench build/bench/certagent
	$(PYTHON) bench/run.py --binary build/bench/certagent $(BENCH_ARGS)

# The footprint of both builds side by side (bench/README.md): RSS with
# 1, 100 and 10,000 certificates, binary and image size; writes its own
# section of bench/results.md.
bench-footprint: deps small
	$(MAKE) SANITIZE= OPT=-Os BUILD=build/bench build/bench/certagent
	$(PYTHON) bench/run.py --footprint --binary build/bench/certagent \
		--small $(SMALL_BIN) $(BENCH_ARGS)

# Leak soak (test/soak/soak.py; not part of check): open fds equal at start
# and end, VmRSS growth under 1 MB after warm-up.  Shorter runs:
# make soak SOAK_ROTATIONS=1000 SOAK_HUPS=200.  The short run under
# valgrind (memcheck, errors and leaks fail) is part of check, as
# test/integration/test_soak.py; soak-valgrind runs it alone.  Both use
# the release build: valgrind and ASan do not mix.
SOAK_ROTATIONS ?= 10000
SOAK_HUPS      ?= 2000

soak: deps
	$(MAKE) SANITIZE= $(REL_BIN)
	$(PYTHON) test/soak/soak.py --binary $(REL_BIN) --rotations $(SOAK_ROTATIONS) \
		--hups $(SOAK_HUPS)

soak-valgrind: deps
	$(MAKE) SANITIZE= $(REL_BIN)
	$(PYTHON) test/soak/soak.py --binary $(REL_BIN) --rotations 200 --hups 50 --valgrind

clean:
	rm -rf build certagent

# Man pages.  certagent.yaml(5) is generated from the option table by
# packaging/man/mkman.c and checked in; `make man` rewrites it after a
# change to the table, and test_packaging.py fails while it differs.
MKMAN    := $(BUILD)/mkman
MAN_DIR  := packaging/man

$(MKMAN): packaging/man/mkman.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -MF $@.d -Iagent -o $@ $< $(LIB_OBJ) $(LDFLAGS) $(LDLIBS)

-include $(MKMAN).d

.PHONY: man install uninstall
man: $(MKMAN)
	$(MKMAN) $(MAN_DIR)/certagent.yaml.5.in > $(MAN_DIR)/certagent.yaml.5.tmp
	mv -f $(MAN_DIR)/certagent.yaml.5.tmp $(MAN_DIR)/certagent.yaml.5

integration: $(MKMAN)

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the systemd
# unit (its ExecStart pointing at BINDIR) and both man pages.
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
DATADIR  ?= $(PREFIX)/share/certagent
INSTALL  ?= install

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/certagent
	$(INSTALL) -m 0644 $(MAN_DIR)/certagent.8 $(DESTDIR)$(MANDIR)/man8/certagent.8
	$(INSTALL) -m 0644 $(MAN_DIR)/certagent.yaml.5 $(DESTDIR)$(MANDIR)/man5/certagent.yaml.5
	sed 's|/usr/bin/certagent|$(BINDIR)/certagent|g' packaging/systemd/certagent@.service \
		> $(DESTDIR)$(UNITDIR)/certagent@.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/certagent@.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/certagent@.service.tmp $(DESTDIR)$(UNITDIR)/certagent@.service
	for f in templates/*/*.tpl; do \
		$(INSTALL) -D -m 0644 $$f $(DESTDIR)$(DATADIR)/$$f || exit 1; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/certagent $(DESTDIR)$(MANDIR)/man8/certagent.8 \
		$(DESTDIR)$(MANDIR)/man5/certagent.yaml.5 $(DESTDIR)$(UNITDIR)/certagent@.service
	rm -rf $(DESTDIR)$(DATADIR)/templates

# Fuzzing (test/fuzz/README.md): one libFuzzer harness per parser of input
# we do not control, linked with the agent's objects built by clang with
# ASan + UBSan (and libFuzzer's coverage) in their own build directory;
# `make fuzz` builds them and runs each for FUZZ_S seconds from its
# checked-in seeds (test/fuzz/corpus/NAME), one after the other.
FUZZ_CC      ?= clang
FUZZ_S       ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_TARGETS := config tmpl vault_json x509 window listener
FUZZ_TARGETS += hcl
FUZZ_CFLAGS  := $(CSTD) $(WARN) -O1 -g -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=all $(PKG_CFLAGS)
FUZZ_LIBOBJ  := $(filter-out $(FUZZ_BUILD)/agent/main.o,$(AGENT_SRC:%.c=$(FUZZ_BUILD)/%.o))
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-build

$(FUZZ_BUILD)/agent/%.o: agent/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -Iagent -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_LIBOBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(DEPFLAGS) -MF $@.d -Iagent \
		-o $@ $< $(FUZZ_LIBOBJ) $(PKG_LIBS) -lm

-include $(FUZZ_LIBOBJ:.o=.d) $(FUZZ_BIN:=.d)

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	$(MAKE) fuzz-build
	sh test/fuzz/run.sh $(FUZZ_S) $(FUZZ_TARGETS)

# ---- corpus ----
# The expected outputs of the template corpus (test/templates/corpus/),
# rendered by Go's text/template with consul-template stand-ins. Run it
# when the corpus changes and commit expected/; it needs Debian's golang-go
# on the developer's machine only: CI compares against the checked-in files.
tmplref:
	cd tools/tmplref && GOFLAGS=-mod=mod GOPROXY=off go run . -corpus ../../test/templates/corpus
.PHONY: tmplref
