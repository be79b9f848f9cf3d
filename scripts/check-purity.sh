#!/bin/sh
# The core decides; it never touches the outside world. Fail if libcore.a needs any
# function that does I/O, reads a clock or an RNG, or logs.
set -eu
lib="$1"
forbidden='socket connect accept read write open fopen fclose fread fwrite printf fprintf puts
 time clock_gettime gettimeofday rand random srand getenv syslog sleep usleep nanosleep
 exit abort'
undef=$(nm -u "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
bad=0
for f in $forbidden; do
    if printf '%s\n' "$undef" | grep -qx "$f"; then
        echo "check-purity: $lib uses $f" >&2
        bad=1
    fi
done
if [ "$bad" -ne 0 ]; then
    exit 1
fi
echo "check-purity: $lib needs none of the forbidden functions"
