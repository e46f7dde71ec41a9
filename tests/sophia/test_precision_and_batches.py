"""Precision and batch arithmetic of the update: a bf16 checkpoint trains with float32 master
weights (an lr 2e-5 AdamW step changes nearly every weight, where bf16 parameters round most of
it away) and is saved back in bf16; the final partial global batch of an epoch is trained;
DeepSpeed's hidden-size bucket keys come from the text config of composite VLM configs."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from sophia_helpers import make_examples
from sophia_eval.sophia.config import TrainConfig
from sophia_eval.sophia.trainer import fill_deepspeed_buckets, freeze_vision, full_numel, padded_share, train


@pytest.fixture(scope="module")
def bf16_text_model(tiny_text_model, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("bf16") / "tiny-qwen2-bf16"
    shutil.copytree(tiny_text_model, out)
    AutoModelForCausalLM.from_pretrained(tiny_text_model).to(torch.bfloat16).save_pretrained(out)
    return out


def test_bf16_checkpoint_trains_with_fp32_updates(bf16_text_model, tmp_path):
    config = TrainConfig(model=str(bf16_text_model), output_dir=str(tmp_path), lr=2e-5, global_batch_size=2,
                         micro_batch_size=2, max_steps=2, save_every=1, mixed_precision="no",
                         gradient_checkpointing=False)
    result = train(config, make_examples(None, 4))
    before = load_file(bf16_text_model / "model.safetensors")
    assert before["model.layers.0.mlp.up_proj.weight"].dtype == torch.bfloat16
    # the optimizer's weights after step 1 (Accelerate state: the master copy, as trained)
    master = torch.load(tmp_path / "checkpoint-1" / "accelerate" / "pytorch_model.bin", weights_only=True)
    layers = [k for k in before if k.startswith("model.layers.") and k.endswith("proj.weight")]
    assert layers and all(master[k].dtype == torch.float32 for k in layers)
    changed = sum(int((master[k] != before[k].float()).sum()) for k in layers)
    total = sum(before[k].numel() for k in layers)
    assert changed / total > 0.95, f"only {changed / total:.1%} of weights moved at lr 2e-5"
    # the final model is saved back in the checkpoint's dtype
    final = load_file(result.final_dir / "model.safetensors")
    assert final["model.layers.0.mlp.up_proj.weight"].dtype == torch.bfloat16
    assert json.loads((result.final_dir / "config.json").read_text())["dtype"] == "bfloat16"


def test_final_partial_global_batch_is_trained(tiny_text_model, tmp_path):
    config = TrainConfig(model=str(tiny_text_model), output_dir=str(tmp_path), lr=1e-4, global_batch_size=4,
                         micro_batch_size=2, epochs=1, gradient_checkpointing=False)
    result = train(config, make_examples(None, 6))  # one full batch of 4, then 2 left over
    assert result.steps == 2 and len(result.losses) == 2 and result.losses[1] > 0


def test_padded_share_gives_every_process_the_same_number_of_slots():
    # a last batch of 3 over 2 processes x 2 slots: rank 1 gets one real example and one zero-weight copy
    assert padded_share([7, 8, 9], 0, 2, 2) == [(7, True), (9, True)]
    assert padded_share([7, 8, 9], 1, 2, 2) == [(8, True), (7, False)]
    assert padded_share([7], 1, 2, 1) == [(7, False)]


def test_deepspeed_buckets_come_from_the_text_config(tiny_qwen25vl, tiny_internvl):
    from transformers import AutoConfig

    for path in (tiny_qwen25vl, tiny_internvl):
        cfg = AutoConfig.from_pretrained(path)
        ds = json.loads(open("train/accelerate/ds_zero3.json").read())
        filled = fill_deepspeed_buckets(ds, cfg)
        assert ds["zero_optimization"]["reduce_bucket_size"] == 64 * 64  # text hidden size 64
        assert ds["zero_optimization"]["stage3_param_persistence_threshold"] == 640
        assert set(filled) == {"reduce_bucket_size", "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold"}


def test_deepspeed_integer_buckets_are_kept():
    ds = {"zero_optimization": {"reduce_bucket_size": 123, "stage3_prefetch_bucket_size": 5,
                                "stage3_param_persistence_threshold": 7}}
    assert fill_deepspeed_buckets(ds, object()) == {} and ds["zero_optimization"]["reduce_bucket_size"] == 123


def test_frozen_count_uses_the_full_size_of_zero3_partitioned_params(tiny_qwen2vl):
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(tiny_qwen2vl)
    full = sum(p.numel() for n, p in model.named_parameters() if n.startswith("model.visual."))
    for p in model.parameters():  # what ZeRO-3 leaves locally: an empty shard + the full size
        p.ds_numel = p.numel()
        p.data = torch.empty(0)
    assert freeze_vision(model) == full > 0
    assert full_numel(torch.nn.Parameter(torch.zeros(3, 2))) == 6
