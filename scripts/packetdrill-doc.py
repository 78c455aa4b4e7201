#!/usr/bin/env python3
"""Rewrite docs/packetdrill.md's figure and failing-scripts table from a full run.

    scripts/packetdrill.sh > /tmp/pd.out; scripts/packetdrill-doc.py /tmp/pd.out

Reads the PASS/FAIL lines scripts/packetdrill.sh printed, marks the scripts Linux itself fails
here (../shared/packetdrill/linux-passes.txt) and names whose area each failure is, by the
script's directory.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "packetdrill.md")
SUITE = "gtests/net/tcp/"

AREAS = {
    "fast_recovery": "loss recovery",
    "fast_retransmit": "loss recovery",
    "sack": "loss recovery / SACK",
    "limited_transmit": "loss recovery",
    "cwnd_moderation": "loss recovery",
    "cubic": "congestion control",
    "slow_start": "congestion control / output",
    "fastopen": "Fast Open",
    "ecn": "ECN",
    "mtu_probe": "MTU probing",
    "md5": "TCP MD5",
    "gro": "GRO",
}


def linux_passes():
    # As scripts/packetdrill.sh: ../shared beside the repository, or two levels up (a worktree).
    src = os.environ.get("PACKETDRILL_SRC")
    if not src:
        for c in (os.path.join(ROOT, "..", "shared", "packetdrill"),
                  os.path.join(ROOT, "..", "..", "shared", "packetdrill")):
            if os.path.isfile(os.path.join(c, "linux-passes.txt")):
                src = c
                break
        else:
            sys.exit("packetdrill sources not found: set PACKETDRILL_SRC")
    with open(os.path.join(src, "linux-passes.txt")) as f:
        return {l.strip() for l in f if l.strip() and not l.startswith("#")}


def rel(path):
    i = path.find(SUITE)
    return path[i + len(SUITE):] if i >= 0 else path


def main():
    linux = linux_passes()
    passed, failed = [], []
    with open(sys.argv[1]) as f:
        for line in f:
            m = re.match(r"^(PASS|FAIL) (\S+?)(?:: (.*))?$", line.rstrip("\n"))
            if not m:
                continue
            (passed if m.group(1) == "PASS" else failed).append((rel(m.group(2)), m.group(3) or ""))
    total = len(passed) + len(failed)
    if total == 0:
        sys.exit("no PASS/FAIL lines in " + sys.argv[1])
    linux_ok = sum(1 for p, _ in passed if p in linux or ("gtests/net/tcp/" + p) in linux)
    in_linux = lambda p: p in linux or ("gtests/net/tcp/" + p) in linux
    rows = []
    for path, err in sorted(failed):
        area = AREAS.get(path.split("/")[0], "socket layer / TCP")
        mark = "" if in_linux(path) else " (Linux: fail)"
        err = err.replace("|", "\\|")
        rows.append(f"| {path}{mark} | {area} | {err} |")
    with open(DOC) as f:
        doc = f.read()
    doc = re.sub(
        r"\*\*\d+ of \d+ scripts pass\*\* \([^)]*\)",
        f"**{len(passed)} of {total} scripts pass** ({linux_ok} of the {len(linux)} that Linux 6.18 passes; "
        "full run, `scripts/packetdrill.sh`)",
        doc,
        count=1,
    )
    start = doc.index("| script | area | packetdrill's error |")
    end = doc.index("\n## ", start)
    table = "| script | area | packetdrill's error |\n|---|---|---|\n" + "\n".join(rows) + "\n"
    doc = doc[:start] + table + doc[end:]
    with open(DOC, "w") as f:
        f.write(doc)
    print(f"{len(passed)} of {total} pass, {linux_ok} of Linux's {len(linux)}; {len(rows)} rows")


if __name__ == "__main__":
    main()
