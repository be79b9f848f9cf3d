#!/bin/sh
# Functions that invite overflows or hide errors have safer replacements in this tree.
set -eu
root="$1"
pattern='\b(sprintf|strcpy|strcat|strtok|atoi|atol|sscanf|gets)[[:space:]]*\('
if grep -rnE "$pattern" "$root/src" "$root/tests" "$root/bench" --include='*.c' --include='*.h'; then
    echo "check-banned: use snprintf, memcpy with a length, strtol/strtod instead" >&2
    exit 1
fi
if grep -rnE '\b(rand|srand|time)[[:space:]]*\(' "$root/src/core" --include='*.c' --include='*.h'; then
    echo "check-banned: the core takes time and randomness as arguments" >&2
    exit 1
fi
echo "check-banned: clean"
