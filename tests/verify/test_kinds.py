"""The answer-kind table (`verify/kinds.py`) is the single source of answer kinds: every row fills
every role, every reader takes its kinds from it, nothing else dispatches on `answer_type`, and a
kind added to the table alone works end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import sophia_eval
from sophia_eval.bench.prompts import build_messages
from sophia_eval.bench.sample import Sample
from sophia_eval.verify import Verdict, check_gold, verify
from sophia_eval.verify.compare import FORMS
from sophia_eval.verify.judges import Found, no_gold_problem
from sophia_eval.verify.kinds import ANSWER_TYPES, KINDS, AnswerKind, answer_instruction
from sophia_eval.verify.types import Request, make_request
from sophia_eval.verify.vocab import EXTRACTION_POLICIES

PACKAGE = Path(sophia_eval.__file__).parent
CASES_DIR = Path(__file__).parent / "cases"


def _user_text(sample: Sample) -> str:
    return build_messages(sample)[-1]["content"][-1]["text"]


@pytest.mark.parametrize("name", list(KINDS))
def test_every_row_fills_every_role(name: str) -> None:
    row = KINDS[name]
    assert row.name == name and row.description.strip()
    assert callable(row.gold_check) and callable(row.compare)
    for unit in (None, "cm"):
        text = row.instruction(unit)
        assert isinstance(text, str) and "\\boxed{" in text
    assert row.extraction in EXTRACTION_POLICIES
    assert row.form is None or row.form in FORMS
    assert not (row.choice and row.self_check), "a choice gold is letters: nothing to parse"


def test_answer_types_are_the_table_everywhere() -> None:
    from sophia_eval.bench import loading
    from sophia_eval.cli import verify_cmd
    from sophia_eval.verify import ANSWER_TYPES as public
    from sophia_eval.verify import types

    assert ANSWER_TYPES == tuple(KINDS)
    for reader in (public, types.ANSWER_TYPES, verify_cmd.ANSWER_TYPES):
        assert reader is ANSWER_TYPES
    assert loading.KINDS is KINDS  # the loader reads the table per split, so a kind added to it is accepted


def test_requests_accept_exactly_the_table_kinds() -> None:
    for name in KINDS:
        assert make_request(gold="1", pred="1", answer_type=name.upper()).answer_type == name
    for name in ("number", "choices", "", "roman"):
        with pytest.raises(ValueError, match="answer_type must be one of"):
            make_request(gold="1", pred="1", answer_type=name)


@pytest.mark.parametrize("name", list(KINDS))
def test_prompt_asks_for_the_kinds_instruction(name: str) -> None:
    options = ("3", "4", "5") if KINDS[name].choice else ()
    sample = Sample(benchmark="t", id="1", question="What is x?", answer="A", options=options, answer_type=name)
    assert _user_text(sample).endswith(KINDS[name].instruction(None))


def test_prompt_without_a_choice_kind_asks_for_a_letter_when_there_are_options() -> None:
    letter = KINDS["choice"].instruction(None)
    assert answer_instruction("numeric", unit=None, has_options=True) == letter
    assert answer_instruction(None, unit=None, has_options=True) == letter
    assert answer_instruction(None, unit="m", has_options=False) == KINDS["numeric"].instruction("m")


def test_every_kind_has_case_rows() -> None:
    seen = set()
    for path in CASES_DIR.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.add(json.loads(line)["meta"].get("answer_type"))
    assert set(KINDS) <= seen, f"kinds without a case row in {CASES_DIR}: {sorted(set(KINDS) - seen)}"


# `answer_type` compared with a literal or tested for membership: a dispatch outside the table
_DISPATCH_RE = re.compile(r"answer_type\s*(?:==|!=|\bin\s*[(\[{])")


def test_no_code_dispatches_on_answer_type_outside_the_table() -> None:
    hits = [f"{path.relative_to(PACKAGE)}:{i}: {line.strip()}"
            for path in sorted(PACKAGE.rglob("*.py"))
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if _DISPATCH_RE.search(line)]
    assert hits == []


def _roman(f: Found) -> Verdict:
    got, want = f.cands[-1].strip().upper(), f.req.gold.strip().upper()
    ok = got == want
    return Verdict("correct" if ok else "incorrect", ok, extracted=f.cands[-1], method="roman")


def _roman_gold(req: Request, kind: str) -> str | None:
    return None if re.fullmatch(r"[IVXLCDM]+", req.gold.strip().upper()) else f"{kind} gold must be a Roman numeral"


def test_a_kind_added_to_the_table_alone_works_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    ask = "Write the answer as a Roman numeral in \\boxed{}, e.g. \\boxed{XIV}."
    toy = AnswerKind("roman", "a Roman numeral, any case", _roman_gold, _roman, lambda unit: ask, self_check=False)
    monkeypatch.setitem(KINDS, "roman", toy)
    sample = Sample(benchmark="t", id="1", question="How many?", answer="XIV", answer_type="roman")

    assert _user_text(sample).endswith(ask)
    assert check_gold(gold=sample.answer, answer_type="roman") is None
    assert "Roman numeral" in (check_gold(gold="14", answer_type="roman") or "")
    right = verify(gold=sample.answer, pred="It is $\\boxed{xiv}$.", **sample.verify_kwargs())
    wrong = verify(gold=sample.answer, pred="It is $\\boxed{XV}$.", **sample.verify_kwargs())
    assert (right.status, right.method) == ("correct", "roman")
    assert (wrong.status, wrong.method) == ("incorrect", "roman")
    assert verify(gold="14", pred="\\boxed{XIV}", answer_type="roman").status == "bad_gold"


def test_a_maths_kind_row_reuses_the_comparator(monkeypatch: pytest.MonkeyPatch) -> None:
    base = KINDS["percent"]
    monkeypatch.setitem(KINDS, "share", AnswerKind("share", "a share", no_gold_problem, base.compare,
                                                   base.instruction, form="percent"))
    assert verify(gold="25", pred="\\boxed{0.25}", answer_type="share").status == "correct"
    assert verify(gold="25", pred="\\boxed{0.25}", answer_type="numeric").status == "incorrect"
