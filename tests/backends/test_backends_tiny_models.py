"""The tiny test models reload with the real loaders and generate on CPU."""

from __future__ import annotations

import pytest

from sophia_eval.backends.hf_loading import load_processor


def _vlm_inputs(path, image):
    processor = load_processor(str(path))
    conv = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "2+3?"}]}]
    return processor, processor.apply_chat_template(
        [conv], add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )


@pytest.mark.parametrize("fixture", ["tiny_qwen2vl", "tiny_qwen25vl", "tiny_llava"])
def test_tiny_vlm_generates_from_an_image(fixture, tiny_image, request):
    from transformers import AutoModelForImageTextToText

    path = request.getfixturevalue(fixture)
    _, inputs = _vlm_inputs(path, tiny_image)
    model = AutoModelForImageTextToText.from_pretrained(path)
    out = model.generate(**inputs, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 3


def test_qwen2vl_processor_marks_image_tokens(tiny_qwen2vl, tiny_image):
    processor, inputs = _vlm_inputs(tiny_qwen2vl, tiny_image)
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert inputs["mm_token_type_ids"].bool().equal(inputs["input_ids"] == image_id)


def test_tiny_text_model_generates(tiny_text_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_text_model)
    enc = tok.apply_chat_template(
        [{"role": "user", "content": "What is 2+3?"}], add_generation_prompt=True, return_tensors="pt",
        return_dict=True,
    )
    model = AutoModelForCausalLM.from_pretrained(tiny_text_model)
    out = model.generate(**enc, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 4


def test_tiny_tokenizer_round_trips_latex(tiny_text_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_text_model)
    text = "Answer: \\boxed{\\frac{1}{2}} — π ≈ 3.14"
    assert tok.decode(tok(text)["input_ids"]) == text


def test_legacy_chat_template_json_is_used_by_the_no_torchvision_fallback(tiny_qwen2vl, tmp_path):
    import json
    import shutil

    model = shutil.copytree(tiny_qwen2vl, tmp_path / "m")
    (model / "chat_template.jinja").unlink()
    (model / "chat_template.json").write_text(json.dumps({"chat_template": "LEGACY{{ messages[0]['role'] }}"}))
    processor = load_processor(str(model))
    assert processor.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False) == "LEGACYuser"
