"""CPU time and peak memory of a process and its children, read from /proc (Linux only, no extra package)."""
from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces: split after the last ')'
    return raw[raw.rindex(")") + 2:].split()


def tree(root: int) -> list[int]:
    """root and all its descendants (Sanic workers, process pools)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    """user + system CPU seconds of the live tree (finished children are not counted)."""
    total = 0
    for pid in tree(root):
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def peak_rss_mb(root: int) -> dict:
    """Peak resident set (VmHWM) per process of the tree and their sum, in MB."""
    per = {}
    for pid in tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    per[pid] = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            continue
    return {"max_mb": max(per.values(), default=0.0), "sum_mb": round(sum(per.values()), 1), "processes": len(per)}


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
