# Convenience targets; the build itself is meson + ninja (see README.md).
BUILD ?= build

.PHONY: all deps build demo test bench deb clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@if [ -f $(BUILD)/build.ninja ]; then :; else meson setup $(BUILD); fi
	ninja -C $(BUILD)

# vmloc's main job: a small simulated cluster on 127.0.0.1 whose spikes vmloc resolves as
# they happen (45 s; run ./build/vmloc demo yourself to watch until Ctrl-C).
demo: build
	./$(BUILD)/vmloc demo --duration 45

# Every test, in a normal and a sanitizer build, and the end-to-end test with QEMU and
# libvirt; ends with "N passed, N failed".
test:
	@VMLOC_DEPS_E2E=1 sh scripts/deps.sh
	@sh scripts/test.sh

# The Debian package (build-deb/vmloc_VERSION_ARCH.deb), checked with lintian; see
# docs/running.md "Install on a cluster".
deb:
	@VMLOC_DEPS_DEB=1 sh scripts/deps.sh
	@sh scripts/mkdeb.sh build-deb

bench: build
	./$(BUILD)/bench/bench_plan

clean:
	rm -rf build build-asan build-fuzz build-deb build*.ninja.log
