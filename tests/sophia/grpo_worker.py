"""Run by test_grpo.py in a subprocess (so it can be SIGKILLed): 2 GRPO steps on a tiny text model
with the in-process policy generator, checkpoint every step; writes result.json.

argv: model_dir output_dir
"""

import dataclasses
import json
import sys
from pathlib import Path

from sophia_eval.bench.sample import Sample
from sophia_eval.sophia.config import GRPOConfig, TrainConfig
from sophia_eval.sophia.grpo import grpo_train

if __name__ == "__main__":
    model, out = sys.argv[1:3]
    items = [Sample(benchmark="t", id=str(i), question=f"What is {i}+1?", answer=str(i + 1)) for i in range(4)]
    result = grpo_train(
        TrainConfig(model=model, output_dir=out, gradient_checkpointing=False, micro_batch_size=2,
                    mixed_precision="no"),
        GRPOConfig(questions_per_step=2, rollouts=3, max_new_tokens=5, lr=1e-3, save_every=1),
        items, steps=2, reward_fn=lambda samples, texts: [float(len(t) % 2) for t in texts])
    summary = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(result).items()}
    Path(out, "result.json").write_text(json.dumps(summary), encoding="utf-8")
