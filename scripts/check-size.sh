#!/bin/sh
# No source file under src/ over 800 lines, no function over 120 (STYLE §1: one concept per
# file). A function is counted from its opening brace to its closing one, both alone at the
# start of a line, as .clang-format writes every function definition.
# usage: check-size.sh SOURCE_ROOT
set -eu
root="$1"
max_file=800
max_func=120
cd "$root"
status=0
files=$(find src -name '*.c' -o -name '*.h' | sort)
for f in $files; do
    n=$(wc -l <"$f")
    if [ "$n" -gt "$max_file" ]; then
        echo "check-size: $f: $n lines, over $max_file: split it along a seam" >&2
        status=1
    fi
done
for f in $files; do
    awk -v f="$f" -v max="$max_func" '
        /^\{/ { start = NR; name = prev }
        /^\}/ && start {
            n = NR - start + 1
            if (n > max) {
                sub(/\(.*/, "", name)
                printf "check-size: %s:%d: %s() is %d lines, over %d\n", f, start, name, n, max
                bad = 1
            }
            start = 0
        }
        { prev = $0 }
        END { exit bad }' "$f" >&2 || status=1
done
if [ "$status" -ne 0 ]; then
    exit 1
fi
echo "check-size: $(echo "$files" | wc -l) files, none over $max_file lines, no function over $max_func"
