"""Tiny randomly initialised models, built and saved locally for tests (no hub, no network).

Each `build_*` function writes a complete Hugging Face model directory (config, weights,
tokenizer and, for VLMs, processor with a chat template) under `root` and returns its path, so
tests exercise the real `from_pretrained` / chat-template / `generate` code paths on CPU.
Weights are random: outputs are gibberish, but shapes, padding, image tokens and token counts
are real. Each build takes well under a second.

Tokenizers are byte-level BPE trained on a handful of strings, so any text (including LaTeX and
non-ASCII) round-trips and no token is ever unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Special tokens shared by the Qwen-style models (ChatML plus Qwen2-VL vision markers).
_QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
_LLAVA_SPECIALS = ["<s>", "</s>", "<pad>", "<image>"]

_CORPUS = [
    "What is 2 + 3? The answer is \\boxed{5}.",
    "Solve for x: 2x + 4 = 10, so x = 3. Final answer: \\boxed{3}",
    "The image shows a triangle with sides 3, 4 and 5; its area is 6.",
    "Choose the correct option (A) (B) (C) (D) (E). Answer: B",
    "Let f(x) = x^2 - 1. Then f(2) = 3 and \\frac{1}{2} + \\sqrt{4} = 2.5",
    "system user assistant You are a helpful assistant. Think step by step.",
]

# ChatML with Qwen2-VL image markers; string content or a list of text/image parts.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or part['type'] == 'image_url' %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Vicuna-style LLaVA-1.5 template: images become `<image>` placeholders the processor expands.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] if message['content'] is string "
    "else message['content'][0]['text'] }} "
    "{% else %}{{ message['role'].upper() }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or part['type'] == 'image_url' %}<image>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}</s>{% endif %} "
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def _bpe_tokenizer(specials: list[str], *, vocab_size: int = 400, **fast_kwargs: Any):
    """A byte-level BPE `PreTrainedTokenizerFast` trained in a few milliseconds on `_CORPUS`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **fast_kwargs)


def _qwen_tokenizer():
    tokenizer = _bpe_tokenizer(
        _QWEN_SPECIALS, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left"
    )
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    return tokenizer


def _text_dims(vocab: int) -> dict[str, Any]:
    # head_dim 32 (hidden 64 / 2 heads): vLLM CPU kernels need head_dim >= 32.
    return dict(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
    )


