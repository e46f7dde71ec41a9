"""The verifier's word lists that the rest of the package reads: verdict statuses, which of them
are scored, the per-item metadata keys and the extraction policy names. Defined here once;
metrics, rewards, the harness, the judge, the benchmark schema and the CLI import them.

A scored status is a judgement on the model (`correct`, `incorrect`, `no_answer`); the others
(`bad_gold`, `timeout`, `error`) are failures of the benchmark, the verifier or the backend and are
left out of every metric, reward and count of right answers. (Answer kinds are the
`verify.kinds` table; units are `verify.normalize`'s.)
"""

STATUSES: tuple[str, ...] = ("correct", "incorrect", "no_answer", "bad_gold", "timeout", "error")
SCORED_STATUSES: frozenset[str] = frozenset({"correct", "incorrect", "no_answer"})
METADATA_KEYS: tuple[str, ...] = ("options", "answer_type", "tolerance", "rel_tolerance", "precision", "unit", "multiple")
"""Per-item answer metadata that `verify(...)` takes besides gold, pred, policy and timeout; a
benchmark item (`Sample.verify_kwargs`) and a stored record's `verify_kwargs` carry these keys."""
EXTRACTION_POLICIES: tuple[str, ...] = ("default", "choice", "last_number", "lenient", "strict")
"""Names accepted by `verify.get_policy` and by a benchmark's `extraction:` key."""
