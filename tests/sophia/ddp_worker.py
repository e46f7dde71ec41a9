"""Launched by test_distributed.py under torchrun: train a few steps, write this rank's digest.

argv: model_dir image_path output_dir find_unused(0|1) freeze_vision(0|1)
"""

import json
import os
import sys

from sophia_eval.sophia.config import TrainConfig
from sophia_eval.sophia.dataset import TrainExample
from sophia_eval.sophia.trainer import train


def main() -> None:
    model, image, out, find_unused, freeze = sys.argv[1:6]
    examples = [
        TrainExample(id=str(i), messages=(
            {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": f"What is {i}+3?"}]},
            {"role": "assistant", "content": f"The answer is \\boxed{{{i + 3}}}."}))
        for i in range(8)
    ]
    config = TrainConfig(model=model, output_dir=out, lr=1e-3, global_batch_size=4, micro_batch_size=1,
                         max_steps=2, gradient_checkpointing=True, find_unused_parameters=find_unused == "1",
                         freeze_vision=freeze == "1")
    result = train(config, examples, param_digest=True)
    rank = int(os.environ.get("RANK", "0"))
    with open(os.path.join(out, f"digest-{rank}.json"), "w", encoding="utf-8") as fh:
        json.dump({"digest": result.param_digest, "losses": result.losses, "grad_norms": result.grad_norms, "world_size": result.world_size}, fh)


if __name__ == "__main__":
    main()
