# certagent: build, test and demo.
#
#   make            build ./certagent
#   make deps       install missing system packages (apt-get, dnf or apk)
#   make check      build and run every test (unit + integration)
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan
#   make valgrind   unit tests under valgrind
#   make demo       start vaultsim and certagent and show what happens
#   make soak       leak soak: 10,000 rotations with hooks, 2,000 SIGHUPs

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
.PHONY: soak soak-valgrind

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
