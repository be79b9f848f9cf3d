#!/bin/sh
# clang-tidy with the tree's .clang-tidy (STYLE §10) over the files it holds clean: the core,
# where every other mode's decisions are made. Any finding fails (WarningsAsErrors).
# usage: check-tidy.sh SOURCE_ROOT BUILD_DIR CLANG_TIDY
set -eu
src=$1
build=$2
tidy=$3
if [ ! -f "$build/compile_commands.json" ]; then
    echo "check-tidy: no $build/compile_commands.json" >&2
    exit 1
fi
out=$("$tidy" -p "$build" --quiet "$src"/src/core/*.c 2>/dev/null) || {
    printf '%s\n' "$out" | grep -E "(warning|error):" >&2 || printf '%s\n' "$out" >&2
    echo "check-tidy: findings in src/core (see above)" >&2
    exit 1
}
echo "check-tidy: src/core clean"
