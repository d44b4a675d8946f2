# handrecd — build, test, demo, install. See README.md.
#
#   make              build build/handrecd, build/handrecctl, build/handrec-rectify, build/handrec-offload
#   make check        install missing packages, build, run every test; ends with "N passed, N failed"
#   make check-unit   the C unit tests (AddressSanitizer + UBSan build) and the ThreadSanitizer run
#   make check-integration   the pytest suites against a private dbus-daemon
#   make demo         record a take on the synthetic camera over a private D-Bus and summarise it
#   make bench        every benchmark in one run: handrecd against TurboJPEG alone and the old collector, ratios vs targets
#   make man          the manual pages, $(BUILD)/man/*.[158], from man/*.scd (scdoc)
#   make install      PREFIX=/usr/local DESTDIR= (binaries, reader module, man pages, completions, config,
#                     units of handrecd and handrec-offload, bus policies, sysusers, tmpfiles)
#   make deb          the Debian package, build/handrecd_<version>_<arch>.deb (ARCH=arm64 cross-builds)
#   make lint         clang-format check and cppcheck
#   make fuzz         the libFuzzer targets (tests/fuzz/README.md); make check runs each for 5 s
#   make check-arm64  the unit tests cross-built for arm64 and run under qemu-aarch64 (tests/arm64/)
#
# Two libraries: lib/*.c, the shared library, into $(BUILD)/libhandrec.a, which every program
# links (the daemon, handrecctl, handrec-offload, the tools, the benchmarks and the tests); and
# the daemon's own modules (every daemon/*.c but main.c) into $(BUILD)/libhandrecd.a, which the
# daemon, the benchmarks and the tests link. lib/ never includes daemon/ (make lint checks it,
# with the call graph's circles: scripts/check-layers.py). Each flavour of the build (plain, san =
# ASan+UBSan, tsan = ThreadSanitizer) has its own object tree and libraries. Header dependencies
# come from the compiler (-MMD -MP).

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR    ?=
BUILD      ?= build
VERSION    := 0.1.0

# CC, CFLAGS, CPPFLAGS, LDFLAGS and PKG_CONFIG from the environment are honoured (dpkg-buildpackage
# sets them: its hardening flags, and for a cross build aarch64-linux-gnu-gcc and -pkg-config)
CC      ?= gcc
PKG_CONFIG ?= pkg-config
# libjpeg: the encoder's raw-data API (libjpeg-turbo's libjpeg.pc; -ljpeg where it has none)
JPEG_PC := $(shell $(PKG_CONFIG) --exists libjpeg 2>/dev/null && echo libjpeg)
PKGS    := libsystemd libturbojpeg $(JPEG_PC) libconfig libv4l2 yaml-0.1 json-c
# Debian's HDF5 pkg-config name is hdf5-serial on older releases; try both. Evaluated once (:=).
HDF5_PC := $(shell $(PKG_CONFIG) --exists hdf5 2>/dev/null && echo hdf5 || echo hdf5-serial)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) $(HDF5_PC) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) $(HDF5_PC) 2>/dev/null) $(if $(JPEG_PC),,-ljpeg)
# libmicrohttpd: handrecctl's preview server, linked into handrecctl only
MHD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS   := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
# json-c: handrecctl --json, linked into handrecctl only (0.13 on Ubuntu 20.04 is enough)
JSONC_CFLAGS := $(shell $(PKG_CONFIG) --cflags json-c 2>/dev/null)
JSONC_LIBS   := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null || echo -ljson-c)

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
           -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wvla
CFLAGS  ?= -O2 -g
# asserts stay on in every build (no -DNDEBUG anywhere)
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -DHANDREC_VERSION='"$(VERSION)"' -pthread -MMD -MP $(WARN) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS)
LDLIBS  = $(LDFLAGS) $(PKG_LIBS) -lm -pthread

