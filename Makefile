# certagent: build, test and demo.
#
#   make            build ./certagent
#   make deps       install missing system packages (apt-get, dnf or apk)
#   make check      build and run every test (unit + integration)
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan
#   make valgrind   unit tests under valgrind
#   make fuzz       libFuzzer harnesses, FUZZ_S seconds each (test/fuzz/)
#   make demo       start vaultsim and certagent and show what happens

PKGS     := libuv libcurl openssl libcjson yaml-0.1
CC       ?= cc
PYTHON   ?= /usr/bin/python3
VERSION  := 0.1.0
CSTD     := -std=c11 -D_GNU_SOURCE -DCERTAGENT_VERSION=\"$(VERSION)\"
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter
OPT      ?= -O2 -g

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

all: certagent

certagent: $(BIN)
	cp $(BIN) $@.tmp && mv -f $@.tmp $@

$(BUILD)/agent/%.o: agent/%.c
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
# It always carries the release build, also under SANITIZE=1: a sanitizer
# runtime is no part of what ships, and LeakSanitizer cannot run in the
# image's chroot anyway (it needs /proc).
REL_BIN   := build/rel/certagent
IMAGE_BIN ?= $(REL_BIN)
IMAGE_DIR ?= build/image

image:
	$(MAKE) SANITIZE= $(IMAGE_BIN)
	$(PYTHON) packaging/image/build.py --binary $(IMAGE_BIN) --out $(IMAGE_DIR) \
		--tag certagent:$(VERSION)

check: deps lint
	$(MAKE) unit
	$(MAKE) integration

valgrind: deps $(UNIT_BIN)
	VALGRIND=1 sh scripts/unit.sh $(UNIT_BIN)

lint:
	sh scripts/checksrc.sh

demo: deps certagent
	$(PYTHON) examples/demo/run.py

# Benchmarks (bench/README.md): an optimised build without debug info in
# its own directory, then bench/run.py against vaultsim; writes
# bench/results.md.  BENCH_ARGS=--quick for small counts.
bench: deps
	$(MAKE) SANITIZE= OPT=-O2 BUILD=build/bench build/bench/certagent
	$(PYTHON) bench/run.py --binary build/bench/certagent $(BENCH_ARGS)

clean:
	rm -rf build certagent

# Fuzzing (test/fuzz/README.md): one libFuzzer harness per parser of input
# we do not control, linked with the agent's objects built by clang with
# ASan + UBSan (and libFuzzer's coverage) in their own build directory;
# `make fuzz` builds them and runs each for FUZZ_S seconds from its
# checked-in seeds (test/fuzz/corpus/NAME), one after the other.
FUZZ_CC      ?= clang
FUZZ_S       ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_TARGETS := config tmpl vault_json x509 window listener
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
