# tests/fuzz/fuzz.mk -- libFuzzer targets (clang, ASan+UBSan), built in their own
# tree; included from the Makefile.
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="fuzz_address ..."]
#   make fuzz-smoke          (each target 10 s: what CI runs)
# Findings land in build-fuzz/artifacts/; reproduce one with
#   build-fuzz/fuzz/<target> build-fuzz/artifacts/<target>-crash-...

FUZZ_B       = build-fuzz
FUZZ_CC     ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OPT     = -O1 -g -fno-omit-frame-pointer
# fuzzer-no-link: coverage hooks in every object; the fuzzer's main is linked
# into the targets only. UBSan findings abort, so libFuzzer records them.
FUZZ_SAN     = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined

.PHONY: fuzz fuzz-bins fuzz-smoke

# Used by the recursive make below (B = $(FUZZ_B)); the shorter stem makes
# it win over the programs' $(B)/% rule.
$(B)/fuzz/%: $(B)/obj/tests/fuzz/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBS) $(LDLIBS)

fuzz-bins:
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) OPT="$(FUZZ_OPT)" \
	    SAN="$(FUZZ_SAN)" $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz/%)

fuzz: fuzz-bins
	@sh tests/fuzz/run.sh $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-bins
	@sh tests/fuzz/run.sh $(FUZZ_B) 10 $(FUZZ_TARGETS)

# `make clean` removes the fuzz tree too (its corpus copies included).
.PHONY: fuzz-clean
clean: fuzz-clean
fuzz-clean:
	rm -rf $(FUZZ_B)

# Rewrites the binary seeds (envelopes, every message type, recorded HTTP/2
# conversations) from tests/fuzz/gen_corpus.c; the text seeds are kept by hand.
.PHONY: fuzz-corpus
fuzz-corpus: $(B)/tools/gen_corpus
	mkdir -p tests/fuzz/corpus/fuzz_envelope tests/fuzz/corpus/fuzz_h2_server
	rm -f tests/fuzz/corpus/fuzz_envelope/[0-9][0-9]_*	# numbered by type: renumbered as RPCs are added
	$(B)/tools/gen_corpus tests/fuzz/corpus

$(B)/tools/gen_corpus: $(B)/obj/tests/fuzz/gen_corpus.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)
