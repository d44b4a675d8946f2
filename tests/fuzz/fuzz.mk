# libFuzzer targets (clang), included by the Makefile; tests/fuzz/README.md says how to run them.
#
#   make $(BUILD)/fuzz/fuzz-config ...   one target; FUZZ_TARGETS lists them all
#   make fuzz                            every target (tests/fuzz/run.sh builds and runs them)
#   make $(BUILD)/san/handrecd           the daemon with AddressSanitizer and UBSan, for
#                                        tests/integration/test_sanitized.py
#
# The modules under test are compiled again with clang into their own object tree,
# $(BUILD)/fuzz/, instrumented for coverage (-fsanitize=fuzzer-no-link) and checked by
# AddressSanitizer and UBSan, into an archive of every module (DAEMON_SRCS, LIB_SRCS) from which each target
# links what it needs. The targets of other programs' code link those objects beside it (below:
# handrec-offload's state.c and rclone.c; handrecctl's JSON helpers for fuzz-take-file, which
# includes client/handrecctl-info.c itself).

FUZZ_CC      ?= clang
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_TARGETS := config calibration-opencv calibration-ros take-options list-takes-options preview-options \
                take-file offload-state rclone-json preview-stream preview-host
# clang does not know some of gcc's warnings (-Wno-format-truncation): not an error here
FUZZ_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
                -Wno-unknown-warning-option

.PHONY: fuzz
# kept, so that a second make has nothing to do
.SECONDARY: $(patsubst %,$(FUZZ_BUILD)/tests/fuzz/fuzz-%.o,$(FUZZ_TARGETS))

fuzz: $(addprefix $(FUZZ_BUILD)/fuzz-,$(FUZZ_TARGETS))

# The modules: a warning only clang gives is shown but fails nothing here (gcc's build is the
# one that holds the code to -Werror); the targets themselves are held to it.
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_FLAGS) -Wno-error -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/libhandrec-fuzz.a: $(call objs,$(FUZZ_BUILD),$(DAEMON_SRCS) $(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz-%: $(FUZZ_BUILD)/tests/fuzz/fuzz-%.o $(FUZZ_BUILD)/libhandrec-fuzz.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# Targets with another program's objects (not in the archive), and json-c, linked before the archive
$(FUZZ_BUILD)/client/%.o $(FUZZ_BUILD)/offload/%.o $(FUZZ_BUILD)/tests/fuzz/fuzz-take-file.o \
    $(FUZZ_BUILD)/tests/fuzz/fuzz-rclone-json.o: ALL_CFLAGS += $(JSONC_CFLAGS)
$(FUZZ_BUILD)/fuzz-take-file: $(FUZZ_BUILD)/client/handrecctl-json.o
$(FUZZ_BUILD)/fuzz-offload-state: $(FUZZ_BUILD)/offload/state.o
$(FUZZ_BUILD)/fuzz-rclone-json: $(FUZZ_BUILD)/offload/rclone.o
# handrecctl's preview: the stream reader (its feeds) and the access rules
$(FUZZ_BUILD)/client/%.o $(FUZZ_BUILD)/tests/fuzz/fuzz-preview-stream.o \
    $(FUZZ_BUILD)/tests/fuzz/fuzz-preview-host.o: ALL_CFLAGS += $(MHD_CFLAGS)
$(FUZZ_BUILD)/fuzz-preview-stream: $(FUZZ_BUILD)/client/handrecctl-preview-feed.o $(FUZZ_BUILD)/client/handrecctl-bus.o \
    $(FUZZ_BUILD)/client/handrecctl-preview-page.o
$(FUZZ_BUILD)/fuzz-preview-host: $(FUZZ_BUILD)/client/handrecctl-preview-access.o
$(patsubst %,$(FUZZ_BUILD)/fuzz-%,take-file offload-state rclone-json preview-stream preview-host): $(FUZZ_BUILD)/fuzz-%: \
    $(FUZZ_BUILD)/tests/fuzz/fuzz-%.o $(FUZZ_BUILD)/libhandrec-fuzz.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS) $(JSONC_LIBS)

# The daemon itself with AddressSanitizer and UBSan (and LeakSanitizer at exit), built from the
# same objects as the unit tests.
$(SAN_BUILD)/handrecd: $(SAN_BUILD)/daemon/main.o $(call libs,$(SAN_BUILD))
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)
