"""Two processes (torchrun, gloo on CPU): the ranks stay in sync and match the one-process run.

LLaVA with an unfrozen vision tower leaves parameters without gradient (CLIP's last-layer
post-norm is never used); DDP needs unused-parameter detection there. The trainer turns it on by
default, and this test asserts parameters are bit-identical across ranks after the steps."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
pytestmark = pytest.mark.slow


def _torchrun(model, image, out, find_unused="1", freeze="0"):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.fail("torchrun not found beside the Python interpreter (it ships with torch)")
    return subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", str(HERE / "ddp_worker.py"),
                           str(model), str(image), str(out), find_unused, freeze],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def two_rank_run(tiny_llava, image_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    proc = _torchrun(tiny_llava, image_path, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"digest-{r}.json").read_text()) for r in (0, 1)]


def test_ranks_have_identical_parameters_after_training(two_rank_run):
    assert two_rank_run[0]["digest"] == two_rank_run[1]["digest"]


def test_two_processes_saw_two_processes(two_rank_run, tiny_llava):
    # Guards against each process silently training alone (Accelerate on a CPU-only host).
    assert two_rank_run[0]["world_size"] == 2


def test_unused_parameters_exist_in_the_llava_fixture(tiny_llava, image_path):
    from transformers import AutoModelForImageTextToText

    from sophia_helpers import make_examples
    from sophia_eval.backends.hf_loading import load_processor
    from sophia_eval.sophia.dataset import encode

    model = AutoModelForImageTextToText.from_pretrained(tiny_llava)
    enc = encode(load_processor(str(tiny_llava)), make_examples(image_path, 1)[0])
    model(**{k: v for k, v in enc.items() if k != "labels"}, labels=enc["labels"]).loss.backward()
    assert [n for n, p in model.named_parameters() if p.grad is None]


def test_two_processes_give_the_one_process_losses(two_rank_run, tiny_llava, image_path, tmp_path):
    # Same global batch split differently: the token-mean loss must not depend on the world size.
    from sophia_helpers import make_examples
    from sophia_eval.sophia.config import TrainConfig
    from sophia_eval.sophia.trainer import train

    single = train(TrainConfig(model=str(tiny_llava), output_dir=str(tmp_path), lr=1e-3, global_batch_size=4,
                               micro_batch_size=1, max_steps=2, gradient_checkpointing=False, freeze_vision=False),
                   make_examples(image_path))
    assert single.losses == pytest.approx(two_rank_run[0]["losses"], rel=1e-5)


def test_two_processes_give_the_one_process_gradient_norms(two_rank_run, tiny_llava, image_path, tmp_path):
    # Adam hides a wrong gradient scale from the losses; the pre-clip norm does not.
    from sophia_helpers import make_examples
    from sophia_eval.sophia.config import TrainConfig
    from sophia_eval.sophia.trainer import train

    single = train(TrainConfig(model=str(tiny_llava), output_dir=str(tmp_path), lr=1e-3, global_batch_size=4,
                               micro_batch_size=4, max_steps=2, gradient_checkpointing=False, freeze_vision=False),
                   make_examples(image_path))
    assert single.grad_norms == pytest.approx(two_rank_run[0]["grad_norms"], rel=1e-4)
