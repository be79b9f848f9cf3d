#!/usr/bin/env python3
"""Make vmloc's man pages and its bash completion from the built binary's own --help.

The --help texts (the option tables of src/cli/opt_table.c for the daemons, each command's
usage text for the others) are the one source: the man pages and the completion are made
from them at build time, so they cannot drift apart. The list of commands comes from
`vmloc --help`; the build names its outputs in advance (meson.build's man_commands), and
this script fails when the two lists differ.

usage: mkman.py VMLOC OUTDIR VERSION COMMAND...   -> OUTDIR/vmloc.1, OUTDIR/vmloc-COMMAND.1,
                                                     OUTDIR/vmloc (the completion)
"""
import os
import re
import subprocess
import sys
import time

# The date of the release (dpkg sets SOURCE_DATE_EPOCH from debian/changelog), so a build
# of one tree always makes the same pages.
DATE = (time.strftime("%Y-%m-%d", time.gmtime(int(os.environ["SOURCE_DATE_EPOCH"])))
        if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit() else "")
# What the --help texts do not say: where the package puts things.
FILES = [
    ("/etc/vmloc/token", "the cluster's API token (mode 0600, owner vmloc), made when the "
     "package is installed; the same file on every host"),
    ("/etc/vmloc/manager.ini", "the manager's settings ([manager] and the policy)"),
    ("/etc/vmloc/agent.ini", "an agent's settings ([agent], [sim], [libvirt] and the policy)"),
    ("/etc/vmloc/policy.ini", "an example policy ([detect], [relocate], [host], [rule])"),
    ("/var/lib/vmloc", "the daemons' state: the store"),
    ("/usr/share/doc/vmloc", "the documentation: running.md, security.md, policy.md, ..."),
]
OPT_RE = re.compile(r"^ {2,}(-[A-Za-z0-9], )?(--[a-z][a-z0-9-]*)(.*)$")
LONG_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def helptext(vmloc, *args):
    env = dict(os.environ, COLUMNS="80", LC_ALL="C")
    out = subprocess.run([vmloc, *args, "--help"], check=True, capture_output=True, text=True,
                         env=env)
    return out.stdout


