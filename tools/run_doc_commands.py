#!/usr/bin/env python3
"""Runs every command of README.md and docs/*.md, in that order, in a temporary copy of the tree.

  run_doc_commands.py --acceltran build/bin/acceltran [--source DIR] [--list] [--keep]

The commands are the lines of fenced code blocks marked sh, bash or shell (a line ending in a
backslash continues on the next one; comment lines are passed over), README.md first, then
docs/*.md by name. Each runs with `bash -o pipefail -c` in a copy of the files git tracks below
--source (what a fresh clone holds, with uncommitted edits), where build/bin/acceltran is the
given executable: the build itself is not repeated. After the last command the default run
(`./build/bin/acceltran simulate`) runs once more, so that no documented command leaves a folder
that makes it fail.

A command is not run, or is expected to fail, only by an explicit marker:
  <!-- docs-test: skip REASON -->   on the line before a fence: the whole block is skipped
  # docs-test: skip REASON          at the end of a command: that command is skipped
  # docs-test: fails REASON         at the end of a command: it must exit non-zero
and by the EXCEPTIONS table below, for markers that cannot live in a page (each entry must still match
a command, so a stale one fails the run). Skips are for commands that build, take minutes, need
Slurm or a display, or name files the reader supplies.

Exits 0 when every command run exits as expected (0, or non-zero when marked `fails`), 1
otherwise, listing each failure with its file, line, exit code and the end of its output.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SHELL_FENCES = {"sh", "bash", "shell"}
BLOCK_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*skip\s+(.+?)\s*-->\s*$")
LINE_MARKER = re.compile(r"#\s*docs-test:\s*(skip|fails)\s+(.+?)\s*$")
TIMEOUT_S = 300  # one command; the whole run is bounded by the CI job's own limit

# Markers that cannot live in a page: (file, start of the command, action, reason). Each entry
# must still match a command. Empty: every page carries its own `# docs-test:` markers.
EXCEPTIONS = []


class Command:
    def __init__(self, page, line, text):
        self.page, self.line, self.text = page, line, text
        self.action, self.reason = "run", ""
        marker = LINE_MARKER.search(text)
        if marker:
            self.action, self.reason = marker.group(1), marker.group(2)

    def where(self):
        return f"{self.page}:{self.line}" if self.line else self.page


def pages(source):
    found = [p for p in ["README.md"] if os.path.exists(os.path.join(source, p))]
    found += sorted(os.path.relpath(p, source)
                    for p in glob.glob(os.path.join(source, "docs", "*.md")))
    return found


def commands_of(source, page):
    """The commands of one page, in order, with their markers applied."""
    with open(os.path.join(source, page), encoding="utf-8") as f:
        lines = f.read().split("\n")
    out, in_block, shell, skip_reason, pending, start = [], False, False, None, "", 0
    for number, line in enumerate(lines, 1):
        fence = line.strip().startswith("```")
        if fence and not in_block:
            in_block, shell = True, line.strip()[3:].strip() in SHELL_FENCES
            above = lines[number - 2] if number >= 2 else ""
            marker = BLOCK_MARKER.match(above)
            skip_reason = marker.group(1) if marker else None
            continue
        if fence:
            in_block = False
            continue
        if not (in_block and shell):
            continue
        if not pending and (not line.strip() or line.strip().startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command = Command(page, start, (pending + line).strip())
        pending = ""
        if skip_reason:
            command.action, command.reason = "skip", skip_reason
        out.append(command)
    return out


def apply_exceptions(commands):
    for page, start, action, reason in EXCEPTIONS:
        matched = [c for c in commands if c.page == page and c.text.startswith(start)]
        if not matched:
            sys.exit(f"error: {os.path.basename(__file__)}: the exception for {page} "
                     f"'{start}' matches no command; remove it")
        for c in matched:
            c.action, c.reason = action, reason


def copy_tree(source, copy, acceltran):
    """The files git tracks below `source` (as they are now), and build/bin/acceltran."""
    listed = subprocess.run(["git", "-C", source, "ls-files", "-z"], capture_output=True)
    if listed.returncode != 0:
        sys.exit(f"error: {source}: not in a git checkout: {listed.stderr.decode().strip()}")
    for name in listed.stdout.decode().split("\0"):
        if not name or not os.path.lexists(os.path.join(source, name)):
            continue  # deleted in the working tree
        target = os.path.join(copy, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(source, name), target, follow_symlinks=False)
    os.makedirs(os.path.join(copy, "build", "bin"), exist_ok=True)
    os.symlink(os.path.abspath(acceltran), os.path.join(copy, "build", "bin", "acceltran"))


def run(command, copy, log):
    log.write(f"\n$ {command.text}    # {command.where()}\n")
    log.flush()
    try:
        done = subprocess.run(["bash", "-o", "pipefail", "-c", command.text], cwd=copy,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=TIMEOUT_S)
        output, code = done.stdout.decode(errors="replace"), done.returncode
    except subprocess.TimeoutExpired as e:
        output, code = (e.stdout or b"").decode(errors="replace"), f"timeout {TIMEOUT_S} s"
    log.write(output)
    return code, output


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--acceltran", required=True, help="the built acceltran executable")
    p.add_argument("--source", default=os.path.join(os.path.dirname(__file__), ".."),
                   help="the source tree (default: this script's)")
    p.add_argument("--list", action="store_true", help="list the commands and markers only")
    p.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = p.parse_args(argv)
    source = os.path.abspath(args.source)
    commands = [c for page in pages(source) for c in commands_of(source, page)]
    if os.path.abspath(source) == os.path.abspath(os.path.join(os.path.dirname(__file__), "..")):
        apply_exceptions(commands)
    if args.list:
        for c in commands:
            print(f"{c.action:5} {c.where()}: {c.text}" + (f"   [{c.reason}]" if c.reason else ""))
        return 0
    if not os.access(args.acceltran, os.X_OK):
        sys.exit(f"error: {args.acceltran}: no such executable")
    copy = tempfile.mkdtemp(prefix="acceltran-docs-")
    failures = []
    try:
        copy_tree(source, copy, args.acceltran)
        final = Command("(after every command)", 0, "./build/bin/acceltran simulate")
        with open(os.path.join(copy, "docs-commands.log"), "w") as log:
            for c in commands + [final]:
                if c.action == "skip":
                    print(f"skip  {c.where()}: {c.text}   [{c.reason}]")
                    continue
                code, output = run(c, copy, log)
                ok = (code != 0) if c.action == "fails" else (code == 0)
                print(f"{'ok' if ok else 'FAIL':5} {c.where()}: {c.text}", flush=True)
                if not ok:
                    failures.append((c, code, output))
    finally:
        if args.keep:
            print(f"kept {copy}")
        else:
            shutil.rmtree(copy, ignore_errors=True)
    for c, code, output in failures:
        expected = "a non-zero exit" if c.action == "fails" else "exit 0"
        tail = "\n    ".join(output.rstrip().split("\n")[-15:]) or "(no output)"
        print(f"\nerror: {c.where()}: `{c.text}` gave exit {code}, expected {expected}:\n    {tail}")
    run_count = sum(c.action != "skip" for c in commands) + 1
    print(f"\n{run_count - len(failures)} of {run_count} commands as documented, "
          f"{sum(c.action == 'skip' for c in commands)} skipped by a marker")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
