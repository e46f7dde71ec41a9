"""The update on tiny models of the real VLM classes of the recipe (InternVL-hf with tiling,
Qwen2.5-VL, LLaVA-OneVision with anyres): the processor loads without torchvision with its saved
settings, examples encode, two images of different tile counts collate into one micro-batch, one
training step runs with the tower frozen, and the saved model and processor reload."""

import json

import pytest
import torch
from safetensors.torch import load_file

from sophia_eval.backends.hf_loading import load_processor
from sophia_eval.sophia.config import TrainConfig
from sophia_eval.sophia.dataset import TrainExample, collate, encode
from sophia_eval.sophia.trainer import _is_vision_param, load_policy, train

CLASSES = {  # fixture -> model class name
    "tiny_internvl": "InternVLForConditionalGeneration",
    "tiny_qwen25vl": "Qwen2_5_VLForConditionalGeneration",
    "tiny_llava_onevision": "LlavaOnevisionForConditionalGeneration",
}


def _examples(images):
    return [TrainExample(id=str(i), messages=(
        {"role": "user", "content": [{"type": "image", "image": str(img)}, {"type": "text", "text": f"What is {i}+3?"}]},
        {"role": "assistant", "content": f"The answer is \\boxed{{{i + 3}}}."})) for i, img in enumerate(images)]


@pytest.fixture(params=sorted(CLASSES))
def vlm(request):
    return request.param, request.getfixturevalue(request.param)


def test_processor_loads_with_saved_settings(tiny_internvl, tiny_llava_onevision):
    internvl = load_processor(str(tiny_internvl))
    assert internvl.image_seq_length == 1  # processor_config.json, not the class default 256
    onevision = load_processor(str(tiny_llava_onevision))
    assert onevision.num_image_tokens == 4 and onevision.vision_feature_select_strategy == "full"


def test_micro_batch_of_two_images_with_different_tile_counts(vlm, image_path, second_image_path):
    name, path = vlm
    model, processor = load_policy(str(path))
    assert type(model).__name__ == CLASSES[name]
    encs = [encode(processor, ex) for ex in _examples([image_path, second_image_path])]
    batch = collate(encs, pad_token_id=0)
    assert batch["input_ids"].shape[0] == 2
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        batched = model(**inputs).logits
        alone = model(**{k: v for k, v in encs[1].items() if k != "labels"}).logits
    # the second (right-padded) row equals the example run alone: padding changed nothing
    n = alone.shape[1]
    assert torch.allclose(batched[1, :n], alone[0], atol=1e-4)


def test_one_step_with_frozen_tower_then_reload(vlm, image_path, second_image_path, tmp_path):
    name, path = vlm
    config = TrainConfig(model=str(path), output_dir=str(tmp_path / "out"), lr=1e-3, global_batch_size=2,
                         micro_batch_size=2, max_steps=1, gradient_checkpointing=False)
    result = train(config, _examples([image_path, second_image_path]))
    before, after = load_file(path / "model.safetensors"), load_file(result.final_dir / "model.safetensors")
    vision = [k for k in before if _is_vision_param(k)]
    lm = [k for k in before if not _is_vision_param(k) and "layers" in k]
    assert vision and all(torch.equal(before[k], after[k]) for k in vision)
    assert any(not torch.equal(before[k], after[k]) for k in lm)
    model, processor = load_policy(str(result.final_dir))
    assert type(model).__name__ == CLASSES[name]
    saved = json.loads((result.final_dir / "processor_config.json").read_text())
    assert saved == json.loads((path / "processor_config.json").read_text())
    assert encode(processor, _examples([image_path])[0])["input_ids"].shape[1] > 0


@pytest.mark.parametrize("fixture", ["tiny_internvl", "tiny_llava_onevision"])
def test_harness_backend_generates_with_the_fallback_processor(fixture, image_path, request):
    from sophia_eval.backends import make_generator
    from sophia_eval.backends.base import GenerationConfig

    gen = make_generator("transformers", str(request.getfixturevalue(fixture)))
    out = gen.generate([[{"role": "user", "content": [{"type": "image", "image": str(image_path)},
                                                      {"type": "text", "text": "What is 1+3?"}]}]],
                       GenerationConfig(n=1, temperature=0, max_new_tokens=4))
    assert out[0][0].finish_reason in ("stop", "length") and out[0][0].completion_tokens, out[0][0].error