def esc(text):
    """Text as roff: backslashes and hyphens escaped, no line starting with a control char."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + ln) if ln[:1] in (".", "'") else ln for ln in text.split("\n"))


def split_help(text):
    """(usage lines, [blocks]); a block is a list of lines between blank lines."""
    lines = text.rstrip("\n").split("\n")
    if not lines or not lines[0].startswith("usage: "):
        raise SystemExit("mkman: --help does not start with 'usage: ': %r" % lines[:1])
    usage = [lines[0][len("usage: "):]]
    i = 1
    while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
        usage.append(lines[i].strip())
        i += 1
    blocks, cur = [], []
    for ln in lines[i:]:
        if ln.strip():
            cur.append(ln)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return usage, blocks


def option_items(block):
    """A block of option lines as [(term, description)], or None when it is not one."""
    items = []
    for ln in block:
        m = OPT_RE.match(ln)
        if m:
            rest = m.group(3)
            gap = re.search(r" {2,}", rest)
            arg, desc = (rest[:gap.start()], rest[gap.end():]) if gap else (rest, "")
            items.append([(m.group(1) or "") + m.group(2) + arg, desc.strip()])
        elif items and ln.startswith("    "):
            items[-1][1] = (items[-1][1] + " " + ln.strip()).strip()
        else:
            return None
    return items


def command_items(block):
    items = []
    for ln in block:
        m = re.match(r"^  ([a-z]+) +(.*)$", ln)
        if not m:
            return None
        items.append((m.group(1), m.group(2)))
    return items


def render_paragraph(block):
    return ".PP\n" + esc(" ".join(ln.strip() for ln in block)) + "\n"


def render_term(term):
    # Bold option names, italic argument words (FILE, ADDR:PORT, ...).
    out = []
    for word in term.split(" "):
        if word.startswith("-"):
            out.append("\\fB" + esc(word) + "\\fR")
        elif word:
            out.append("\\fI" + esc(word) + "\\fR")
    return " ".join(out)


def render_page(name, summary, version, usage, blocks, extra=""):
    out = ['.TH "%s" "1" "%s" "vmloc %s" "vmloc manual"' % (name.upper(), DATE, version),
           ".SH NAME", "%s \\- %s" % (esc(name), esc(summary)), ".SH SYNOPSIS", ".nf"]
    out += [esc(u) for u in usage]
    out += [".fi", ".SH DESCRIPTION"]
    section = "DESCRIPTION"
    for block in blocks:
        if len(block) == 1 and block[0].rstrip().endswith(":") and not block[0].startswith(" "):
            continue
        head = block[0] if block[0].strip().endswith(":") and not block[0].startswith(" ") else None
        body = block[1:] if head else block
        opts = option_items(body) if body else None
        cmds = command_items(body) if body and opts is None else None
        if opts:
            if section != "OPTIONS":
                out.append(".SH OPTIONS")
                section = "OPTIONS"
            for term, desc in opts:
                out += [".TP", render_term(term), esc(desc)]
            continue
        if cmds:
            out.append(".SH COMMANDS")
            section = "COMMANDS"
            for cmd, desc in cmds:
                out += [".TP", "\\fBvmloc\\-%s\\fR(1)" % esc(cmd), esc(desc)]
            continue
        if section != "DESCRIPTION" and section != "NOTES":
            out.append(".SH NOTES")
            section = "NOTES"
        if head:
            out.append(render_paragraph([head]).rstrip("\n"))
            body = body or []
        if body:
            out.append(render_paragraph(body).rstrip("\n"))
    out.append(extra.rstrip("\n"))
    return "\n".join(x for x in out if x) + "\n"


def see_also(names):
    return ".SH SEE ALSO\n" + ",\n".join("\\fB%s\\fR(1)" % esc(n) for n in names) + "\n"


def completion(top_opts, cmd_opts):
    cmds = " ".join(sorted(cmd_opts))
    lines = ["# bash completion for vmloc; made from vmloc's --help by scripts/mkman.py.",
             "_vmloc()", "{", "    local cur prev cmd i",
             "    cur=${COMP_WORDS[COMP_CWORD]}", "    prev=${COMP_WORDS[COMP_CWORD-1]}",
             "    case $prev in"]
    file_opts = sorted({o for opts in [top_opts, *cmd_opts.values()] for o, a in opts.items()
                        if a in ("FILE", "DIR", "FILE.html")})
    if file_opts:
        lines += ["    %s)" % "|".join(file_opts), "        COMPREPLY=($(compgen -f -- \"$cur\"))",
                  "        return ;;"]
    lines += ["    esac", "    cmd=", "    i=1", "    while [ $i -lt $COMP_CWORD ]; do",
              "        case ${COMP_WORDS[i]} in",
              "        %s) i=$((i + 2)) ;;" % "|".join(sorted(o for o, a in top_opts.items() if a)),
              "        -*) i=$((i + 1)) ;;",
              "        *) cmd=${COMP_WORDS[i]}; break ;;", "        esac", "    done",
              "    case $cmd in",
              "    '') COMPREPLY=($(compgen -W \"%s %s\" -- \"$cur\")) ;;"
              % (" ".join(sorted(top_opts)), cmds)]
    for cmd in sorted(cmd_opts):
        lines.append("    %s) COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")) ;;"
                     % (cmd, " ".join(sorted(cmd_opts[cmd]))))
    lines += ["    esac", "}", "complete -o default -F _vmloc vmloc"]
    return "\n".join(lines) + "\n"


def options_of(blocks, usage):
    """Every long option a --help text names, with its argument word ('' for none)."""
    opts = {}
    for block in blocks:
        for ln in block:
            m = OPT_RE.match(ln)
            if m:
                arg = m.group(3).strip().split(" ")[0] if m.group(3).startswith(" ") else ""
                opts.setdefault(m.group(2), arg if arg.isupper() or "." in arg else "")
    for u in usage:
        for m in re.finditer(r"(--[a-z][a-z0-9-]*)(?: ([A-Z][A-Z.:_,]*))?", u):
            opts.setdefault(m.group(1), m.group(2) or "")
    return opts


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    vmloc, outdir, version, expected = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    top = helptext(vmloc)
    usage, blocks = split_help(top)
    commands = {}
    for block in blocks:
        items = command_items(block[1:]) if block[0] == "commands:" else None
        for cmd, summary in items or []:
            commands[cmd] = summary
    if sorted(commands) != sorted(expected):
        raise SystemExit("mkman: vmloc --help lists the commands %s, meson.build's man_commands "
                         "%s: make them the same" % (sorted(commands), sorted(expected)))
    names = ["vmloc"] + ["vmloc-" + c for c in commands]
    files = ".SH FILES\n" + "".join(".TP\n%s\n%s\n" % (esc(f), esc(d)) for f, d in FILES)
    pages = {"vmloc": render_page("vmloc", "keep virtual machines on the right servers", version,
                                  usage, blocks, files + see_also(names[1:]))}
    top_opts = options_of(blocks, usage)
    top_opts.update({"--help": "", "--version": ""})
    cmd_opts = {}
    for cmd, summary in commands.items():
        cu, cb = split_help(helptext(vmloc, cmd))
        cmd_opts[cmd] = options_of(cb, cu)
        pages["vmloc-" + cmd] = render_page("vmloc-" + cmd, summary, version, cu, cb,
                                            see_also(["vmloc"]))
    os.makedirs(outdir, exist_ok=True)
    for name, text in pages.items():
        with open(os.path.join(outdir, name + ".1"), "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(outdir, "vmloc"), "w", encoding="utf-8") as f:
        f.write(completion(top_opts, cmd_opts))


if __name__ == "__main__":
    main()
