"""Peak memory of a command and every process it starts, summed: what a machine's RAM must hold.

    python perf/tree_memory.py [--every 2] [--log mem.tsv] -- python train/experiments/shapes/run.py --work W

Every `--every` seconds it walks the command's process tree (/proc, Linux only) and sums each
process's RSS and PSS (proportional set size: shared pages such as the torch libraries split
between the processes mapping them, so the PSS sum does not count them twice; RSS sum does). At the
end it prints both peaks, when they happened and the largest processes at the PSS peak. `--log`
writes one line per sample (seconds, RSS sum, PSS sum, processes) for plotting. The command's exit
code is passed on.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        kids.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return kids


def tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    kids, out, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def usage(pid: int) -> tuple[int, int, str] | None:
    """(RSS bytes, PSS bytes, command line) of one process; None if it is gone."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    kb = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:] if line.split()[-1] == "kB"}
    return kb.get("Rss", 0) * 1024, kb.get("Pss", 0) * 1024, cmd


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--every", type=float, default=2.0, help="seconds between samples (default 2)")
    ap.add_argument("--log", type=Path, help="write every sample here (tab-separated)")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("give the command to measure after --")
    log = args.log.open("w") if args.log else None
    t0 = time.time()
    proc = subprocess.Popen(command)
    peak_rss = peak_pss = (0, 0.0)
    top: list[tuple[int, str]] = []
    while proc.poll() is None:
        seen = [u for u in map(usage, tree(proc.pid)) if u is not None]
        rss, pss, now = sum(u[0] for u in seen), sum(u[1] for u in seen), time.time() - t0
        if log:
            log.write(f"{now:.0f}\t{rss}\t{pss}\t{len(seen)}\n")
            log.flush()
        if rss > peak_rss[0]:
            peak_rss = (rss, now)
        if pss > peak_pss[0]:
            peak_pss = (pss, now)
            top = sorted(((u[1], u[2]) for u in seen), reverse=True)[:6]
        time.sleep(args.every)
    gib = 2**30
    print(f"\nwall {time.time() - t0:.0f} s; samples every {args.every:g} s")
    print(f"peak summed RSS {peak_rss[0] / gib:.2f} GiB ({peak_rss[0] / 1e9:.2f} GB) at {peak_rss[1]:.0f} s")
    print(f"peak summed PSS {peak_pss[0] / gib:.2f} GiB ({peak_pss[0] / 1e9:.2f} GB) at {peak_pss[1]:.0f} s; largest then:")
    for pss, cmd in top:
        print(f"  {pss / gib:6.2f} GiB  {cmd[:110]}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
