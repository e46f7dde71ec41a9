"""Objective: prompt masking, reward weighting, clipped-IS equivalence at ratio 1, reductions."""

import pytest
import torch

from sophia_helpers import make_examples
from sophia_eval.backends.hf_loading import load_processor
from sophia_eval.sophia.dataset import IGNORE_INDEX, collate, encode
from sophia_eval.sophia.objective import ClippedIS, RewardWeightedNLL, reduce_loss, token_logprobs


def test_prompt_tokens_are_masked_and_answer_tokens_are_targets(tiny_qwen2vl, image_path):
    processor = load_processor(str(tiny_qwen2vl))
    ex = make_examples(image_path, 1)[0]
    enc = encode(processor, ex)
    target = processor.tokenizer.decode(enc["input_ids"][0][enc["labels"][0] != IGNORE_INDEX])
    assert target.startswith("The answer is \\boxed{3}.")


def test_text_only_model_encodes_with_its_tokenizer(tiny_text_model):
    processor = load_processor(str(tiny_text_model))
    enc = encode(processor, make_examples(None, 1)[0])
    assert (enc["labels"] != IGNORE_INDEX).sum() > 0 and enc["labels"][0, 0] == IGNORE_INDEX


def test_collate_pads_tokens_and_concatenates_pixels(tiny_qwen2vl, image_path):
    processor = load_processor(str(tiny_qwen2vl))
    encs = [encode(processor, ex) for ex in make_examples(image_path, 2)] + [
        encode(processor, make_examples(None, 1)[0])]
    batch = collate(encs, pad_token_id=0)
    assert (batch["input_ids"].shape[0], batch["pixel_values"].shape[0]) == (
        3, sum(e["pixel_values"].shape[0] for e in encs[:2]))


def _toy(weight):
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7, requires_grad=True)
    labels = torch.tensor([[IGNORE_INDEX, IGNORE_INDEX, 3, 4, 1], [IGNORE_INDEX, 2, 2, 6, IGNORE_INDEX]])
    return logits, labels, {"weight": torch.tensor(weight)}


def test_token_logprobs_mask_matches_shifted_labels():
    logits, labels, _ = _toy([1.0, 1.0])
    _, mask = token_logprobs(logits, labels)
    assert mask.tolist() == [[False, True, True, True], [True, True, True, False]]


def test_zero_reward_trajectory_gets_no_gradient():
    logits, labels, batch = _toy([1.0, 0.0])
    logp, mask = token_logprobs(logits, labels)
    RewardWeightedNLL()(logp, mask, batch).sum().backward()
    assert logits.grad[1].abs().sum() == 0 and logits.grad[0].abs().sum() > 0


def test_clipped_is_gradient_equals_reward_nll_at_ratio_one():
    grads = []
    for objective in (RewardWeightedNLL(), ClippedIS(0.2)):
        logits, labels, batch = _toy([1.0, 0.5])
        logp, mask = token_logprobs(logits, labels)
        batch["old_logprobs"] = logp.detach()
        objective(logp, mask, batch).sum().backward()
        grads.append(logits.grad)
    assert torch.allclose(grads[0], grads[1])


def test_clipped_is_without_old_logprobs_names_the_fix():
    logits, labels, batch = _toy([1.0, 1.0])
    logp, mask = token_logprobs(logits, labels)
    with pytest.raises(ValueError, match="reward_nll"):
        ClippedIS()(logp, mask, batch)


def test_token_reduction_does_not_depend_on_how_the_batch_is_split():
    logits, labels, batch = _toy([1.0, 1.0])
    logp, mask = token_logprobs(logits, labels)
    per_tok = RewardWeightedNLL()(logp, mask, batch)
    whole = reduce_loss(per_tok, mask, "token", global_tokens=int(mask.sum()), global_sequences=2)
    halves = sum(reduce_loss(per_tok[i:i + 1], mask[i:i + 1], "token", global_tokens=int(mask.sum()),
                             global_sequences=2) for i in range(2))
    assert torch.allclose(whole, halves) and torch.allclose(whole, per_tok.sum() / mask.sum())


def test_sequence_reduction_averages_per_sequence_means():
    logits, labels, batch = _toy([1.0, 1.0])
    logp, mask = token_logprobs(logits, labels)
    per_tok = RewardWeightedNLL()(logp, mask, batch)
    expected = (per_tok[0].sum() / 3 + per_tok[1].sum() / 3) / 2
    assert torch.allclose(reduce_loss(per_tok, mask, "sequence", global_tokens=0, global_sequences=2), expected)


def test_chunked_logprobs_match_a_plain_log_softmax_in_value_and_gradient(monkeypatch):
    from sophia_eval.sophia import objective

    monkeypatch.setattr(objective, "LOGPROB_CHUNK", 3)
    torch.manual_seed(0)
    logits = torch.randn(2, 9, 11, requires_grad=True)
    labels = torch.randint(0, 11, (2, 9))
    labels[0, :3] = IGNORE_INDEX
    logp, mask = token_logprobs(logits, labels)
    logp.sum().backward()
    chunked_grad, logits.grad = logits.grad.clone(), None
    ref = torch.log_softmax(logits[:, :-1], -1).gather(-1, labels[:, 1:].clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    ref.sum().backward()
    assert torch.allclose(logp, ref) and torch.allclose(chunked_grad, logits.grad)


def test_policy_without_chat_template_is_a_clear_error(tiny_text_model):
    processor = load_processor(str(tiny_text_model))
    processor.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        encode(processor, make_examples(None, 1)[0])


def test_template_that_strips_the_reasoning_is_refused(tiny_text_model):
    processor = load_processor(str(tiny_text_model))
    # Qwen3/QwQ-style: assistant content is rendered without what precedes </think>.
    processor.chat_template = processor.chat_template.replace(
        "{{ message['content'] }}", "{{ message['content'].split('</think>')[-1] }}")
    ex = make_examples(None, 1)[0]
    ex = type(ex)(id="t", messages=(ex.messages[0], {"role": "assistant", "content": "<think>a long thought</think> 4"}))
    with pytest.raises(ValueError, match="rewrote the assistant turn"):
        encode(processor, ex)
