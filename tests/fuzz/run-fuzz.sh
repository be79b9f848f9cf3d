#!/bin/sh
# Run a libFuzzer binary briefly on a scratch copy of its seed corpus, so that the inputs it
# discovers never land in the source tree. Crash reproducers go to ARTIFACTS (kept after the
# run, so a failing `meson test --suite fuzz` leaves the input behind).
# usage: run-fuzz.sh FUZZER SEED_DIR ARTIFACTS_DIR [libFuzzer options...]
set -eu
if [ "$#" -lt 3 ]; then
    echo "usage: run-fuzz.sh FUZZER SEED_DIR ARTIFACTS_DIR [libFuzzer options...]" >&2
    exit 2
fi
fuzzer="$1"
seeds="$2"
artifacts="$3"
shift 3
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/vmloc-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp -R "$seeds"/. "$work"/
status=0
# libFuzzer exits 77 on a crash by default, which meson would count as a skip.
"$fuzzer" -artifact_prefix="$artifacts/" -error_exitcode=1 -timeout_exitcode=1 "$@" "$work" || status=$?
exit "$status"