def build_text_model(root: str | Path, name: str = "tiny-qwen2") -> Path:
    """A tiny Qwen2 causal LM (text only) with a ChatML chat template; returns its directory."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(root) / name
    tokenizer = _qwen_tokenizer()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen2Config(
        **_text_dims(len(tokenizer)), eos_token_id=eos, pad_token_id=pad, bos_token_id=pad,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad, bos_token_id=pad)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _save_qwen_vl_processor(out: Path, processor_class: str, tokenizer) -> None:
    """Write processor files as a real Qwen-VL checkpoint has them (minus the video processor).

    Built from parts rather than `Qwen2VLProcessor(...)`: without torchvision its constructor
    rejects the missing video processor; `sophia_eval.backends.hf_loading.load_processor`
    reassembles it at load time.
    """
    import json

    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    # Small pixel budget: a test image becomes a handful of vision tokens (28x28 -> 1 token).
    image_processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": 28 * 28, "longest_edge": 56 * 56}, patch_size=14, merge_size=2,
        temporal_patch_size=2,
    )
    image_processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "processor_config.json").write_text(json.dumps({"processor_class": processor_class}), encoding="utf-8")
    (out / "chat_template.jinja").write_text(QWEN_CHAT_TEMPLATE, encoding="utf-8")


def _build_qwen_vl(root: str | Path, name: str, *, v25: bool) -> Path:
    import torch
    from transformers import GenerationConfig

    if v25:
        from transformers import Qwen2_5_VLConfig as Config
        from transformers import Qwen2_5_VLForConditionalGeneration as Model
    else:
        from transformers import Qwen2VLConfig as Config
        from transformers import Qwen2VLForConditionalGeneration as Model

    out = Path(root) / name
    tokenizer = _qwen_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _QWEN_SPECIALS}
    eos, pad = ids["<|im_end|>"], ids["<|endoftext|>"]
    text_config = dict(
        **_text_dims(len(tokenizer)), eos_token_id=eos, pad_token_id=pad, bos_token_id=pad,
        # M-RoPE splits head_dim/2 = 16 rotary frequencies over (time, height, width).
        rope_parameters={"rope_type": "default", "mrope_section": [4, 6, 6], "rope_theta": 10000.0},
    )
    vision_config: dict[str, Any] = dict(
        depth=1, embed_dim=32, num_heads=2, hidden_size=64, patch_size=14, spatial_merge_size=2,
        temporal_patch_size=2, in_channels=3,
    )
    if v25:
        vision_config.update(intermediate_size=64, out_hidden_size=64, window_size=56, fullatt_block_indexes=[0])
    config = Config(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = Model(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad, bos_token_id=pad)
    model.save_pretrained(out)
    _save_qwen_vl_processor(out, "Qwen2_5_VLProcessor" if v25 else "Qwen2VLProcessor", tokenizer)
    return out


def build_qwen2vl(root: str | Path, name: str = "tiny-qwen2vl") -> Path:
    """A tiny Qwen2-VL (vision tower + Qwen2 text model) with its PIL image processor."""
    return _build_qwen_vl(root, name, v25=False)


def build_qwen25vl(root: str | Path, name: str = "tiny-qwen25vl") -> Path:
    """A tiny Qwen2.5-VL (windowed-attention vision tower) with its PIL image processor."""
    return _build_qwen_vl(root, name, v25=True)


def build_llava(root: str | Path, name: str = "tiny-llava") -> Path:
    """A tiny LLaVA (CLIP vision tower + Llama text model) with processor and chat template."""
    import torch
    from transformers import GenerationConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    out = Path(root) / name
    tokenizer = _bpe_tokenizer(
        _LLAVA_SPECIALS, bos_token="<s>", eos_token="</s>", pad_token="<pad>", padding_side="left",
        extra_special_tokens={"image_token": "<image>"},
    )
    tokenizer.chat_template = LLAVA_CHAT_TEMPLATE
    bos, eos, pad = (tokenizer.convert_tokens_to_ids(t) for t in ("<s>", "</s>", "<pad>"))
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    image_size, patch = 28, 14
    config = LlavaConfig(
        text_config=dict(model_type="llama", **_text_dims(len(tokenizer)), bos_token_id=bos, eos_token_id=eos,
                         pad_token_id=pad),
        vision_config=dict(
            model_type="clip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, image_size=image_size, patch_size=patch, projection_dim=32,
        ),
        image_token_id=image_token,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad, bos_token_id=bos)
    model.save_pretrained(out)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
    )
    # "default" strategy drops CLS: (28/14)^2 = 4 image tokens per image.
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=LLAVA_CHAT_TEMPLATE,
        patch_size=patch, vision_feature_select_strategy="default", num_additional_image_tokens=1,
        image_token="<image>",
    )
    processor.save_pretrained(out)
    return out


def _save_processor_files(out: Path, tokenizer, image_processor, settings: dict[str, Any], template: str) -> None:
    """Processor files as the real checkpoint lays them out: `processor_config.json` with the
    processor class AND its saved settings (e.g. LLaVA-OneVision's `num_image_tokens`), written from
    parts because these processors refuse to be built without a video processor (torchvision)."""
    import json

    image_processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "processor_config.json").write_text(json.dumps(settings), encoding="utf-8")
    (out / "chat_template.jinja").write_text(template, encoding="utf-8")


# InternVL-hf wraps each image as <img><IMG_CONTEXT>...</img>; the template writes one <IMG_CONTEXT>
# placeholder that the processor expands per tile.
INTERNVL_CHAT_TEMPLATE = QWEN_CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", "<IMG_CONTEXT>\n")
_INTERNVL_SPECIALS = [*_QWEN_SPECIALS, "<img>", "</img>", "<IMG_CONTEXT>", "<video>"]


def build_internvl(root: str | Path, name: str = "tiny-internvl-hf") -> Path:
    """A tiny InternVL-hf (InternVL3 class: InternViT tower, pixel-shuffle projector, Qwen2 LM) whose
    image processor tiles images (crop_to_patches), like OpenGVLab/InternVL3-8B-hf."""
    import torch
    from transformers import GenerationConfig, InternVLConfig, InternVLForConditionalGeneration
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    out = Path(root) / name
    tokenizer = _bpe_tokenizer(
        _INTERNVL_SPECIALS, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left",
        extra_special_tokens={"start_image_token": "<img>", "end_image_token": "</img>",
                              "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"},
    )
    tokenizer.chat_template = INTERNVL_CHAT_TEMPLATE
    eos, pad = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")
    tile, patch = 28, 14  # a tile is 2x2 patches; pixel shuffle (0.5) makes it 1 image token
    config = InternVLConfig(
        text_config=dict(model_type="qwen2", **_text_dims(len(tokenizer)), eos_token_id=eos, pad_token_id=pad,
                         bos_token_id=pad),
        vision_config=dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                           image_size=[tile, tile], patch_size=[patch, patch]),
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"), image_seq_length=1, downsample_ratio=0.5,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = InternVLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad, bos_token_id=pad)
    model.save_pretrained(out)
    image_processor = GotOcr2ImageProcessorPil(size={"height": tile, "width": tile}, crop_to_patches=True,
                                               min_patches=1, max_patches=4)
    _save_processor_files(out, tokenizer, image_processor,
                          {"processor_class": "InternVLProcessor", "image_seq_length": 1}, INTERNVL_CHAT_TEMPLATE)
    return out


# LLaVA-OneVision's Qwen2 template writes one <image> per image; the processor expands it (anyres).
LLAVA_ONEVISION_CHAT_TEMPLATE = QWEN_CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", "<image>\n")


def build_llava_onevision(root: str | Path, name: str = "tiny-llava-onevision") -> Path:
    """A tiny LLaVA-OneVision (SigLIP tower, anyres tiling: images of different shapes get different
    patch counts) with the saved processor settings of the real checkpoints."""
    import torch
    from transformers import GenerationConfig, LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration
    from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (
        LlavaOnevisionImageProcessorPil,
    )

    out = Path(root) / name
    tokenizer = _bpe_tokenizer(
        [*_QWEN_SPECIALS, "<image>", "<video>"], eos_token="<|im_end|>", pad_token="<|endoftext|>",
        padding_side="left", extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
    )
    tokenizer.chat_template = LLAVA_ONEVISION_CHAT_TEMPLATE
    eos, pad = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")
    side, patch = 28, 14
    pinpoints = [[side, side], [side, 2 * side], [2 * side, side], [2 * side, 2 * side]]
    config = LlavaOnevisionConfig(
        text_config=dict(model_type="qwen2", **_text_dims(len(tokenizer)), eos_token_id=eos, pad_token_id=pad,
                         bos_token_id=pad),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64,
                           num_hidden_layers=1, num_attention_heads=2, image_size=side, patch_size=patch),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        vision_feature_select_strategy="full", vision_feature_layer=-1, image_grid_pinpoints=pinpoints,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlavaOnevisionForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad, bos_token_id=pad)
    model.save_pretrained(out)
    image_processor = LlavaOnevisionImageProcessorPil(size={"height": side, "width": side},
                                                      image_grid_pinpoints=pinpoints, do_pad=True)
    settings = {"processor_class": "LlavaOnevisionProcessor", "num_image_tokens": (side // patch) ** 2,
                "vision_feature_select_strategy": "full", "vision_aspect_ratio": "anyres_max_9",
                "image_token": "<image>", "video_token": "<video>"}
    _save_processor_files(out, tokenizer, image_processor, settings, LLAVA_ONEVISION_CHAT_TEMPLATE)
    return out


def make_image(size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (200, 30, 30)):
    """A small solid-colour RGB PIL image (odd aspect ratio on purpose, to exercise resizing)."""
    from PIL import Image

    return Image.new("RGB", size, color)


BUILDERS = {
    "text": build_text_model,
    "qwen2vl": build_qwen2vl,
    "qwen25vl": build_qwen25vl,
    "llava": build_llava,
    "internvl": build_internvl,
    "llava_onevision": build_llava_onevision,
}
