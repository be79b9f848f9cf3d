# Convenience targets; the build itself is meson + ninja (see README.md).
BUILD ?= build

.PHONY: all deps build demo test bench clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@if [ -f $(BUILD)/build.ninja ]; then :; else meson setup $(BUILD); fi
	ninja -C $(BUILD)

# vmloc's main job, on a snapshot that ships with the repository.
demo: build
	./$(BUILD)/vmloc plan --snapshot examples/cluster.snapshot.json --config examples/policy.ini

# Every test, in a normal and a sanitizer build; ends with "N passed, N failed".
test: deps
	@sh scripts/test.sh

bench: build
	./$(BUILD)/bench/bench_plan

clean:
	rm -rf build build-asan build-fuzz build*.ninja.log
