# The UVC camera of the VM tests (tests/uvc/camera.h): test equipment, never installed. Included
# by the Makefile after TEST_PROGS, so that `make check` builds it with the other test programs.
#
#   make $(BUILD)/uvc-camera    the camera, for this machine (the VM guest runs this machine's programs)
#   make lint                   also holds tests/uvc to clang-format and cppcheck (lint-uvc)

UVC_SRCS := $(sort $(wildcard tests/uvc/*.c))

$(BUILD)/uvc-camera: $(call objs,$(BUILD),$(UVC_SRCS))
	$(CC) -o $@ $^

TEST_PROGS += $(BUILD)/uvc-camera

.PHONY: lint-uvc
lint: lint-uvc
lint-uvc:
	clang-format --dry-run --Werror tests/uvc/*.c tests/uvc/*.h
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
	         --suppress=missingIncludeSystem --inline-suppr -D_GNU_SOURCE tests/uvc

# The UVC VM tests alone (tests/vm/test_uvc.py; make check runs them with the other VM tests)
.PHONY: check-uvc
check-uvc: deps
	@$(MAKE) --no-print-directory -j$(NPROC) $(TEST_PROGS)
	@BUILD=$(BUILD) /usr/bin/python3 -m pytest -p no:cacheprovider -q -rfEsx tests/vm/test_uvc.py
