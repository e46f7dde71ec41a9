"""SOPHIA semi-off-policy RL as library code: sampling, rewards, selection, objective, update.

Re-exports only; heavy dependencies (torch, transformers, accelerate) load inside the functions
that need them, so importing this package is cheap.
"""

from sophia_eval.sophia.behaviour import score_behaviour_logprobs
from sophia_eval.sophia.config import (GRPOConfig, MixConfig, PromptConfig, SamplingConfig, SelectionConfig, TrainConfig,
                                      load_recipe)
from sophia_eval.sophia.dataset import TrainExample
from sophia_eval.sophia.grpo import grpo_train, group_advantages
from sophia_eval.sophia.items import TrainingSetError, load_training_items
from sophia_eval.sophia.objective import ClippedIS, Objective, RewardWeightedNLL, make_objective
from sophia_eval.sophia.pipeline import EvalSpec, evaluate, run_round, run_selection, train_examples
from sophia_eval.runs.jsonl import RecordError
from sophia_eval.sophia.rewards import caption_rewards, score_texts
from sophia_eval.sophia.sampling import SamplingStats, run_sampling
from sophia_eval.sophia.selection import EmptySelectionError, select_trajectories
from sophia_eval.sophia.trainer import TrainResult, train

__all__ = [
    "ClippedIS", "EmptySelectionError", "EvalSpec", "GRPOConfig", "MixConfig", "Objective", "RecordError",
    "PromptConfig", "RewardWeightedNLL", "SamplingConfig", "SamplingStats", "SelectionConfig", "TrainConfig", "TrainExample",
    "TrainResult", "TrainingSetError", "caption_rewards", "evaluate", "group_advantages", "grpo_train",
    "load_recipe", "load_training_items", "make_objective", "run_round", "run_sampling", "run_selection",
    "score_behaviour_logprobs", "score_texts", "select_trajectories", "train", "train_examples",
]
