# handrecd — build, test, demo, install. See README.md.
#
#   make              build build/handrecd, build/handrecctl, build/handrec-rectify
#   make check        install missing packages, build, run every test; ends with "N passed, N failed"
#   make check-unit   the C unit tests (AddressSanitizer + UBSan build) and the ThreadSanitizer run
#   make check-integration   the pytest suites against a private dbus-daemon
#   make demo         record a take on the synthetic camera over a private D-Bus and summarise it
#   make bench        benchmarks (figures printed, baseline beside them)
#   make install      PREFIX=/usr/local DESTDIR= (binaries, config, unit, bus policy, sysusers, tmpfiles)
#   make lint         clang-format check and cppcheck
#   make fuzz         the libFuzzer targets (tests/fuzz/README.md); make check runs each for 5 s
#
# The daemon's modules (every daemon/*.c but main.c) are built once into $(BUILD)/libhandrec.a,
# which the daemon, the client, the tools, the benchmarks and the tests link. Each flavour of the
# build (plain, san = ASan+UBSan, tsan = ThreadSanitizer) has its own object tree and library.
# Header dependencies come from the compiler (-MMD -MP).

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR    ?=
BUILD      ?= build
VERSION    := 0.1.0

CC      ?= gcc
PKGS    := libsystemd libturbojpeg libconfig libv4l2 yaml-0.1
# Debian's HDF5 pkg-config name is hdf5-serial on older releases; try both. Evaluated once (:=).
HDF5_PC := $(shell pkg-config --exists hdf5 2>/dev/null && echo hdf5 || echo hdf5-serial)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(HDF5_PC) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) $(HDF5_PC) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
           -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wvla
CFLAGS  ?= -O2 -g
# asserts stay on in every build (no -DNDEBUG anywhere)
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -DHANDREC_VERSION='"$(VERSION)"' -pthread -MMD -MP $(WARN) $(CFLAGS) $(PKG_CFLAGS)
LDLIBS  = $(PKG_LIBS) -lm -pthread

