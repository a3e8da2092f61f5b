# axle -- federation node. A plain Makefile: `make`, `make test`, `make asan`,
# `make valgrind`, `make hardening`, `make bench`, `make soak`, `make demo`,
# `make federation`, `make install PREFIX=... DESTDIR=...`, `make deb`.

PREFIX  ?= /usr/local
DESTDIR ?=
B       ?= build
CC      ?= cc

PKGS     = libnghttp2 openssl lmdb libprotobuf-c libevent libevent_openssl \
           libevent_pthreads inih jansson libsystemd
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
OPT     ?= -O2 -g
SAN     ?=
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(SAN) \
           $(WARN) -MMD -MP -I. -I$(B)/gen $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread
LDFLAGS += $(SAN)

# --- sources -------------------------------------------------------------
# axle's own, and the standard gRPC health and reflection services it serves.
PROTOS     = $(wildcard proto/axle/v1/*.proto) proto/grpc/health/v1/health.proto \
             proto/grpc/reflection/v1/reflection.proto
# What reflection describes (proto/descset.h): those and v1alpha, the older
# name of reflection: v1's messages under that package, made from v1 at build
# time (served by the v1 handler; no C code).
V1ALPHA     = $(B)/gen/proto/grpc/reflection/v1alpha/reflection.proto
DESC_PROTOS = $(PROTOS) $(V1ALPHA)
PROTO_C    = $(PROTOS:proto/%.proto=$(B)/gen/%.pb-c.c)
PROTO_H    = $(PROTOS:proto/%.proto=$(B)/gen/%.pb-c.h)
REG_SRC    = $(wildcard registry/*.c)
REC_SRC    = $(wildcard recourse/*.c)
# gateway/ in four folders (docs/design.md, Code map): net/ (transport),
# switch/ (the switch's rules), node/ (axled), ctl/ (axlectl, loadgen).
GW_DIRS    = net switch node ctl
GW_MAINS   = gateway/node/axled.c gateway/ctl/axlectl.c gateway/ctl/loadgen.c
GW_SRC     = $(filter-out $(GW_MAINS),$(foreach d,$(GW_DIRS),$(wildcard gateway/$(d)/*.c)))

obj = $(patsubst %.c,$(B)/obj/%.o,$(patsubst $(B)/%,%,$(1)))

PROTO_O = $(call obj,$(PROTO_C)) $(call obj,$(wildcard proto/*.c)) $(B)/obj/gen/descriptor_set.o
REG_O   = $(call obj,$(REG_SRC))
REC_O   = $(call obj,$(REC_SRC))
# The console's pages (gateway/console/www/), compiled in as a C table.
CONSOLE_WWW = $(shell find gateway/console/www -type f ! -name '.*')
GW_O    = $(call obj,$(GW_SRC)) $(B)/obj/gen/console_assets.o

LIBS = $(B)/libaxlegw.a $(B)/librecourse.a $(B)/libregistry.a $(B)/libaxleproto.a

UNIT_SRC = $(wildcard tests/unit/*/test_*.c tests/unit/*/*/test_*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

BINS = $(addprefix $(B)/,$(notdir $(GW_MAINS:.c=)))

.PHONY: deb all deps test unit integration asan valgrind bench soak demo demo-stop install clean fuzz hardening \
        federation
all: $(BINS)

deps:
	@sh .ci/deps.sh

# --- generated protobuf C ------------------------------------------------
$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen $<

# The FileDescriptorSet of DESC_PROTOS, compiled in for server reflection.
$(V1ALPHA): proto/grpc/reflection/v1/reflection.proto
	@mkdir -p $(dir $@)
	sed 's/^package grpc\.reflection\.v1;/package grpc.reflection.v1alpha;/' $< > $@

$(B)/gen/descriptor_set.c: $(DESC_PROTOS) proto/descset.sh
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --proto_path=$(B)/gen/proto --include_imports \
	    --descriptor_set_out=$(B)/gen/descriptor_set.pb $(DESC_PROTOS)
	sh proto/descset.sh $(B)/gen/descriptor_set.pb > $@.tmp && mv $@.tmp $@

$(B)/gen/console_assets.c: gateway/console/embed.sh gateway/console/www $(CONSOLE_WWW)
	@mkdir -p $(B)/gen
	sh gateway/console/embed.sh gateway/console/www > $@.tmp && mv $@.tmp $@

$(B)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/obj/gen/%.o: $(B)/gen/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# --- libraries and programs ----------------------------------------------
$(B)/libaxleproto.a: $(PROTO_O)
$(B)/libregistry.a: $(REG_O)
$(B)/librecourse.a: $(REC_O)
$(B)/libaxlegw.a: $(GW_O)
$(LIBS):
	@mkdir -p $(B)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/axled: $(B)/obj/gateway/node/axled.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

$(B)/axlectl $(B)/loadgen: $(B)/%: $(B)/obj/gateway/ctl/%.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS) -lcmocka

# --- tests ---------------------------------------------------------------
# `make test` installs what is missing, builds, and runs every unit and
# integration test; it ends with one "N passed, N failed, N skipped" line
# (tests/run.sh: a check that cannot run is a failure or a skip, never a pass).
test:
	@sh .ci/deps.sh
	@$(MAKE) --no-print-directory all unit-bins
	@sh tests/run.sh $(B)

unit-bins: $(UNIT_BIN)

unit: all unit-bins
	@sh tests/run.sh $(B) unit

integration: all
	@sh tests/run.sh $(B) integration

# ASan+UBSan build in its own tree, same suite.
asan:
	@sh .ci/deps.sh
	@$(MAKE) --no-print-directory B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all unit-bins
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh tests/run.sh build-asan

