# handrecd — build, test, demo, install. See README.md.
#
#   make            build build/handrecd and build/handrecctl
#   make check      install missing packages, build, run every test; ends with "N passed, N failed"
#   make demo       record a take on the synthetic camera over a private D-Bus and summarise it
#   make bench      benchmarks (figures printed, baseline beside them)
#   make install    PREFIX=/usr/local DESTDIR= (binaries, config, unit, bus policy, sysusers, tmpfiles)
#   make lint       clang-format check and cppcheck

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR    ?=
BUILD      ?= build
VERSION    := 0.1.0

CC      ?= gcc
PKGS    := libsystemd libturbojpeg hdf5 libconfig libv4l2
# Debian's HDF5 pkg-config name is hdf5-serial on older releases; try both
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null || pkg-config --cflags libsystemd libturbojpeg hdf5-serial libconfig libv4l2)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || pkg-config --libs libsystemd libturbojpeg hdf5-serial libconfig libv4l2)

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Wno-format-truncation
CFLAGS  ?= -O2 -g
# asserts stay on in every build (no -DNDEBUG anywhere)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DHANDREC_VERSION='"$(VERSION)"' -pthread $(WARN) $(CFLAGS) $(PKG_CFLAGS)
LDLIBS  = $(PKG_LIBS) -lyaml -lm -pthread

DAEMON_SRCS := daemon/util.c daemon/config.c daemon/frame.c daemon/stamp.c daemon/source.c \
               daemon/source-synthetic.c daemon/capture-v4l2.c daemon/v4l2-describe.c daemon/source-replay.c \
               daemon/calibration.c daemon/rectify.c daemon/encoder.c daemon/queue.c daemon/writer.c \
               daemon/pipeline.c daemon/status-line.c daemon/hand.c daemon/bus.c
CLIENT_SRCS := client/handrecctl.c daemon/status-line.c daemon/util.c daemon/v4l2-describe.c
UNIT_TESTS  := config queue stamp writer pipeline status-line capture rectify

OBJ = $(patsubst %.c,$(BUILD)/%.o,$(1))

.PHONY: all deps deps-build check check-unit check-integration demo bench install uninstall lint clean

all: $(BUILD)/handrecd $(BUILD)/handrecctl $(BUILD)/handrec-rectify

$(BUILD)/%.o: %.c $(wildcard daemon/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/handrecd: $(call OBJ,$(DAEMON_SRCS) daemon/main.c)
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/handrecctl: $(call OBJ,$(CLIENT_SRCS))
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/handrec-rectify: $(call OBJ,tools/handrec-rectify.c $(DAEMON_SRCS))
	$(CC) -o $@ $^ $(LDLIBS)

# Unit tests are built a second time with AddressSanitizer and UBSan.
SAN_BUILD := $(BUILD)/san
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
$(SAN_BUILD)/%.o: %.c $(wildcard daemon/*.h) tests/unit/test.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(SAN_BUILD)/test-%: $(SAN_BUILD)/tests/unit/test-%.o $(patsubst %.c,$(SAN_BUILD)/%.o,$(DAEMON_SRCS))
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

# tests: counts allocations per thread (LD_PRELOAD)
$(BUILD)/alloc-count.so: tests/alloc/alloc-count.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -pthread -o $@ $<

deps:
	@sh scripts/install-deps.sh all

deps-build:
	@sh scripts/install-deps.sh build

check: deps
	@$(MAKE) --no-print-directory all $(BUILD)/alloc-count.so $(addprefix $(SAN_BUILD)/test-,$(UNIT_TESTS))
	@BUILD=$(BUILD) UNIT_TESTS="$(UNIT_TESTS)" sh tests/run-all.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh scripts/demo.sh

$(BUILD)/bench-encode: $(call OBJ,tests/bench/bench-encode.c $(DAEMON_SRCS))
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench-remap: $(call OBJ,tests/bench/bench-remap.c $(DAEMON_SRCS))
	$(CC) -o $@ $^ $(LDLIBS)

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench-encode $(BUILD)/bench-remap
	@BUILD=$(BUILD) sh tests/bench/run.sh

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

lint:
	clang-format --dry-run --Werror daemon/*.c daemon/*.h client/*.c tests/unit/*.c tests/unit/*.h tests/bench/*.c tools/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
	         --suppress=missingIncludeSystem --inline-suppr -D_GNU_SOURCE -D'SD_BUS_PARAM(x)=' \
	         daemon client tools tests/unit tests/bench

clean:
	rm -rf $(BUILD)
