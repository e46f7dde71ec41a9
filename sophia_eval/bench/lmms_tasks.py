"""lmms-eval task names -> our `name:split` references, so `--tasks mathvision_testmini` works.

Each entry says how the two relate; a mapping that is not exact says so in its note, and the CLI
prints the note. Names that are already ours (`mathvision`, `mathvision:testmini`) pass through.
"""

from __future__ import annotations

_MATHVERSE_VERSIONS = ("text_dominant", "text_lite", "vision_intensive", "vision_dominant", "vision_only", "text_only")

LMMS_TASKS: dict[str, tuple[str, str]] = {
    "mathvision_test": ("mathvision:test", ""),
    "mathvision_testmini": ("mathvision:testmini", ""),
    "mathvision_reason_test": ("mathvision:test", "lmms-eval's reasoning prompt differs from ours; items are the same"),
    "mathvision_reason_testmini": ("mathvision:testmini", "lmms-eval's reasoning prompt differs from ours; items are the same"),
    "mathvista_testmini": ("mathvista:testmini", ""),
    "mathvista_testmini_cot": ("mathvista:testmini", "lmms-eval's chain-of-thought prompt variant; same items, our prompt"),
    "mathvista_testmini_format": ("mathvista:testmini", "lmms-eval's format-prompt variant; same items, our prompt"),
    "mathvista_testmini_solution": ("mathvista:testmini", "lmms-eval's solution-prompt variant; same items, our prompt"),
    "mathverse_testmini": (",".join(f"mathverse:testmini_{v}" for v in _MATHVERSE_VERSIONS),
                           "lmms-eval's group of all six problem versions; run here as six benchmarks, one per version"),
    **{f"mathverse_testmini_{v}": (f"mathverse:testmini_{v}", "") for v in _MATHVERSE_VERSIONS},
    "olympiadbench_test": ("olympiadbench:open_ended", "nearest split: every open-ended config (maths + physics, en + zh); "
                           "lmms-eval's task may select a different subset, so numbers are not directly comparable"),
    "olympiadbench_test_en": ("olympiadbench:oe_mm_maths_en_comp", "nearest split: multimodal English competition maths; "
                              "lmms-eval's English task also holds physics"),
    "olympiadbench_OE_MM_maths_en_COMP": ("olympiadbench:oe_mm_maths_en_comp", ""),
    "wemath_testmini": ("wemath:testmini", ""),
    "dynamath": ("dynamath:test", ""),
    "logicvista": ("logicvista:test", ""),
    "mmmu_val": ("mmmu:validation", ""),
    "mmmu_pro_standard": ("mmmu_pro:standard", ""),
    "mmmu_pro_vision": ("mmmu_pro:vision", ""),
}
"""lmms-eval task name -> (our reference(s), note; empty when the items are the same)."""


def resolve_task(ref: str) -> tuple[str, str | None]:
    """Our reference for `ref`, and a note to print when it was an lmms-eval task name."""
    if ref in LMMS_TASKS:
        ours, note = LMMS_TASKS[ref]
        return ours, f"lmms-eval task {ref} -> {ours}" + (f" ({note})" if note else "")
    return ref, None
