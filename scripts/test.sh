#!/bin/sh
# Build vmloc twice (a normal -Werror build and an ASan+UBSan build), run every test suite in
# each, fuzz the parsers briefly when clang is available, and print one closing line
# "N passed, N failed" that counts test cases (cmocka cases, or whole tests otherwise).
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
logs=""
status=0

run_build() { # name, meson options...
    dir="$1"
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "$@" >/dev/null || return 1
    else
        meson setup "$dir" "$@" >/dev/null || return 1
    fi
    ninja -C "$dir" >"$dir.ninja.log" 2>&1 || {
        cat "$dir.ninja.log"
        return 1
    }
    return 0
}

echo "== normal build (build/)"
if run_build build -Dwerror=true; then
    meson test -C build --print-errorlogs --no-rebuild || status=1
    logs="$logs build/meson-logs/testlog.json"
else
    echo "test: normal build failed" >&2
    status=1
fi

echo "== sanitizer build (build-asan/, address + undefined)"
if run_build build-asan -Db_sanitize=address,undefined -Dbuildtype=debug; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-asan --print-errorlogs --no-rebuild --suite unit --suite integration ||
        status=1
    logs="$logs build-asan/meson-logs/testlog.json"
else
    echo "test: sanitizer build failed" >&2
    status=1
fi

if command -v clang >/dev/null 2>&1 && [ "${VMLOC_FUZZ:-1}" != 0 ]; then
    fuzz_s="${VMLOC_FUZZ_SECONDS:-30}"
    echo "== fuzz build (build-fuzz/, clang libFuzzer, $fuzz_s s per target)"
    if { [ -f build-fuzz/build.ninja ] && meson configure build-fuzz -Dfuzz_seconds="$fuzz_s"; } ||
        CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false \
            -Dfuzz_seconds="$fuzz_s" >/dev/null; then
        if ninja -C build-fuzz >build-fuzz.ninja.log 2>&1; then
            meson test -C build-fuzz --print-errorlogs --no-rebuild --suite fuzz || status=1
            logs="$logs build-fuzz/meson-logs/testlog.json"
        else
            cat build-fuzz.ninja.log
            status=1
        fi
    else
        status=1
    fi
else
    echo "== fuzz: clang not found, skipped"
fi

# shellcheck disable=SC2086
python3 "$root/scripts/count-tests.py" $logs || status=1
if [ "$status" -ne 0 ]; then
    # Make sure a broken build counts as a failure in the closing line.
    echo "test: some step failed" >&2
fi
exit $status
