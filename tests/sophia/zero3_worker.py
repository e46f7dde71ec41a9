"""Run by test_zero3.py under `accelerate launch` with the repository's ZeRO-3 config, one process:
a tiny VLM (composite config, no top-level hidden_size), 4 steps, checkpoint every 2.

argv: model_dir image_path output_dir
"""

import dataclasses
import json
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]  # sophia_helpers

from sophia_helpers import make_examples  # noqa: E402
from sophia_eval.sophia.config import TrainConfig  # noqa: E402
from sophia_eval.sophia.trainer import train  # noqa: E402

if __name__ == "__main__":
    model, image, out = sys.argv[1:4]
    config = TrainConfig(model=model, output_dir=out, lr=1e-3, global_batch_size=4, micro_batch_size=2,
                         epochs=2, save_every=2, gradient_checkpointing=False, mixed_precision="no")
    result = train(config, make_examples(Path(image)))
    summary = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(result).items()}
    Path(out, "result.json").write_text(json.dumps(summary), encoding="utf-8")
