#!/bin/sh
# clang-tidy with the tree's .clang-tidy (STYLE §10). The core, where every mode's decisions
# are made, is held to all of it. The rest of src/ is held to the checks that find bugs by
# their form (bugprone-*, misc-*, performance-*, portability-*, cert-err33-c), less three
# that flag code written on purpose there (a repeated `r = -errno` in an error chain, a
# macro parameter used as a declarator or a designated initialiser, a copy that is
# terminated by the next one). Not yet outside the core: clang-analyzer-*, whose findings
# there rest on invariants of parsers and lists it cannot see (reviewed: no bug among them),
# and the function size and complexity limits (docs/design.md says where they stand).
# Any finding fails (WarningsAsErrors).
# usage: check-tidy.sh SOURCE_ROOT BUILD_DIR CLANG_TIDY
set -eu
src=$1
build=$2
tidy=$3
if [ ! -f "$build/compile_commands.json" ]; then
    echo "check-tidy: no $build/compile_commands.json" >&2
    exit 1
fi
fail=0
out=$("$tidy" -p "$build" --quiet "$src"/src/core/*.c 2>/dev/null) || {
    printf '%s\n' "$out" | grep -E "(warning|error):" >&2 || printf '%s\n' "$out" >&2
    echo "check-tidy: findings in src/core (see above)" >&2
    fail=1
}
rest='-clang-analyzer-*,-readability-function-cognitive-complexity,-readability-function-size'
rest="$rest,-bugprone-branch-clone,-bugprone-macro-parentheses,-bugprone-not-null-terminated-result"
# The files the build compiles (a build without libvirt leaves its backend out), from the
# compilation database, whose "file" entries may be relative to the build directory.
srcabs=$(realpath "$src")
files=$(sed -n 's/^ *"file": "\(.*\)",*$/\1/p' "$build/compile_commands.json" |
    while IFS= read -r f; do
        case $f in
        /*) realpath -m "$f" ;;
        *) realpath -m "$build/$f" ;;
        esac
    done | grep "^$srcabs/src/" | grep -v "^$srcabs/src/core/" | sort -u)
if [ -z "$files" ]; then
    echo "check-tidy: no src/ files in $build/compile_commands.json" >&2
    exit 1
fi
out=$(printf '%s\n' $files | xargs -P 2 -n 8 "$tidy" -p "$build" --quiet "--checks=$rest" 2>/dev/null) || {
    printf '%s\n' "$out" | grep -E "(warning|error):" >&2 || printf '%s\n' "$out" >&2
    echo "check-tidy: findings outside src/core (see above)" >&2
    fail=1
}
[ "$fail" -eq 0 ] || exit 1
echo "check-tidy: src/core clean; the rest of src/ clean of the bug-form checks"
