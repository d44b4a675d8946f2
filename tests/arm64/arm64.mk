# The arm64 build (cross-compiled with aarch64-linux-gnu-gcc), included by the Makefile;
# tests/arm64/README.md says what it is for.
#
#   make check-arm64                  install what it needs (as root; scripts/install-arm64-deps.sh),
#                                     cross-build, run every unit test under qemu-aarch64
#   make arm64                        build $(BUILD)/arm64/handrecd, handrecctl, handrec-rectify, handrec-offload
#   make arm64-tests                  build $(BUILD)/arm64/test-* (ARM64_TESTS)
#
# The modules (DAEMON_SRCS, LIB_SRCS) are compiled again into their own object tree, $(BUILD)/arm64/,
# with the flags of the plain build (ALL_CFLAGS: -O2, every warning an error, asserts on) less
# the host's pkg-config flags, and the arm64 libraries' own. No sanitizers (AddressSanitizer under
# qemu-user is unreliable) and no -fsigned-char: char is unsigned on arm64, as on the Jetsons,
# and these tests are there to run the code that way; likewise gcc contracts a * b + c into one
# fused multiply-add on arm64 (it cannot on baseline x86-64), as the native build on a Jetson does.
#
# Nothing here runs a program or a shell unless one of these targets is made: the flags are
# computed the first time a rule needs them ($(call arm64_once,...)), so a machine without the
# cross compiler loses nothing when it makes anything else.

ARM64_CC         ?= aarch64-linux-gnu-gcc
ARM64_PKG_CONFIG ?= aarch64-linux-gnu-pkg-config
ARM64_AR         ?= aarch64-linux-gnu-ar
ARM64_BUILD      := $(BUILD)/arm64
ARM64_LIBDIR     ?= /usr/lib/aarch64-linux-gnu
# every unit test but take-reader's, which starts its own program again as a child (lib/take-reader.h):
# under qemu-user a guest program's exec of an arm64 file needs binfmt_misc, which the machines
# that run this (containers, CI) do not have; the HDF5 reads it makes, test-writer's and test-recover's make too
ARM64_TESTS      := $(filter-out take-reader,$(UNIT_TESTS))

.PHONY: arm64 arm64-tests check-arm64 arm64-toolchain
.SECONDARY: $(patsubst %,$(ARM64_BUILD)/tests/unit/test-%.o,$(ARM64_TESTS))

# $(call arm64_once,VAR,SHELL-COMMAND): VAR's value, computed by the shell on first use only
arm64_once = $(or $(ARM64_CACHE_$(1)),$(eval ARM64_CACHE_$(1) := $(shell $(2)))$(ARM64_CACHE_$(1)))

# HDF5: Debian's libhdf5-dev is not multi-arch, so the arm64 one cannot be installed beside the
# host's (scripts/install-arm64-deps.sh says more). When it is there (a machine that only
# cross-builds) its pkg-config file is used; otherwise the host's HDF5 headers, which are the same
# for C on both architectures, and the arm64 library (libhdf5-103-1:arm64) by its file name.
ARM64_HDF5_CFLAGS = $(call arm64_once,HDF5_CFLAGS,\
        $(ARM64_PKG_CONFIG) --exists $(HDF5_PC) 2>/dev/null && $(ARM64_PKG_CONFIG) --cflags $(HDF5_PC) || \
        pkg-config --cflags $(HDF5_PC))
ARM64_HDF5_LIBS = $(call arm64_once,HDF5_LIBS,\
        $(ARM64_PKG_CONFIG) --exists $(HDF5_PC) 2>/dev/null && $(ARM64_PKG_CONFIG) --libs $(HDF5_PC) || \
        { so=$$(cd $(ARM64_LIBDIR) 2>/dev/null && ls libhdf5_serial.so.[0-9]* libhdf5.so.[0-9]* 2>/dev/null | sort | head -n 1); \
          echo "$${so:+-l:$$so}"; })
