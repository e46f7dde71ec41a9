"""Rebuilds docs/leaderboard_1280.png: three synthetic runs (random outcomes, seeded; two checkpoints
both called `final`, one base) on MMMU validation and MathVista testmini, the leaderboard page with a
--pair chart, and a screenshot of it at 1280 px in headless Chromium.

    python docs/leaderboard_screenshot.py [--work /tmp/lb-shot] [--out docs/leaderboard_1280.png]

Needs Debian's chromium (/usr/bin/chromium); the runs are written with the leaderboard tests' helper.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "leaderboard"))
from lb_helpers import write_run  # noqa: E402

ITEMS = 300
# model -> accuracy per benchmark the random outcomes are drawn around
MODELS = {"r1/train/final": {"mmmu": 0.40, "mathvista": 0.40},
          "r2/train/final": {"mmmu": 0.39, "mathvista": 0.32},
          "Qwen2.5-VL-7B-Instruct": {"mmmu": 0.32, "mathvista": 0.32}}
SPLITS = {"mmmu": "validation", "mathvista": "testmini"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/lb-shot"))
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "leaderboard_1280.png")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        sys.exit("needs Debian's chromium: apt-get install -y chromium")
    shutil.rmtree(args.work, ignore_errors=True)
    rng = random.Random(0)
    for model, rates in MODELS.items():
        prefix = model.split("/")[0] if "/" in model else "base"
        for bench, rate in rates.items():
            outcomes = {str(i): [rng.random() < rate] for i in range(ITEMS)}
            write_run(args.work / "runs" / f"{prefix}_{bench}", model=model, benchmark=bench, split=SPLITS[bench],
                      outcomes=outcomes, limit=ITEMS)
    board = args.work / "board"
    cli = Path(sys.executable).with_name("sophia-eval")
    subprocess.run([str(cli), "leaderboard", str(args.work / "runs"), "--out", str(board),
                    "--pair", "Qwen2.5-VL-7B-Instruct=r1/train/final"], check=True)
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={args.out.resolve()}", "--window-size=1280,2000",
                    (board / "leaderboard.html").resolve().as_uri()], check=True, cwd=args.work)
    try:  # a 256-colour palette keeps the checked-in file ~2.5x smaller and looks the same
        from PIL import Image
        Image.open(args.out).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            args.out, optimize=True)
    except ImportError:
        pass
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
