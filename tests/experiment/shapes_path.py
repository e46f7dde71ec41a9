"""Makes `train/experiments/shapes` importable as `shapes` (train/ is not a package)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "train" / "experiments"))
