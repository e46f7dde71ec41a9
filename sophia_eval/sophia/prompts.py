"""The two SOPHIA sampling prompts, and the training prompt (the ORIGINAL question and image).

- Caption prompt (to the policy VLM): the image(s) only, the question withheld, so the caption
  cannot smuggle in the answer; asks for a complete description of everything a solver might need.
- Reasoning prompt (to the text-only reasoner LLM): the description and the question; the reasoner
  is told to reason as if it could see the figure itself, and a one-shot example shows what that
  looks like (visual operations such as "looking back at the figure"), ending in \\boxed{}.
- Training prompt: built by `sophia_eval.bench.prompts.build_messages`, the same function the harness
  evaluates with, so the policy is trained on the prompt it will be tested on.

The wording is ours (the paper released no prompts). A recipe may replace either sampling prompt
(`PromptConfig`, section `prompts`); `prompt_version` hashes the prompts in use and is recorded with
every sample, so records made under different prompts are never mixed.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sophia_eval.bench import prompts as harness_prompts
from sophia_eval.bench.sample import Sample

if TYPE_CHECKING:
    from sophia_eval.sophia.config import PromptConfig

CAPTION_PROMPT = (
    "Describe the image in complete detail, as if for a reader who cannot see it and must solve "
    "a problem about it later without knowing the problem. Cover everything present:\n"
    "- all text, numbers, symbols, labels and formulas, transcribed exactly;\n"
    "- diagrams: every node and every edge or arrow, with labels and directions;\n"
    "- charts (bar, line, scatter, pie): axes, scales, ticks, legends, and the values of each series;\n"
    "- geometric figures: points, segments, angles, lengths, marks of equality, parallel or "
    "perpendicular lines, and how the shapes are positioned relative to one another;\n"
    "- tables, scenes, objects and people: what they are, how many, and where they are.\n"
    "Be precise and exhaustive; do not guess values that are not shown, and do not solve anything."
)

_ONE_SHOT = (
    "Example.\n"
    "Figure description: A right triangle ABC with the right angle at C. Side AC is labelled 6 "
    "and side BC is labelled 8. A point M is marked on AB with tick marks showing AM = MB.\n"
    "Question: What is the length of CM?\n"
    "Solution: Looking at the figure, the right angle sits at C, so AB is the hypotenuse. "
    "Reading the labels again: AC = 6 and BC = 8, hence AB = sqrt(6^2 + 8^2) = 10. The tick "
    "marks on AB show that M is its midpoint. Glancing back at the figure, CM joins the "
    "right-angle vertex to the midpoint of the hypotenuse, and in a right triangle that median "
    "equals half the hypotenuse. Checking: 10 / 2 = 5, consistent with the drawing, where CM "
    "looks shorter than BC. The answer is \\boxed{5}.\n"
)

REASONING_TEMPLATE = (
    "You will solve a problem about an image. You cannot see the image directly; instead you are "
    "given a detailed description of it. Reason as if you were looking at the image yourself: "
    "refer to what you see in the figure, look back at it when you need a detail, and verify your "
    "reading of it. Never mention that you were given a description. Think step by step and end "
    "with the final answer in \\boxed{{}}.\n\n"
    "{example}\n"
    "Now the real problem.\n"
    "Figure description: {caption}\n"
    "Question: {question}\n"
    "Solution:"
)



def _caption_prompt(custom: PromptConfig | None) -> str:
    return custom.caption if custom is not None and custom.caption is not None else CAPTION_PROMPT


def _reasoning_template(custom: PromptConfig | None) -> str:
    if custom is not None and custom.reasoning is not None:
        return custom.reasoning
    return REASONING_TEMPLATE.replace("{example}", _ONE_SHOT.replace("{", "{{").replace("}", "}}"))


def prompt_version(custom: PromptConfig | None = None) -> str:
    """Short hash of the caption prompt and reasoning template in use (the built-in prompts keep
    the hash they always had, so existing sampling directories still resume)."""
    if custom is None or (custom.caption is None and custom.reasoning is None):
        blob = CAPTION_PROMPT + REASONING_TEMPLATE + _ONE_SHOT
    else:
        blob = _caption_prompt(custom) + "\0" + _reasoning_template(custom)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


PROMPT_VERSION = prompt_version()
"""Version of the built-in prompts."""


def caption_messages(sample: Sample, custom: PromptConfig | None = None) -> list[dict[str, Any]]:
    """Chat for the policy: the item's image(s) and the caption instruction, never the question."""
    if not sample.images:
        raise ValueError(f"item {sample.id!r} ({sample.source}): a caption needs at least one image")
    parts: list[dict[str, Any]] = [{"type": "image", "image": img} for img in sample.images]
    parts.append({"type": "text", "text": _caption_prompt(custom)})
    return [{"role": "user", "content": parts}]


def _question_text(sample: Sample) -> str:
    """The question exactly as the harness would show it to the policy (template, options, hint),
    minus the images, so reasoner and policy see the same problem statement."""
    user = harness_prompts.build_messages(sample)[-1]["content"]
    return "\n".join(p["text"] for p in user if p.get("type") == "text").strip()


def reasoning_messages(sample: Sample, caption: str, custom: PromptConfig | None = None) -> list[dict[str, Any]]:
    """Chat for the text reasoner: the caption stands in for the image."""
    prompt = _reasoning_template(custom).format(caption=caption.strip(), question=_question_text(sample))
    return [{"role": "user", "content": prompt}]


def is_slow_thinking(trajectory: str) -> bool:
    """R1-style trajectory (`<think>...</think>` then a summary): trained under the slow-thinking
    system prompt, as in the paper."""
    return "</think>" in trajectory


def training_messages(sample: Sample, trajectory: str | None, *, system_prompt: str = "auto") -> list[dict[str, Any]]:
    """Original question + image(s) (harness prompt), then the trajectory as the assistant turn.

    `trajectory=None` gives the prompt alone (for generation). `system_prompt`: `auto` picks the
    slow-thinking prompt for `<think>` trajectories and the model default otherwise.
    """
    slow = system_prompt == "slow_thinking" or (
        system_prompt == "auto" and trajectory is not None and is_slow_thinking(trajectory))
    messages = list(harness_prompts.build_messages(sample, system_prompt="sophia_slow_thinking" if slow else None))
    if trajectory is not None:
        messages.append({"role": "assistant", "content": trajectory})
    return messages