LIB_SRCS    := $(sort $(wildcard lib/*.c))
DAEMON_SRCS := $(filter-out daemon/main.c,$(sort $(wildcard daemon/*.c)))
UNIT_TESTS  := $(patsubst tests/unit/test-%.c,%,$(sort $(wildcard tests/unit/test-*.c)))
# the threaded tests, run again under ThreadSanitizer
TSAN_TESTS  := pipeline queue preview hand

# $(call objs,FLAVOUR-DIR,SOURCES)
objs = $(patsubst %.c,$(1)/%.o,$(2))

SAN_BUILD  := $(BUILD)/san
TSAN_BUILD := $(BUILD)/tsan
SAN_FLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer

.PHONY: bench-programs all deps deps-build check check-unit check-integration demo bench install uninstall lint clean man

all: $(BUILD)/handrecd $(BUILD)/handrecctl $(BUILD)/handrec-rectify $(BUILD)/handrec-offload

# ---- manual pages: man/*.scd (scdoc) to $(BUILD)/man/, and the two tools' troff pages as they are ----

MAN_SCD   := $(wildcard man/*.scd)
MAN_PAGES := $(patsubst man/%.scd,$(BUILD)/man/%,$(MAN_SCD)) $(BUILD)/man/handrec-info.1 $(BUILD)/man/handrec-rectify.1

man: $(MAN_PAGES)

$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@

$(BUILD)/man/%.1: man/%.1
	@mkdir -p $(dir $@)
	cp $< $@

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

# $(call libs,FLAVOUR-DIR): the daemon's library and the shared one, in link order
libs = $(1)/libhandrecd.a $(1)/libhandrec.a

$(BUILD)/libhandrec.a: $(call objs,$(BUILD),$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libhandrecd.a: $(call objs,$(BUILD),$(DAEMON_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(SAN_BUILD)/libhandrec.a: $(call objs,$(SAN_BUILD),$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(SAN_BUILD)/libhandrecd.a: $(call objs,$(SAN_BUILD),$(DAEMON_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(TSAN_BUILD)/libhandrec.a: $(call objs,$(TSAN_BUILD),$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

$(TSAN_BUILD)/libhandrecd.a: $(call objs,$(TSAN_BUILD),$(DAEMON_SRCS))
	@rm -f $@
	ar rcs $@ $^

# ---- programs ----

$(BUILD)/handrecd: $(BUILD)/daemon/main.o $(call libs,$(BUILD))
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/client/%.o: ALL_CFLAGS += $(MHD_CFLAGS) $(JSONC_CFLAGS)

$(BUILD)/handrecctl: $(call objs,$(BUILD),$(wildcard client/*.c)) $(BUILD)/libhandrec.a
	$(CC) -o $@ $^ $(LDLIBS) $(MHD_LIBS) $(JSONC_LIBS)

# handrec-offload: the upload service beside the daemon (offload/offload.h), json-c for rclone's output
$(BUILD)/offload/%.o: ALL_CFLAGS += $(JSONC_CFLAGS)
$(BUILD)/handrec-offload: $(call objs,$(BUILD),$(wildcard offload/*.c)) $(BUILD)/libhandrec.a
	$(CC) -o $@ $^ $(LDLIBS) $(JSONC_LIBS)
# ... and with ASan+UBSan, for the integration run against sanitized programs
$(SAN_BUILD)/offload/%.o: ALL_CFLAGS += $(JSONC_CFLAGS)
$(SAN_BUILD)/handrec-offload: $(call objs,$(SAN_BUILD),$(wildcard offload/*.c)) $(SAN_BUILD)/libhandrec.a
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS) $(JSONC_LIBS)

$(BUILD)/handrec-rectify: $(BUILD)/tools/handrec-rectify.o $(BUILD)/libhandrec.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench-%: $(BUILD)/tests/bench/bench-%.o $(call libs,$(BUILD))
	$(CC) -o $@ $^ $(LDLIBS)

# Unit tests: built with AddressSanitizer and UBSan; the threaded ones again with ThreadSanitizer.
$(SAN_BUILD)/test-%: $(SAN_BUILD)/tests/unit/test-%.o $(call libs,$(SAN_BUILD))
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

$(TSAN_BUILD)/test-%: $(TSAN_BUILD)/tests/unit/test-%.o $(call libs,$(TSAN_BUILD))
	$(CC) $(TSAN_FLAGS) -o $@ $^ $(LDLIBS)

# tests: a disk that stalls or fails, for the take files only (LD_PRELOAD)
$(BUILD)/fault-io.so: tests/faults/fault-io.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -pthread -o $@ $< -ldl

# tests: counts allocations per thread (LD_PRELOAD)
$(BUILD)/alloc-count.so: tests/alloc/alloc-count.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -pthread -o $@ $<

# tests: malloc's bytes in use, asked for through a FIFO (LD_PRELOAD)
$(BUILD)/heap-probe.so: tests/alloc/heap-probe.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -pthread -o $@ $<

# make bench: the large allocations and who made them, for the memory breakdown (LD_PRELOAD)
$(BUILD)/alloc-map.so: tests/bench/alloc-map.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -pthread -o $@ $< -ldl

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)

# fuzz targets (clang, libFuzzer): rules in their own file
include tests/fuzz/fuzz.mk
include tests/arm64/arm64.mk

# ---- tests ----

deps:
	@BUILD=$(BUILD) sh scripts/install-deps.sh all

deps-build:
	@sh scripts/install-deps.sh build

# make demo needs the build and what scripts/demo.sh runs, not the test tools
deps-demo:
	@sh scripts/install-deps.sh demo

.PHONY: deps-demo

NPROC := $(shell nproc 2>/dev/null || echo 2)
TEST_PROGS = all $(BUILD)/alloc-count.so $(BUILD)/heap-probe.so $(BUILD)/fault-io.so $(addprefix $(SAN_BUILD)/test-,$(UNIT_TESTS)) \
             $(addprefix $(TSAN_BUILD)/test-,$(TSAN_TESTS)) $(SAN_BUILD)/handrecd $(SAN_BUILD)/handrec-offload
RUN_TESTS  = BUILD=$(BUILD) UNIT_TESTS="$(UNIT_TESTS)" TSAN_TESTS="$(TSAN_TESTS)" sh tests/run-all.sh
include tests/uvc/uvc.mk

check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) $(TEST_PROGS)
	@$(RUN_TESTS)

check-unit: deps
	@$(MAKE) --no-print-directory -j$(NPROC) $(TEST_PROGS)
	@TESTS="unit tsan" $(RUN_TESTS)

check-integration: deps
	@$(MAKE) --no-print-directory -j$(NPROC) $(TEST_PROGS)
	@TESTS="integration" $(RUN_TESTS)

demo: deps-demo
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh scripts/demo.sh

# make bench (tests/bench/run.sh, docs/testing.md): BENCH_QUICK=1 for a short run; BENCH_SOAK=3600 for the
# hour's soak (default 120 s)
BENCH_PROGS := $(BUILD)/bench-floor $(BUILD)/bench-frame $(BUILD)/bench-remap $(BUILD)/bench-qc $(BUILD)/alloc-map.so

bench: deps-bench
	@$(MAKE) --no-print-directory all $(BENCH_PROGS)
	@BUILD=$(BUILD) sh tests/bench/run.sh

# what make bench runs, built (tests/integration/test_bench.py builds them so)
bench-programs: all $(BENCH_PROGS)

deps-bench:
	@BUILD=$(BUILD) sh scripts/install-deps.sh bench

.PHONY: deps-bench

# ---- install ----
#
# Programs, tools and the reader module go under PREFIX; the files systemd and the system bus read
# go where they read them, whatever PREFIX is (neither looks under /usr/local): the unit in
# UNITDIR (systemd.pc's, /lib/systemd/system on Debian 12 and Ubuntu), sysusers and tmpfiles
# snippets in /usr/lib, the bus policy and activation file in /usr/share/dbus-1. The configuration
# is installed only when there is none: an edited /etc/handrec/handrecd.conf is kept.

BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
UNITDIR     ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
DBUSDIR     ?= /usr/share/dbus-1
# The reader module (import handrec), where the system's python3 finds it: Debian's
# /usr/lib/python3/dist-packages for PREFIX=/usr (the package), else PREFIX/lib/python3.X/dist-packages
# (/usr/local/lib/python3.11/dist-packages is in Debian's python3 path). handrec and handrec-info also
# look in ../lib/python3*/dist-packages beside themselves, for a DESTDIR or another PREFIX.
PYTHON3     ?= /usr/bin/python3
PY3VER      := $(shell $(PYTHON3) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)
PYTHONDIR   ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python$(PY3VER)/dist-packages)
PY_MODULES  := $(wildcard python/handrec/*.py)
# completions: bash-completion's folder (it searches XDG_DATA_DIRS: /usr/local/share and /usr/share);
# zsh's fpath has /usr/share/zsh/vendor-completions for packages, /usr/local/share/zsh/site-functions
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(if $(filter /usr,$(PREFIX)),/usr/share/zsh/vendor-completions,$(DATADIR)/zsh/site-functions)
CONF        := $(DESTDIR)$(SYSCONFDIR)/handrec/handrecd.conf

# Every file install puts in place, as SOURCE|MODE|DESTINATION (under DESTDIR): the one list
# install installs and uninstall removes. Not the configuration, which may hold your edits: it is
# installed only when there is none.
MAN8 := handrecd.8 handrec-offload.8
MAN5 := handrecd.conf.5
MAN1 := handrecctl.1 handrec.1 handrec-info.1 handrec-rectify.1
INSTALL_FILES := \
        $(BUILD)/handrecd|755|$(SBINDIR)/handrecd \
        $(BUILD)/handrec-offload|755|$(SBINDIR)/handrec-offload \
        $(BUILD)/handrecctl|755|$(BINDIR)/handrecctl \
        $(BUILD)/handrec-rectify|755|$(BINDIR)/handrec-rectify \
        tools/handrec-info|755|$(BINDIR)/handrec-info \
        tools/handrec|755|$(BINDIR)/handrec \
        $(foreach m,$(PY_MODULES),$(m)|644|$(PYTHONDIR)/handrec/$(notdir $(m))) \
        $(foreach m,$(MAN8),$(BUILD)/man/$(m)|644|$(MANDIR)/man8/$(m)) \
        $(foreach m,$(MAN5),$(BUILD)/man/$(m)|644|$(MANDIR)/man5/$(m)) \
        $(foreach m,$(MAN1),$(BUILD)/man/$(m)|644|$(MANDIR)/man1/$(m)) \
        completion/handrecctl.bash|644|$(BASHCOMPDIR)/handrecctl \
        completion/_handrecctl|644|$(ZSHCOMPDIR)/_handrecctl \
        dbus/org.handrec1.conf|644|$(DBUSDIR)/system.d/org.handrec1.conf \
        dbus/org.handrec1.xml|644|$(DBUSDIR)/interfaces/org.handrec1.xml \
        dbus/org.handrec1.Offload.conf|644|$(DBUSDIR)/system.d/org.handrec1.Offload.conf \
        dbus/org.handrec1.Offload.xml|644|$(DBUSDIR)/interfaces/org.handrec1.Offload.xml \
        $(BUILD)/org.handrec1.service|644|$(DBUSDIR)/system-services/org.handrec1.service \
        $(BUILD)/handrecd.service|644|$(UNITDIR)/handrecd.service \
        $(BUILD)/handrec-offload.service|644|$(UNITDIR)/handrec-offload.service \
        systemd/handrecd.sysusers|644|$(SYSUSERSDIR)/handrecd.conf \
        systemd/handrec-offload.sysusers|644|$(SYSUSERSDIR)/handrec-offload.conf \
        systemd/handrecd.tmpfiles|644|$(TMPFILESDIR)/handrecd.conf

# the files systemd and the bus read, with the paths of this PREFIX (from their .in templates)
$(BUILD)/org.handrec1.service: dbus/org.handrec1.service.in
$(BUILD)/handrecd.service: systemd/handrecd.service.in
$(BUILD)/handrec-offload.service: systemd/handrec-offload.service.in
$(BUILD)/org.handrec1.service $(BUILD)/handrecd.service $(BUILD)/handrec-offload.service: FORCE
	@mkdir -p $(BUILD)
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' $(filter %.in,$^) > $@

.PHONY: FORCE
FORCE:

install: all man $(BUILD)/org.handrec1.service $(BUILD)/handrecd.service $(BUILD)/handrec-offload.service
	@set -e; for f in $(foreach f,$(INSTALL_FILES),'$(f)'); do \
	    src=$${f%%|*}; rest=$${f#*|}; mode=$${rest%%|*}; dst=$(DESTDIR)$${rest#*|}; \
	    echo "install -Dm$$mode $$src $$dst"; install -Dm$$mode "$$src" "$$dst"; \
	done
	@if [ -e $(CONF) ]; then echo "install: kept $(CONF) (the shipped one is etc/handrecd.conf)"; \
	 else echo "install -Dm644 etc/handrecd.conf $(CONF)"; install -Dm644 etc/handrecd.conf $(CONF); fi
	@[ -n "$(DESTDIR)" ] || echo "install: next, as root: systemd-sysusers handrecd.conf handrec-offload.conf &&" \
	  "systemd-tmpfiles --create handrecd.conf && systemctl daemon-reload && systemctl reload dbus &&" \
	  "systemctl enable --now handrecd handrec-offload"

# everything install put there (INSTALL_FILES) but the configuration, which may hold your edits;
# the reader module's folder too once it is empty (its byte-compiled files go with it)
uninstall:
	@for f in $(foreach f,$(INSTALL_FILES),'$(f)'); do rest=$${f#*|}; dst=$(DESTDIR)$${rest#*|}; echo "rm -f $$dst"; rm -f "$$dst"; done
	rm -rf $(DESTDIR)$(PYTHONDIR)/handrec/__pycache__
	-rmdir $(DESTDIR)$(PYTHONDIR)/handrec 2>/dev/null
	@echo "uninstall: kept $(CONF), the users handrec and handrec-offload, /var/lib/handrec (takes)" \
	  "and /var/lib/handrec-offload (what is uploaded)"

# ---- Debian package ----
#
# make deb [ARCH=arm64]: $(BUILD)/handrecd_$(VERSION)_$(ARCH).deb (with its -dbgsym, .buildinfo and
# .changes), built by dpkg-buildpackage from debian/ in a copy of the tree in a temporary folder,
# so nothing in the checkout changes. ARCH defaults to this machine's; another one is cross-built
# (arm64 on amd64: scripts/install-arm64-deps.sh installs the cross compiler and the arm64
# libraries; no tests run, DEB_BUILD_OPTIONS=nocheck). Debian's libhdf5-dev is not multi-arch:
# libhdf5-dev:arm64 cannot be installed beside the host's, so a cross build uses the host's HDF5
# headers and the arm64 library through a pkg-config file written for it, and skips dpkg's
# build-dependency check (-d), which would ask for libhdf5-dev:arm64.

ARCH ?= $(shell dpkg --print-architecture 2>/dev/null)

deb:
	@sh scripts/install-deps.sh deb
	@set -e; host=$$(dpkg --print-architecture); \
	if [ "$(ARCH)" != "$$host" ]; then \
	    [ "$(ARCH)" = arm64 ] || { echo "deb: cross-builds only for arm64 (ARCH=$(ARCH))" >&2; exit 1; }; \
	    sh scripts/install-arm64-deps.sh; \
	fi; \
	v=$$(dpkg-parsechangelog -l debian/changelog -S Version); \
	[ "$$v" = "$(VERSION)" ] || { echo "deb: debian/changelog is at $$v, the Makefile at $(VERSION)" >&2; exit 1; }; \
	dir=$$(mktemp -d "$${TMPDIR:-/tmp}/handrecd-deb.XXXXXX"); src=$$dir/handrecd-$(VERSION); mkdir "$$src"; \
	tar -c --exclude=__pycache__ --exclude='*.pyc' --anchored --exclude=./.git --exclude='./build*' \
	    --exclude=./tests/vm/cache -f - . | tar -x -C "$$src"; \
	opts="-b -us -uc -Jauto"; \
	if [ "$(ARCH)" != "$$host" ]; then \
	    gnu=$$(dpkg-architecture -a$(ARCH) -qDEB_HOST_GNU_TYPE 2>/dev/null); \
	    if ! { "$$gnu-pkg-config" --exists hdf5 || "$$gnu-pkg-config" --exists hdf5-serial; } 2>/dev/null; then \
	        so=$$(cd "/usr/lib/$$gnu" && ls libhdf5_serial.so.[0-9]* 2>/dev/null | sort | head -n 1); \
	        [ -n "$$so" ] || { echo "deb: no $(ARCH) HDF5 library in /usr/lib/$$gnu" >&2; exit 1; }; \
	        mkdir "$$dir/pkgconfig"; \
	        printf 'Name: hdf5\nDescription: %s HDF5 library, host headers\nVersion: %s\nCflags: %s\nLibs: -l:%s\n' \
	            $(ARCH) "$$(pkg-config --modversion $(HDF5_PC))" "$$(pkg-config --cflags $(HDF5_PC))" "$$so" \
	            > "$$dir/pkgconfig/hdf5.pc"; \
	        PKG_CONFIG_PATH=$$dir/pkgconfig; export PKG_CONFIG_PATH; \
	    fi; \
	    DEB_BUILD_OPTIONS="nocheck $${DEB_BUILD_OPTIONS:-}"; export DEB_BUILD_OPTIONS; \
	    opts="$$opts -a$(ARCH) -Pcross,nocheck -d"; \
	fi; \
	echo "deb: dpkg-buildpackage $$opts in $$src"; \
	(cd "$$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage $$opts) || \
	    { echo "deb: dpkg-buildpackage failed; the build tree is kept in $$dir" >&2; exit 1; }; \
	mkdir -p $(BUILD); \
	find "$$dir" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.ddeb' -o -name '*.buildinfo' -o -name '*.changes' \) \
	    -exec mv -t $(BUILD)/ {} +; \
	rm -rf "$$dir"; \
	ls -l $(BUILD)/handrecd*_$(VERSION)_$(ARCH).deb

.PHONY: deb

# functions with hidden static state, unsafe once two hands' threads call them
NOT_REENTRANT := gmtime|localtime|ctime|asctime|strtok|getpwnam|getgrnam

lint:
	@! grep -nE '\<($(NOT_REENTRANT))\(' lib/*.c daemon/*.c client/*.c offload/*.c tools/*.c || \
	  { echo "lint: use the _r variant (two hands' threads run this code)"; exit 1; }
	$(PYTHON3) scripts/check-layers.py
	clang-format --dry-run --Werror lib/*.c lib/*.h daemon/*.c daemon/*.h client/*.c client/*.h offload/*.c offload/*.h tests/unit/*.c tests/unit/*.h \
	             tests/bench/*.c tests/faults/*.c tests/fuzz/*.c tests/fuzz/*.h tools/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
	         --suppress=missingIncludeSystem --inline-suppr -D_GNU_SOURCE -D'SD_BUS_PARAM(x)=' \
	         lib daemon client offload tools tests/unit tests/bench tests/faults tests/fuzz

clean:
	rm -rf $(BUILD)
