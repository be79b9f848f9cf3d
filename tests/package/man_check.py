#!/usr/bin/env python3
"""Every option that `vmloc --help` and `vmloc COMMAND --help` print is in the man page of
that command and in the bash completion, and every command has its page.

usage: man_check.py VMLOC MANDIR (the build's directory holding vmloc*.1 and the completion, vmloc)
"""
import os
import re
import subprocess
import sys

LONG_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def helptext(vmloc, *args):
    return subprocess.run([vmloc, *args, "--help"], check=True, capture_output=True,
                          text=True).stdout


def page_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read().replace("\\-", "-").replace("\\fB", "").replace("\\fI", "").replace(
            "\\fR", "")


def main():
    vmloc, mandir = sys.argv[1], sys.argv[2]
    top = helptext(vmloc)
    commands = re.findall(r"^  ([a-z]+) ", top.split("commands:", 1)[1], re.M)
    with open(os.path.join(mandir, "vmloc"), encoding="utf-8") as f:
        completion = f.read()
    failures = 0
    for cmd in [None] + commands:
        name = "vmloc" if cmd is None else "vmloc-" + cmd
        text = top if cmd is None else helptext(vmloc, cmd)
        path = os.path.join(mandir, name + ".1")
        if not os.path.exists(path):
            print("%s: no man page for '%s'" % (path, cmd))
            failures += 1
            continue
        page = page_text(path)
        for opt in sorted(set(LONG_RE.findall(text))):
            if opt not in page:
                print("%s: %s is in '%s --help' but not in the page" % (path, opt, name))
                failures += 1
            if opt not in completion:
                print("vmloc.bash: %s of '%s --help' is not completed" % (opt, name))
                failures += 1
        if cmd is not None and not re.search(r"\b%s\b" % cmd, completion):
            print("vmloc.bash: the command '%s' is not completed" % cmd)
            failures += 1
    print("%d command(s) checked, %d problem(s)" % (len(commands) + 1, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
