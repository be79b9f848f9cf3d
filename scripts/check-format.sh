#!/bin/sh
# Every C file follows .clang-format (LLVM 14).
set -eu
root="$1"
cf="${2:-clang-format}"
cd "$root"
files=$(find src tests bench -name '*.c' -o -name '*.h' | sort)
# shellcheck disable=SC2086
"$cf" --dry-run --Werror $files
echo "check-format: $(echo "$files" | wc -l) files formatted"
