#!/usr/bin/env python3
"""Lists C++ functions longer than a limit (default 100 lines) in the given folders.

A function is counted from the first line of its signature to its closing brace; lambdas and
local classes count as part of the function that holds them. Comments, string and character
literals and preprocessor lines are ignored when braces are matched. Exit code 1 when any
function is longer than the limit, so a test can run it:

    tools/function_lengths.py --limit 100 hw tlm compiler app
    tools/function_lengths.py --top 20 hw        # the 20 longest, whatever their length
"""
import argparse
import os
import re
import sys

NOT_FUNCTION = re.compile(r"\b(class|struct|union|enum|namespace)\b|=\s*$|^\s*(extern\s+\"C\")")
CONTROL = re.compile(r"^\s*(if|for|while|switch|catch|do|else|try)\b")


def strip_code(text):
    """The text with comments and literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = ")" + m.group(1) + '"'
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and (text[i - 1].isalnum()):  # digit separator 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(" " * (min(j + 1, n) - i))
            i = j + 1
        else:
            out.append(c)
            i += 1
    lines = "".join(out).split("\n")
    return "\n".join("" if l.lstrip().startswith("#") else l for l in lines)


def functions(path):
    """(name, first line, last line) of each function body at namespace or class scope."""
    code = strip_code(open(path, encoding="utf-8", errors="replace").read())
    result = []
    stack = []  # for each open brace: ('function', name, line) or ('scope',) or ('block',)
    head_start = 0  # offset where the text before the next brace began
    line_of = [0] * (len(code) + 1)
    line = 1
    for i, c in enumerate(code):
        line_of[i] = line
        if c == "\n":
            line += 1
    for i, c in enumerate(code):
        if c in ";":
            if not stack or stack[-1][0] == "scope":
                head_start = i + 1
        elif c == "{":
            inside_function = any(s[0] == "function" for s in stack)
            head = code[head_start:i]
            if inside_function:
                stack.append(("block",))
            elif re.search(r"\)\s*(const|override|final|noexcept|mutable|->[^{}]*|\s)*$", head) or (
                    re.search(r"\)\s*:\s*", head) and not NOT_FUNCTION.search(head)):
                if NOT_FUNCTION.search(head.split("(")[0]) or CONTROL.match(head.strip()):
                    stack.append(("scope",))
                else:
                    start = head_start + len(head) - len(head.lstrip())
                    name_match = re.search(r"([~\w:]+(?:operator\s*\S+)?)\s*\(", head)
                    name = name_match.group(1) if name_match else "?"
                    stack.append(("function", name, line_of[start]))
            else:
                stack.append(("scope",))
            head_start = i + 1
        elif c == "}":
            if stack:
                top = stack.pop()
                if top[0] == "function":
                    result.append((top[1], top[2], line_of[i]))
            if not stack or stack[-1][0] == "scope":
                head_start = i + 1
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--limit", type=int, default=100, help="longest allowed function, in lines")
    ap.add_argument("--top", type=int, default=0, help="list the N longest functions instead")
    args = ap.parse_args()
    found = []
    for folder in args.folders:
        if not os.path.exists(folder):
            print(f"error: {folder}: no such folder", file=sys.stderr)
            return 2
        for root, _, files in os.walk(folder):
            for f in sorted(files):
                if f.endswith((".cpp", ".hpp", ".h", ".cc")):
                    p = os.path.join(root, f)
                    for name, first, last in functions(p):
                        found.append((last - first + 1, p, first, name))
    found.sort(key=lambda t: (-t[0], t[1], t[2]))
    if args.top:
        for length, p, first, name in found[: args.top]:
            print(f"{length:5d}  {p}:{first}  {name}")
        return 0
    over = [t for t in found if t[0] > args.limit]
    for length, p, first, name in over:
        print(f"{p}:{first}: {name} is {length} lines (limit {args.limit})")
    print(f"{len(found)} functions, {len(over)} longer than {args.limit} lines")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