ARM64_PKG_CFLAGS = $(call arm64_once,PKG_CFLAGS,$(ARM64_PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(ARM64_HDF5_CFLAGS)
ARM64_PKG_LIBS   = $(call arm64_once,PKG_LIBS,$(ARM64_PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(ARM64_HDF5_LIBS)

# the plain build's flags, without what the host's pkg-config said
ARM64_ALL_CFLAGS = $(filter-out $(PKG_CFLAGS),$(ALL_CFLAGS)) $(ARM64_PKG_CFLAGS)
ARM64_LDLIBS     = $(ARM64_PKG_LIBS) $(if $(JPEG_PC),,-ljpeg) -lm -pthread

arm64: $(ARM64_BUILD)/handrecd $(ARM64_BUILD)/handrecctl $(ARM64_BUILD)/handrec-rectify $(ARM64_BUILD)/handrec-offload

arm64-tests: $(addprefix $(ARM64_BUILD)/test-,$(ARM64_TESTS))

# as root, with HANDREC_ARM64=1 tests/arm64/run.sh installs the cross toolchain first
check-arm64:
	@HANDREC_ARM64=1 TESTS=arm64 $(RUN_TESTS)

# fails early, and says what to do, when the cross compiler or a library is missing (checked on
# every make that builds an arm64 object; order-only, so it makes nothing out of date)
arm64-toolchain:
	@command -v $(ARM64_CC) >/dev/null 2>&1 || \
	  { echo "arm64: $(ARM64_CC) is not installed; run (as root) sh scripts/install-arm64-deps.sh" >&2; exit 1; }
	@$(ARM64_PKG_CONFIG) --exists $(PKGS) 2>/dev/null || \
	  { echo "arm64: arm64 libraries are missing ($(PKGS)); run (as root) sh scripts/install-arm64-deps.sh" >&2; exit 1; }
	@[ -n "$(ARM64_HDF5_LIBS)" ] || \
	  { echo "arm64: the arm64 HDF5 library is missing; run (as root) sh scripts/install-arm64-deps.sh" >&2; exit 1; }

$(ARM64_BUILD)/%.o: %.c | arm64-toolchain
	@mkdir -p $(dir $@)
	$(ARM64_CC) $(ARM64_ALL_CFLAGS) -c -o $@ $<

$(ARM64_BUILD)/libhandrec.a: $(call objs,$(ARM64_BUILD),$(LIB_SRCS))
	@rm -f $@
	$(ARM64_AR) rcs $@ $^

$(ARM64_BUILD)/libhandrecd.a: $(call objs,$(ARM64_BUILD),$(DAEMON_SRCS))
	@rm -f $@
	$(ARM64_AR) rcs $@ $^

$(ARM64_BUILD)/test-%: $(ARM64_BUILD)/tests/unit/test-%.o $(call libs,$(ARM64_BUILD))
	$(ARM64_CC) -o $@ $^ $(ARM64_LDLIBS)

$(ARM64_BUILD)/handrecd: $(ARM64_BUILD)/daemon/main.o $(call libs,$(ARM64_BUILD))
	$(ARM64_CC) -o $@ $^ $(ARM64_LDLIBS)

# libmicrohttpd (handrecctl preview), for handrecctl only; its header is the same for every architecture
ARM64_MHD_LIBS = $(call arm64_once,MHD_LIBS,$(ARM64_PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
# json-c (handrecctl --json), for handrecctl only
ARM64_JSONC_LIBS = $(call arm64_once,JSONC_LIBS,$(ARM64_PKG_CONFIG) --libs json-c 2>/dev/null || echo -ljson-c)

$(ARM64_BUILD)/handrecctl: $(call objs,$(ARM64_BUILD),$(wildcard client/*.c)) $(ARM64_BUILD)/libhandrec.a
	$(ARM64_CC) -o $@ $^ $(ARM64_LDLIBS) $(ARM64_MHD_LIBS) $(ARM64_JSONC_LIBS)

# handrec-offload reads rclone's JSON log with json-c
$(ARM64_BUILD)/handrec-offload: $(call objs,$(ARM64_BUILD),$(wildcard offload/*.c)) $(ARM64_BUILD)/libhandrec.a
	$(ARM64_CC) -o $@ $^ $(ARM64_LDLIBS) $(ARM64_JSONC_LIBS)

$(ARM64_BUILD)/handrec-rectify: $(ARM64_BUILD)/tools/handrec-rectify.o $(ARM64_BUILD)/libhandrec.a
	$(ARM64_CC) -o $@ $^ $(ARM64_LDLIBS)
