"""Entry point for launchers: `python train/sophia_round.py <sample|select|train|round> [options]`.

Identical to `sophia-eval sophia ...`; a file path is what `accelerate launch` and `torchrun`
expect, e.g.

    accelerate launch --config_file train/accelerate/zero3.yaml train/sophia_round.py train \
        --recipe train/recipes/internvl3_8b.yaml --selection runs/r1/selection --out runs/r1/train
    torchrun --standalone --nproc_per_node 2 train/sophia_round.py train --recipe ... (CPU: gloo)
"""

import sys

from sophia_eval.cli import app

if __name__ == "__main__":
    app(["sophia", *sys.argv[1:]], prog_name="sophia_round.py")
