"""Issue 3/5, bad input for §6 steps 3-6: every case raises a clear error that names the problem
(never a deep IndexError/KeyError). 28 cases."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from test_clm_model import TINY, tiny, tiny_lm_datasets, tiny_tokenizer


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def ds(tok):
    return tiny_lm_datasets(tok)


def no_eos(tok):
    t = tiny_tokenizer()
    t.eos_token = None
    return t


def _datasets_cases(ds):
    from datasets import Dataset

    return [
        ({"train": ds["train"]}, "no 'valid' split"),
        ({"train": ds["train"], "valid": ds["valid"].select([])}, r"lm_datasets\['valid'\] is empty"),
        ({"train": ds["train"].rename_column("input_ids", "ids"), "valid": ds["valid"]}, "no 'input_ids' column"),
        ({"train": Dataset.from_dict({"input_ids": [[1, 2, 3], [1, 2]] * 8}), "valid": ds["valid"]}, "different lengths"),
    ]


def test_model_sizes_and_tokenizer(tok):
    from course_utils.clm.model import ModelSizeError, TokenizerError, batch_shapes, make_collator, make_config

    cases = [
        (lambda: make_config(tok, tiny(context_length=64), n_positions=32), ModelSizeError, "larger than the model's n_positions=32"),
        (lambda: make_config(tok, tiny(n_head=3)), ModelSizeError, "not divisible by n_head=3"),
        (lambda: make_config(tok, tiny(context_length=1)), ModelSizeError, "at least 2 tokens"),
        (lambda: make_config(tok, tiny(n_layer=0)), ValueError, "clm_n_layer=0 must be >= 1"),
        (lambda: make_config(no_eos(tok), TINY), TokenizerError, "no EOS token"),
        (lambda: make_collator(no_eos(tok)), TokenizerError, "no EOS token"),
        (lambda: make_config(None, TINY), TokenizerError, "expected a Hugging Face tokenizer"),
        (lambda: make_config(tok, ["not", "a", "profile"]), TypeError, "expected a profiles.Profile, ClmSettings"),
        (lambda: batch_shapes(make_collator(tok), []), ValueError, "no examples"),
    ]
    for fn, err, msg in cases:
        with pytest.raises(err, match=msg):
            fn()


def test_loss_inputs(tok):
    from course_utils.clm.loss import keytoken_ids_from_keywords, keytoken_weighted_loss

    with pytest.raises(ValueError, match="keywords is empty"):
        keytoken_ids_from_keywords(tok, [])
    with pytest.raises(TypeError, match="not one string"):
        keytoken_ids_from_keywords(tok, "plt")
    with pytest.raises(TypeError, match="must be a non-empty string"):
        keytoken_ids_from_keywords(tok, ["plt", 3])
    with pytest.raises(ValueError, match=r"inputs must be \[batch, seq\]"):
        keytoken_weighted_loss(torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 4, 10), [1])


def test_dataset_and_settings(ds, tok, tmp_path):
    from course_utils.clm.loop import make_dataloaders, train_accelerate
    from course_utils.clm.model import build_model

    for bad, msg in _datasets_cases(ds):
        with pytest.raises(ValueError, match=msg):
            make_dataloaders(bad, 8)
    with pytest.raises(ValueError, match="max_steps=-3"):
        tiny(max_steps=-3)
    with pytest.raises(ValueError, match="learning_rate=0"):
        tiny(learning_rate=0)
    with pytest.raises(ValueError, match="needs hub_model_id"):
        train_accelerate(build_model(tok, TINY), tok, ds, tiny(max_steps=1), tmp_path, push_to_hub=True)
    (tmp_path / "COMPLETE").write_text("x")
    with pytest.raises(FileExistsError, match="never overwritten"):
        train_accelerate(build_model(tok, TINY), tok, ds, tiny(max_steps=1), tmp_path)


def test_missing_and_corrupted_checkpoints(ds, tok, tmp_path):
    from course_utils.clm.loop import train_accelerate, train_with_trainer
    from course_utils.training import CheckpointError, latest_checkpoint
    from course_utils.clm.model import build_model

    s = tiny(batch_size=8, max_steps=4, eval_steps=2, logging_steps=1, mixed_precision="no")

    def stop(step):
        if step == 3:
            raise KeyboardInterrupt

    quiet = dict(print_fn=lambda *a, **k: None)
    with pytest.raises(KeyboardInterrupt):
        train_accelerate(build_model(tok, TINY, seed=0), tok, ds, s, tmp_path / "run", step_callback=stop, **quiet)
    ckpt = latest_checkpoint(tmp_path / "run")
    assert ckpt is not None and ckpt.name == "step-2"
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        train_accelerate(build_model(tok, TINY), tok, ds, s, tmp_path / "run", resume=tmp_path, **quiet)
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a disk that filled up half-way
    with pytest.raises(CheckpointError, match="step-2 cannot be loaded"):
        train_accelerate(build_model(tok, TINY), tok, ds, s, tmp_path / "run", resume=True, **quiet)
    with pytest.raises(CheckpointError, match="not a saved model"):  # an Accelerate checkpoint is no Trainer one
        train_with_trainer(tiny(batch_size=8, max_steps=1, eval_steps=1), tmp_path, tok, ds,
                           resume_from_checkpoint=str(ckpt))


def test_generation_inputs(tok):
    from course_utils.clm.generate import compare_with_repeat_baseline, load_generator
    from course_utils.clm.model import build_model

    with pytest.raises(ValueError, match="needs its tokenizer"):
        load_generator(build_model(tok, TINY))
    with pytest.raises(ValueError, match="no prompts"):
        compare_with_repeat_baseline(None, [])


def test_script_arguments(tmp_path, monkeypatch):
    import os

    from course_utils.clm.train_accelerate import main

    for key in ("COURSE_QUIET", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "TQDM_DISABLE",
                "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        monkeypatch.setenv(key, os.environ.get(key, ""))  # main() activates the ci profile: undo it afterwards

    with pytest.raises(SystemExit, match="--dataset needs --tokenizer"):
        main(["--profile", "ci", "--dataset", str(tmp_path), "--work", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["--profile", "ci", "--no-such-flag"])
