#!/usr/bin/env python3
"""Checks the include rules between the rooms (docs/architecture.md, "Rooms").

Every library header is included as "acceltran/<room>/<path>.hpp". A file may include only the
rooms its own room is allowed to see; the rules are in RULES below, most specific path first.
Exit 1 and one line per breach when a file includes a room it may not, or includes a library
header by its bare name. Run from the source root: tools/check_rooms.py
"""
import os
import re
import sys

# (path prefix, rooms that files under it may include), first match wins.
RULES = [
    ("config/", {"config"}),
    ("workload/", {"config", "workload"}),
    ("compiler/", {"config", "workload", "compiler"}),
    ("tlm/", {"tlm"}),
    ("hw/compute/datapath", {"config", "workload", "compiler", "tlm", "hw"}),
    ("hw/compute/exact_gemm", {"config", "workload", "hw"}),  # the data path's products (BLAS)
    ("hw/compute/", {"config", "tlm", "hw"}),
    ("hw/memory/", {"config", "tlm", "hw"}),
    ("hw/", {"config", "workload", "compiler", "tlm", "hw"}),
]
ROOMS = ("config", "workload", "compiler", "tlm", "hw")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def allowed_rooms(path):
    for prefix, rooms in RULES:
        if path.startswith(prefix):
            return rooms
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    os.chdir(root)
    headers = set()
    for room in ROOMS:
        for d, _, files in os.walk(room):
            headers.update(f for f in files if f.endswith(".hpp"))
    breaches, checked = [], 0
    for room in ROOMS:
        for d, _, files in os.walk(room):
            for f in sorted(files):
                if not f.endswith((".hpp", ".cpp")):
                    continue
                path = os.path.join(d, f)
                rooms = allowed_rooms(path)
                checked += 1
                for name in INCLUDE.findall(open(path, encoding="utf-8").read()):
                    if name.startswith("acceltran/"):
                        target = name.split("/")[1]
                        if target not in rooms:
                            breaches.append(f"{path}: includes {name}; {path.split('/')[0]} "
                                            f"files here may include {', '.join(sorted(rooms))}")
                    elif "/" not in name and name in headers:
                        breaches.append(f"{path}: includes \"{name}\" by its bare name; write "
                                        f"\"acceltran/<room>/.../{name}\"")
    for b in breaches:
        print(b)
    print(f"{checked} files checked, {len(breaches)} breaches of the room rules")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
