"""Answer verification: is a model's answer equal to the gold answer? (pure Python + sympy).

extract (policy) -> normalise -> compare (numbers exactly, then structure, then sympy in a
killable worker process). Re-exports only; see docs/CONTRACTS.md.
"""

from sophia_eval.verify.api import check_gold, verify, verify_many
from sophia_eval.verify.extract import ExtractionPolicy, extract_answer, get_policy
from sophia_eval.verify.pool import VerifierPool
from sophia_eval.verify.types import ANSWER_TYPES, VERIFIER_VERSION, Verdict

__all__ = [
    "ANSWER_TYPES",
    "VERIFIER_VERSION",
    "ExtractionPolicy",
    "Verdict",
    "VerifierPool",
    "check_gold",
    "extract_answer",
    "get_policy",
    "verify",
    "verify_many",
]