LIB_SRCS    := $(filter-out daemon/main.c,$(sort $(wildcard daemon/*.c)))
UNIT_TESTS  := $(patsubst tests/unit/test-%.c,%,$(sort $(wildcard tests/unit/test-*.c)))
# the threaded tests, run again under ThreadSanitizer
TSAN_TESTS  := pipeline queue

# $(call objs,FLAVOUR-DIR,SOURCES)
objs = $(patsubst %.c,$(1)/%.o,$(2))

SAN_BUILD  := $(BUILD)/san
TSAN_BUILD := $(BUILD)/tsan
SAN_FLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer

.PHONY: all deps deps-build check check-unit check-integration demo bench install uninstall lint clean

all: $(BUILD)/handrecd $(BUILD)/handrecctl $(BUILD)/handrec-rectify

# ---- objects and libraries, one rule per flavour ----

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(SAN_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(TSAN_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TSAN_FLAGS) -c -o $@ $<

$(BUILD)/libhandrec.a: $(call objs,$(BUILD),$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(SAN_BUILD)/libhandrec.a: $(call objs,$(SAN_BUILD),$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(TSAN_BUILD)/libhandrec.a: $(call objs,$(TSAN_BUILD),$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

# ---- programs ----

$(BUILD)/handrecd: $(BUILD)/daemon/main.o $(BUILD)/libhandrec.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/handrecctl: $(call objs,$(BUILD),$(wildcard client/*.c)) $(BUILD)/libhandrec.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/handrec-rectify: $(BUILD)/tools/handrec-rectify.o $(BUILD)/libhandrec.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench-%: $(BUILD)/tests/bench/bench-%.o $(BUILD)/libhandrec.a
	$(CC) -o $@ $^ $(LDLIBS)

# Unit tests: built with AddressSanitizer and UBSan; the threaded ones again with ThreadSanitizer.
$(SAN_BUILD)/test-%: $(SAN_BUILD)/tests/unit/test-%.o $(SAN_BUILD)/libhandrec.a
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

$(TSAN_BUILD)/test-%: $(TSAN_BUILD)/tests/unit/test-%.o $(TSAN_BUILD)/libhandrec.a
	$(CC) $(TSAN_FLAGS) -o $@ $^ $(LDLIBS)

# tests: a disk that stalls or fails, for the take files only (LD_PRELOAD)
$(BUILD)/fault-io.so: tests/faults/fault-io.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -pthread -o $@ $< -ldl

# tests: counts allocations per thread (LD_PRELOAD)
$(BUILD)/alloc-count.so: tests/alloc/alloc-count.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -pthread -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# fuzz targets (clang, libFuzzer): rules in their own file
include tests/fuzz/fuzz.mk

# ---- tests ----

deps:
	@sh scripts/install-deps.sh all

deps-build:
	@sh scripts/install-deps.sh build

TEST_PROGS = all $(BUILD)/alloc-count.so $(BUILD)/fault-io.so $(addprefix $(SAN_BUILD)/test-,$(UNIT_TESTS)) \
             $(addprefix $(TSAN_BUILD)/test-,$(TSAN_TESTS)) $(SAN_BUILD)/handrecd
RUN_TESTS  = BUILD=$(BUILD) UNIT_TESTS="$(UNIT_TESTS)" TSAN_TESTS="$(TSAN_TESTS)" sh tests/run-all.sh

check: deps
	@$(MAKE) --no-print-directory $(TEST_PROGS)
	@$(RUN_TESTS)

check-unit: deps
	@$(MAKE) --no-print-directory $(TEST_PROGS)
	@TESTS="unit tsan" $(RUN_TESTS)

check-integration: deps
	@$(MAKE) --no-print-directory $(TEST_PROGS)
	@TESTS="integration" $(RUN_TESTS)

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench-encode $(BUILD)/bench-remap
	@BUILD=$(BUILD) sh tests/bench/run.sh

# ---- install ----

install: all
	install -Dm755 $(BUILD)/handrecd $(DESTDIR)$(PREFIX)/sbin/handrecd
	install -Dm755 $(BUILD)/handrecctl $(DESTDIR)$(PREFIX)/bin/handrecctl
	install -Dm644 etc/handrecd.conf $(DESTDIR)$(SYSCONFDIR)/handrec/handrecd.conf
	install -Dm644 dbus/org.handrec1.conf $(DESTDIR)$(PREFIX)/share/dbus-1/system.d/org.handrec1.conf
	install -Dm644 dbus/org.handrec1.xml $(DESTDIR)$(PREFIX)/share/dbus-1/interfaces/org.handrec1.xml
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' dbus/org.handrec1.service.in > $(BUILD)/org.handrec1.service
	install -Dm644 $(BUILD)/org.handrec1.service $(DESTDIR)$(PREFIX)/share/dbus-1/system-services/org.handrec1.service
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' systemd/handrecd.service.in > $(BUILD)/handrecd.service
	install -Dm644 $(BUILD)/handrecd.service $(DESTDIR)$(PREFIX)/lib/systemd/system/handrecd.service
	install -Dm644 systemd/handrecd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/handrecd.conf
	install -Dm644 systemd/handrecd.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/handrecd.conf
	install -Dm755 tools/handrec-info $(DESTDIR)$(PREFIX)/bin/handrec-info
	install -Dm755 $(BUILD)/handrec-rectify $(DESTDIR)$(PREFIX)/bin/handrec-rectify

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/handrecd $(DESTDIR)$(PREFIX)/bin/handrecctl $(DESTDIR)$(PREFIX)/bin/handrec-info \
	      $(DESTDIR)$(PREFIX)/bin/handrec-rectify \
	      $(DESTDIR)$(PREFIX)/share/dbus-1/system.d/org.handrec1.conf \
	      $(DESTDIR)$(PREFIX)/share/dbus-1/interfaces/org.handrec1.xml \
	      $(DESTDIR)$(PREFIX)/share/dbus-1/system-services/org.handrec1.service \
	      $(DESTDIR)$(PREFIX)/lib/systemd/system/handrecd.service \
	      $(DESTDIR)$(PREFIX)/lib/sysusers.d/handrecd.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/handrecd.conf

# functions with hidden static state, unsafe once two hands' threads call them
NOT_REENTRANT := gmtime|localtime|ctime|asctime|strtok|getpwnam|getgrnam

lint:
	@! grep -nE '\<($(NOT_REENTRANT))\(' daemon/*.c client/*.c tools/*.c || \
	  { echo "lint: use the _r variant (two hands' threads run this code)"; exit 1; }
	clang-format --dry-run --Werror daemon/*.c daemon/*.h client/*.c client/*.h tests/unit/*.c tests/unit/*.h \
	             tests/bench/*.c tests/faults/*.c tests/fuzz/*.c tests/fuzz/*.h tools/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
	         --suppress=missingIncludeSystem --inline-suppr -D_GNU_SOURCE -D'SD_BUS_PARAM(x)=' \
	         daemon client tools tests/unit tests/bench tests/faults tests/fuzz

clean:
	rm -rf $(BUILD)
