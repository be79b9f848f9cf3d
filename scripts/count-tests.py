#!/usr/bin/env python3
"""Count test results from meson's testlog.json files and print 'N passed, N failed'.

A cmocka test binary reports many cases ('[  PASSED  ] 12 test(s).'); those are counted one
by one. Other tests count as one each. Skipped tests are reported separately."""
import json
import re
import sys

PASSED = re.compile(r"^\[  PASSED  \] (\d+) test\(s\)\.", re.M)
FAILED = re.compile(r"^\[  FAILED  \] (\d+) test\(s\)", re.M)
SKIPPED = re.compile(r"^\[  SKIPPED \] (\d+) test\(s\)", re.M)


def main(paths):
    passed = failed = skipped = 0
    seen_any = False
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError as e:
            print(f"count-tests: {path}: {e}", file=sys.stderr)
            failed += 1
            continue
        for line in lines:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            seen_any = True
            result = rec.get("result", "")
            out = (rec.get("stdout", "") or "") + "\n" + (rec.get("stderr", "") or "")
            p = sum(int(x) for x in PASSED.findall(out))
            fl = sum(int(x) for x in FAILED.findall(out))
            sk = sum(int(x) for x in SKIPPED.findall(out))
            ok = result in ("OK", "EXPECTEDFAIL")
            if result == "SKIP":
                skipped += 1
            elif p or fl:
                passed += p
                failed += fl
                skipped += sk
                if not ok and fl == 0:
                    failed += 1  # crashed or timed out after its cases
            elif ok:
                passed += 1
            else:
                failed += 1
    if not seen_any:
        failed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
