"""`sophia-eval run/score/leaderboard` as evaluators use them (issue 12) and hardened (issue 13):
each test runs the real command in a new process, output redirected (not a terminal)."""

from __future__ import annotations

import json
import signal
import time

from cli_helpers import Scripted, openai_args, sophia_eval, spawn

from sophia_eval.runs.store import RunStore


def _statuses(run_dir):
    return [r["status"] for r in RunStore.open(run_dir).records()]


def test_two_checkpoints_named_final_stay_two_rows(server, tmp_path):
    url = server(Scripted())
    outs = []
    for name in ("r1", "r2"):
        ckpt = tmp_path / "runs" / name / "train" / "final"
        ckpt.mkdir(parents=True)
        outs.append(tmp_path / f"eval_{name}")
        res = sophia_eval(*openai_args(url, "--model", str(ckpt), "-b", "math500", "--limit", "2", "--protocol", "greedy",
                                       "--out", str(outs[-1])), cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
    res = sophia_eval("leaderboard", *map(str, outs), "--out", str(tmp_path / "lb"), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    csv = (tmp_path / "lb" / "leaderboard.csv").read_text()
    run_models = {line.split(",")[5] for line in csv.splitlines()[1:] if ",run," in line}
    assert run_models == {"r1/train/final", "r2/train/final"}


def test_name_option_names_the_run_and_its_directory(server, tmp_path):
    url = server(Scripted())
    res = sophia_eval(*openai_args(url, "--model", "scripted", "--name", "my-ckpt", "-b", "math500", "--limit", "1",
                                   "--protocol", "greedy"), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("math500__my-ckpt__") and RunStore.open(run_dir).meta["name"] == "my-ckpt"


def test_start_prints_protocol_and_output_dir_and_warns_on_sampled_limit(server, tmp_path):
    url = server(Scripted())
    out = tmp_path / "r"
    res = sophia_eval(*openai_args(url, "--model", "scripted", "-b", "math500", "--limit", "1", "--out", str(out)),
                      cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "protocol sophia: n=1, T=1, top_p=0.8, max 16384 new tokens" in res.stdout
    assert f"math500: 1 items -> {out}" in res.stdout
    assert "warning:" in res.stdout and "--protocol greedy --max-new-tokens 512" in res.stdout


def test_progress_lines_go_to_a_log_file(server, tmp_path):
    url = server(Scripted())
    log = tmp_path / "log.txt"
    with log.open("w") as fh:
        proc = spawn(*openai_args(url, "--model", "scripted", "-b", "math500", "--limit", "3", "--batch-size", "1",
                                  "--protocol", "greedy", "--out", str(tmp_path / "r")),
                     cwd=tmp_path, stdout=fh, SOPHIA_EVAL_PROGRESS_EVERY="0")
        assert proc.wait(timeout=300) == 0
    lines = [line for line in log.read_text().splitlines() if line.startswith("[progress]")]
    assert len(lines) >= 2, log.read_text()
    assert "3/3 samples (100%)" in lines[-1] and "samples/s" in lines[-1] and "ETA" in lines[-1]


def test_all_error_run_is_failed_with_nonzero_exit_and_listed_by_the_leaderboard(server, tmp_path):
    url = server(Scripted(fail=True))
    out = tmp_path / "r"
    res = sophia_eval(*openai_args(url, "--model", "scripted", "-b", "math500", "--limit", "2", "--protocol", "greedy",
                                   "--out", str(out)), cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert RunStore.open(out).meta["status"] == "failed" and set(_statuses(out)) == {"error"}
    assert "failed" in res.stdout and "every sample is an error" in res.stdout
    lb = sophia_eval("leaderboard", str(out), "--out", str(tmp_path / "lb"), cwd=tmp_path)
    assert lb.returncode == 0 and "left out" in lb.stdout and "every sample is an error" in lb.stdout


def _held_run(server, tmp_path, *, hold_after: int, limit: int):
    """A `run` in a new process whose server answers `hold_after` requests, then holds the next
    ones until `scripted.release` is set; returns once those answers are recorded."""
    scripted = Scripted(hold_after=hold_after)
    out = tmp_path / "r"
    args = openai_args(server(scripted), "--model", "scripted", "-b", "math500", "--limit", str(limit),
                       "--batch-size", "1", "--protocol", "greedy", "--out", str(out))
    proc = spawn(*args, cwd=tmp_path)
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 120
    while not (samples.exists() and samples.read_text().count("\n") >= hold_after) and time.monotonic() < deadline:
        time.sleep(0.05)
    return scripted, out, args, proc


def test_sigterm_marks_interrupted_then_score_and_leaderboard_explain_and_rerun_resumes(server, tmp_path):
    scripted, out, args, proc = _held_run(server, tmp_path, hold_after=2, limit=6)
    proc.send_signal(signal.SIGTERM)  # while its third request is held by the server
    try:
        output, _ = proc.communicate(timeout=60)
    finally:
        scripted.release.set()
    assert proc.returncode == 143, output
    assert "SIGTERM" in output and RunStore.open(out).meta["status"] == "interrupted"
    recorded = len(_statuses(out))
    assert recorded == 2

    score = sophia_eval("score", str(out), "--verify-workers", "1", cwd=tmp_path)
    assert score.returncode == 0 and "interrupted" in score.stdout and "rerun the same `sophia-eval run`" in score.stdout
    assert RunStore.open(out).meta["status"] == "interrupted"
    lb = sophia_eval("leaderboard", str(out), "--out", str(tmp_path / "lb"), cwd=tmp_path)
    assert "interrupted" in lb.stdout and "rerun the same `sophia-eval run` command" in lb.stdout

    again = sophia_eval(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"resuming: {recorded} of 6 samples already recorded" in again.stdout
    assert RunStore.open(out).meta["status"] == "complete" and len(_statuses(out)) == 6


def test_text_only_model_on_an_image_benchmark_is_refused_before_generating(tiny_text_model, tmp_path):
    out = tmp_path / "r"
    res = sophia_eval("run", "--model", str(tiny_text_model), "-b", "mathvision:testmini", "--limit", "2",
                      "--protocol", "greedy", "--max-new-tokens", "4", "--verify-workers", "1", "--out", str(out),
                      cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "text-only model" in res.stderr and "mathverse:testmini_text_only" in res.stderr
    assert not (out / "samples.jsonl").exists()


def test_lmms_eval_spellings(server, tmp_path):
    url = server(Scripted())
    out = tmp_path / "lmms_out"
    res = sophia_eval(*openai_args(url, "--model", "scripted", "--tasks", "mathvision_testmini", "--limit", "1",
                                   "--protocol", "greedy", "--output_path", str(out), "--log_samples"), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "lmms-eval task mathvision_testmini -> mathvision:testmini" in res.stdout and "always on" in res.stdout
    meta = RunStore.open(out).meta
    assert meta["config"]["benchmark"]["name"] == "mathvision" and meta["config"]["benchmark"]["split"] == "testmini"
    (record,) = RunStore.open(out).records()
    user = record["prompt"][-1]["content"]
    assert [p["type"] for p in user] == ["image", "text"] and not user[0]["image"].startswith("/")
    hint = sophia_eval("run", "--model_args", "pretrained=/ckpt/final,dtype=bfloat16", "-b", "math500", cwd=tmp_path)
    assert hint.returncode == 2 and "--model /ckpt/final" in hint.stderr


def test_secrets_and_operational_options_are_neither_stored_nor_identity(server, tmp_path):
    url = server(Scripted())
    out = tmp_path / "r"
    base = openai_args(url, "--model", "scripted", "-b", "math500", "--limit", "2", "--batch-size", "1",
                       "--protocol", "greedy", "--out", str(out))
    first = sophia_eval(*base, "-o", "api_key=sk-first-SECRET", "-o", "timeout_s=30", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    text = (out / "run.json").read_text()
    assert "SECRET" not in text and "api_key" not in text
    assert json.loads(text)["runtime_options"]["timeout_s"] == 30
    second = sophia_eval(*base, "-o", "api_key=sk-rotated-SECRET", "-o", "timeout_s=90", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "SECRET" not in (out / "run.json").read_text()
    assert oct((out / "run.json").stat().st_mode & 0o044) == oct(0o044)  # readable by group and others


def test_markup_and_emoji_in_user_names_print_verbatim(server, tmp_path):
    url = server(Scripted())
    res = sophia_eval(*openai_args(url, "--model", "file:100:", "--name", "[/]", "-b", "math500", "--limit", "1",
                                   "--protocol", "greedy", "--out", str(tmp_path / "r[/]")), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "file:100:" in res.stdout and "\U0001f4af" not in res.stdout and "r[/]" in res.stdout


def test_a_second_writer_is_refused_naming_the_holder_pid(server, tmp_path):
    scripted, out, args, first = _held_run(server, tmp_path, hold_after=1, limit=4)
    try:
        for second in (sophia_eval(*args, cwd=tmp_path), sophia_eval("score", str(out), cwd=tmp_path)):
            assert second.returncode == 2, second.stdout + second.stderr
            assert f"pid {first.pid}" in second.stderr and "another process is writing this run" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
        scripted.release.set()
    # the holder died without releasing anything: the next writer takes the lock over
    again = sophia_eval(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert RunStore.open(out).meta["status"] == "complete"


def test_import_takes_name_and_protocol(tmp_path):
    preds = tmp_path / "elsewhere" / "preds.jsonl"
    preds.parent.mkdir()
    preds.write_text("".join(json.dumps({"id": f"q{i}", "response": "\\boxed{2}", "gold": "2"}) + "\n" for i in range(3)))
    out = tmp_path / "imp"
    res = sophia_eval("score", "--import-jsonl", str(preds), "--name", "their-model", "--protocol", "greedy",
                      "--out", str(out), "--verify-workers", "1", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    meta = RunStore.open(out).meta
    assert meta["name"] == "their-model" and meta["config"]["protocol"]["name"] == "greedy"
    assert meta["config"]["generation"]["temperature"] == 0.0 and str(tmp_path) not in json.dumps(meta)


def test_validate_and_score_print_progress_lines_off_a_terminal(tmp_path):
    res = sophia_eval("validate", "math500", cwd=tmp_path, SOPHIA_EVAL_PROGRESS_EVERY="0")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "[progress] checking golds of math500:test: 500/500 items (100%)" in res.stdout
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": f"q{i}", "response": "\\boxed{2}", "gold": "2"}) + "\n" for i in range(3)))
    res = sophia_eval("score", "--import-jsonl", str(preds), "--out", str(tmp_path / "imp"), "--verify-workers", "1",
                      cwd=tmp_path, SOPHIA_EVAL_PROGRESS_EVERY="0")
    assert res.returncode == 0 and "[progress] re-scoring imp: 3/3 samples (100%)" in res.stdout


def test_a_large_batch_size_alone_is_flagged_for_the_transformers_backend():
    from sophia_eval.cli.run_cmd import batch_warning

    warning = batch_warning("transformers", 64, {})
    assert warning and "decodes 8 prompts at a time" in warning and "-o batch_size=64" in warning
    assert batch_warning("transformers", 64, {"batch_size": 64}) is None
    assert batch_warning("transformers", 8, {}) is None
    assert batch_warning("openai", 64, {}) is None  # a server batches on its own
