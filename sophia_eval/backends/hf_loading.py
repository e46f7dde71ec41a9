"""Loading Hugging Face processors and models the same way everywhere (harness and training).

Why this module exists: Qwen2(.5)-VL, InternVL-hf and LLaVA-OneVision processors declare a video
processor, and transformers can only build video processors with torchvision installed. This
project never installs torchvision (the PyPI torchvision wheel does not load beside the CPU torch
build pinned here), so `AutoProcessor.from_pretrained` fails for
those models (ImportError for some, ValueError for InternVL-hf). `load_processor` falls back to the
same processor class with the video slot removed, built from the checkpoint's PIL image processor,
tokenizer and the settings saved in `processor_config.json` (LLaVA-OneVision's
`num_image_tokens`, InternVL's `image_seq_length`, ...): image inputs, chat template,
`mm_token_type_ids` and image-token expansion all stay the library's own code.

Heavy imports (transformers) happen inside functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sophia_eval.backends.base import BackendError


def is_local_path(model: str) -> bool:
    """True when `model` looks like a filesystem path rather than a hub id (`org/name`)."""
    p = Path(model).expanduser()
    return p.exists() or model.startswith((".", "/", "~")) or model.endswith(".gguf")


def check_model_path(model: str) -> None:
    """Raise BackendError when `model` is meant as a local path but does not exist."""
    p = Path(model).expanduser()
    looks_local = model.startswith((".", "/", "~")) or model.endswith(".gguf") or model.count("/") > 1
    if looks_local and not p.exists():
        raise BackendError(
            f"model path {model!r} does not exist; pass an existing local model directory, a .gguf file, "
            "or a Hugging Face hub id such as 'Qwen/Qwen2-VL-2B-Instruct'"
        )
    if p.is_dir() and not (p / "config.json").exists():
        raise BackendError(
            f"model directory {str(p)!r} has no config.json; expected a Hugging Face model directory "
            "(config.json, weights, tokenizer files)"
        )


def _read_json(model: str, fname: str, **kwargs: Any) -> dict[str, Any] | None:
    """A JSON file of the checkpoint (local or hub cache), or None when it has none."""
    from transformers.utils import cached_file

    try:
        path = cached_file(model, fname, _raise_exceptions_for_missing_entries=False, **kwargs)
    except OSError:
        path = None
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else None


def _processor_class_name(model: str, **kwargs: Any) -> str | None:
    """The `processor_class` a checkpoint declares (processor_config.json, then tokenizer_config)."""
    for fname in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        name = (_read_json(model, fname, **kwargs) or {}).get("processor_class")
        if name:
            return name
    return None


def processor_settings(model: str, **kwargs: Any) -> dict[str, Any]:
    """The processor's own saved settings (`processor_config.json` minus its class name), e.g.
    LLaVA-OneVision's `num_image_tokens` and `vision_feature_select_strategy`."""
    saved = _read_json(model, "processor_config.json", **kwargs) or {}
    return {k: v for k, v in saved.items() if k not in ("processor_class", "auto_map", "chat_template")}


def _is_torchvision_error(exc: BaseException) -> bool:
    """transformers raises ImportError for some processors and ValueError (InternVL-hf) for others."""
    return isinstance(exc, (ImportError, ValueError)) and "torchvision" in str(exc).lower()


def _without_video(processor_cls: type) -> type:
    """`processor_cls` with its `video_processor` constructor slot removed (image-only use)."""

    class ImageOnlyProcessor(processor_cls):  # type: ignore[misc, valid-type]
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs: Any) -> None:
            # ProcessorMixin zips positional args with the attributes named in *this* signature,
            # so the trailing None for the video slot is dropped rather than type-checked.
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    ImageOnlyProcessor.__name__ = ImageOnlyProcessor.__qualname__ = f"{processor_cls.__name__}ImageOnly"
    return ImageOnlyProcessor


def load_processor(model: str, *, trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """The model's processor (VLMs) via AutoProcessor, with the no-torchvision fallback.

    Returns whatever AutoProcessor returns; for text-only checkpoints that is the tokenizer.
    `kwargs` go to `from_pretrained` (e.g. `revision`, `local_files_only`); `trust_remote_code`
    opts in to a checkpoint's own processor code.
    """
    import transformers
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    remote = {"trust_remote_code": True} if trust_remote_code else {}
    try:
        return AutoProcessor.from_pretrained(model, **remote, **kwargs)
    except (ImportError, ValueError) as exc:
        if not _is_torchvision_error(exc):
            raise
        name = _processor_class_name(model, **kwargs)
        processor_cls = getattr(transformers, name, None) if name else None
        if processor_cls is None:
            raise BackendError(
                f"cannot build the processor of {model!r} without torchvision ({exc}); "
                f"processor class {name!r} is unknown to transformers {transformers.__version__}"
            ) from exc
        image_processor = AutoImageProcessor.from_pretrained(model, backend="pil", **remote, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(model, **remote, **kwargs)
        chat_template = _processor_chat_template(model, **kwargs) or getattr(tokenizer, "chat_template", None)
        settings = processor_settings(model, **kwargs)
        processor = _without_video(processor_cls)(
            image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template, **settings
        )
        processor.saved_settings = settings  # written back by save_processor
        return processor


def _processor_chat_template(model: str, **kwargs: Any) -> str | None:
    """The processor-level chat template (`chat_template.jinja`, or legacy `chat_template.json`)."""
    from transformers.utils import cached_file

    for fname in ("chat_template.jinja", "chat_template.json"):
        try:
            path = cached_file(model, fname, _raise_exceptions_for_missing_entries=False, **kwargs)
        except OSError:
            path = None
        if path:
            text = Path(path).read_text(encoding="utf-8")
            return text if fname.endswith(".jinja") else json.loads(text).get("chat_template")
    return None


def tokenizer_of(processor: Any) -> Any:
    """The tokenizer inside a processor (or the processor itself when it is a tokenizer)."""
    return getattr(processor, "tokenizer", processor)


def save_processor(processor: Any, path: Path) -> None:
    """Save the processor so that `load_processor` rebuilds the same one.

    The no-torchvision fallback of `load_processor` is a subclass named `...ImageOnly`; its own
    `save_pretrained` would record that name, which no loader knows. Save its parts as the
    original checkpoint lays them out instead, under the parent class name.
    """
    cls = type(processor)
    if not cls.__name__.endswith("ImageOnly"):
        processor.save_pretrained(path)
        return
    processor.tokenizer.save_pretrained(path)
    processor.image_processor.save_pretrained(path)
    settings = getattr(processor, "saved_settings", {})
    (Path(path) / "processor_config.json").write_text(
        json.dumps({"processor_class": cls.__mro__[1].__name__, **settings}), encoding="utf-8")
    if processor.chat_template:
        (Path(path) / "chat_template.jinja").write_text(processor.chat_template, encoding="utf-8")