# A plain -O1 -g tree; every unit test and every axled the integration tests
# start runs under valgrind memcheck (tests/valgrind.sh: AXLE_WRAP, AXLE_TIME_SCALE).
# Any memcheck error or definite leak fails the test and names the log.
valgrind:
	@sh .ci/deps.sh
	@$(MAKE) --no-print-directory B=build-vg OPT="-O1 -g" all unit-bins
	@sh tests/valgrind.sh build-vg

# The hardening suite (docs/security.md maps each threat to its test): hostile
# HTTP/2 and TLS peers, mTLS negatives, authorisation, bad input, storage
# faults, kill -9 loops, then every fuzz target. `make test` (so .ci/run) runs
# the same tests in their bounded form and fuzzes 10 s per target; this target
# runs the loops HARDENING_SCALE times longer and fuzzes HARDENING_FUZZ_SECONDS
# per target.
HARDENING_TESTS ?= test_mtls test_tls_config test_h2_robustness test_h2_hostile \
                   test_client_hostile test_authz_matrix test_bad_input \
                   test_storage_faults test_storage_fiu test_switch_crash test_crash_loops \
                   test_threats
HARDENING_SCALE ?= 4
HARDENING_FUZZ_SECONDS ?= 600
hardening:
	@sh .ci/deps.sh
	@$(MAKE) --no-print-directory all
	@AXLE_HARDENING_SCALE=$(HARDENING_SCALE) AXLE_TESTS="$(HARDENING_TESTS)" \
	    sh tests/run.sh $(B) integration
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(HARDENING_FUZZ_SECONDS)

# Twenty nodes, each in its own network namespace (root: ip netns), in a four-level
# tree with cross links, under SIGKILLs and cut axles; prints "FIGURE name value" lines
# (register spread p50/p99, messages acknowledged/delivered/lost/doubled, catch-up after a
# cut, escalation past a dead node). `make test` runs the six-node version of the same file.
FEDERATION_SIZE ?= 20
federation:
	@sh .ci/deps.sh
	@$(MAKE) --no-print-directory all
	@AXLE_BUILD=$(abspath $(B)) AXLE_TOP=$(CURDIR) AXLE_FED_SIZE=$(FEDERATION_SIZE) \
	    timeout 900 /usr/bin/python3 tests/integration/test_federation_faults.py

bench:
	@sh .ci/deps.sh
	@$(MAKE) --no-print-directory all $(B)/bench_resolve $(B)/bench_fill
	@sh tests/bench/run.sh $(B)

# Retention under steady load: SOAK_MESSAGES 1 KiB messages through one node in
# chunks of SOAK_CHUNK, printing the data file's size and Send p99 per chunk
# (tests/integration/test_soak.py; `make test` runs it with 50,000). Bounded by
# SOAK_SECONDS.
SOAK_MESSAGES ?= 10000000
SOAK_CHUNK ?= 1000000
SOAK_SECONDS ?= 14400
soak:
	@sh .ci/deps.sh
	@$(MAKE) --no-print-directory all
	@AXLE_SOAK_MESSAGES=$(SOAK_MESSAGES) AXLE_SOAK_CHUNK=$(SOAK_CHUNK) \
	    AXLE_SOAK_SECONDS=$(SOAK_SECONDS) AXLE_TESTS=test_soak sh tests/run.sh $(B) integration

# In-process resolution rate, and the filler of a data directory with queued
# messages (the "O(1) where the loop is" run); built for `make bench` only.
$(B)/bench_resolve $(B)/bench_fill: $(B)/%: $(B)/obj/tests/bench/%.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

demo:
	@sh .ci/deps.sh
	@$(MAKE) --no-print-directory all
	@sh tests/demo/demo.sh $(B)

# Stops what `DEMO_KEEP=1 make demo` left running (restarted nodes too) and removes it.
demo-stop:
	@sh tests/demo/demo-stop.sh $(B)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/share/axle/certs
	install -m 0755 $(B)/axled $(DESTDIR)$(PREFIX)/sbin/axled
	install -m 0755 $(B)/axlectl $(DESTDIR)$(PREFIX)/bin/axlectl
	install -m 0755 tools/axle-audit-check $(DESTDIR)$(PREFIX)/bin/axle-audit-check
	install -m 0755 certs/axle-* $(DESTDIR)$(PREFIX)/share/axle/certs/
	install -m 0644 certs/lib.sh $(DESTDIR)$(PREFIX)/share/axle/certs/lib.sh
	install -m 0644 docs/axled.conf.example $(DESTDIR)$(PREFIX)/share/axle/axled.conf.example
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0644 docs/man/axlectl.1 $(DESTDIR)$(PREFIX)/share/man/man1/axlectl.1
	install -m 0644 docs/man/axled.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/axled.conf.5
	install -m 0644 docs/man/axled.8 $(DESTDIR)$(PREFIX)/share/man/man8/axled.8
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 gateway/ctl/axlectl.bash \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/axlectl
	sed 's|/usr/sbin/|$(PREFIX)/sbin/|g' docs/axled.service >$(DESTDIR)$(PREFIX)/lib/systemd/system/axled.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/axled.service

# The Debian package (packaging/deb/, docs/operator.md "From the Debian
# package"): its own tree, built with dpkg-buildflags' hardening flags.
DEB_B ?= build-deb
BUILDFLAGS = DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
deb:
	@$(MAKE) --no-print-directory B=$(DEB_B) \
	    OPT="$$($(BUILDFLAGS) CFLAGS) $$($(BUILDFLAGS) CPPFLAGS)" \
	    LDFLAGS="$$($(BUILDFLAGS) LDFLAGS)" all
	@sh packaging/deb/build.sh $(DEB_B)

clean:
	rm -rf build build-asan build-vg build-deb

include tests/fuzz/fuzz.mk

.SECONDARY:
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
