"""Loading the QA encoder: sources, the fresh head, dropout, and clear errors on bad checkpoints."""
from __future__ import annotations

import pytest

from course_utils.profiles import activate

activate("ci")

import torch  # noqa: E402

from course_utils.assets import OfflineError  # noqa: E402
from course_utils.qa.model import (  # noqa: E402
    CheckpointError,
    SlowTokenizerError,
    check_fast_tokenizer,
    count_parameters,
    load_qa_model,
    load_qa_model_and_tokenizer,
    load_qa_tokenizer,
)


@pytest.fixture(scope="module")
def bundled():
    return load_qa_model_and_tokenizer("bundled", dropout=0.0, seed=0)


def test_bundled_encoder_gets_a_fresh_two_logit_head(bundled):
    model, tokenizer = bundled
    assert tokenizer.is_fast
    assert model.qa_outputs.out_features == 2 and model.qa_outputs.in_features == 384
    assert 22_000_000 < count_parameters(model) < 23_000_000
    enc = tokenizer("Who?", "Paris is a city.", return_tensors="pt")
    with torch.no_grad():
        out = model(**enc)
    assert out.start_logits.shape == enc["input_ids"].shape


def test_dropout_setting_reaches_every_layer(bundled):
    model, _ = bundled
    assert model.config.hidden_dropout_prob == 0.0 and model.config.attention_probs_dropout_prob == 0.0
    default = load_qa_model("bundled")
    assert default.config.hidden_dropout_prob == pytest.approx(0.1)
    with pytest.raises(ValueError, match="dropout"):
        load_qa_model("bundled", dropout=1.5)


def test_cpu_cost_knobs_attention_dropout_frozen_embeddings_eager_attention():
    model = load_qa_model("bundled", dropout=0.1, attention_dropout=0.0, freeze_embeddings=True,
                          attn_implementation="eager", seed=0)
    assert model.config.hidden_dropout_prob == pytest.approx(0.1)
    assert model.config.attention_probs_dropout_prob == 0.0
    assert model.config._attn_implementation == "eager"
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["bert.embeddings.word_embeddings.weight"]
    assert count_parameters(model) < 12_000_000  # half of the 22M are the word embeddings
    with pytest.raises(ValueError, match="attention_dropout"):
        load_qa_model("bundled", attention_dropout=-0.1)
    with pytest.raises(ValueError, match="attn_implementation"):
        load_qa_model("bundled", attn_implementation="flash")


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU rule")
def test_model_options_take_the_profile_knobs(monkeypatch):
    from course_utils import precision
    from course_utils.profiles import get_profile
    from course_utils.qa.model import model_options

    monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: "bf16")  # bf16 on this CPU: eager attention
    opts = model_options(get_profile("workshop").qa)
    assert opts == {"dropout": 0.1, "attention_dropout": 0.0, "freeze_embeddings": True, "attn_implementation": "eager"}
    monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: "no")  # fp32: the default (sdpa)
    assert model_options(get_profile("workshop").qa)["attn_implementation"] is None
    assert model_options(get_profile("course").qa)["freeze_embeddings"] is False


def test_seed_makes_the_fresh_head_reproducible():
    a = load_qa_model("bundled", seed=3).qa_outputs.weight
    b = load_qa_model("bundled", seed=3).qa_outputs.weight
    c = load_qa_model("bundled", seed=4).qa_outputs.weight
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_saved_model_round_trips_as_safetensors(bundled, tmp_path):
    model, tokenizer = bundled
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    again, tok2 = load_qa_model_and_tokenizer(str(tmp_path))
    enc = tokenizer("Who?", "Paris is a city.", return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model.eval()(**enc).start_logits, again.eval()(**enc).start_logits)
    assert tok2.is_fast


def test_missing_and_corrupted_checkpoints_raise_checkpoint_errors(bundled, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_qa_model(str(tmp_path / "nope"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        load_qa_model(str(empty))
    model, _ = bundled
    broken = tmp_path / "broken"
    model.save_pretrained(broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: 1000])  # a copy cut short
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        load_qa_model(str(broken))
    (broken / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no weights"):
        load_qa_model(str(broken))


def test_hub_id_offline_fails_fast():
    with pytest.raises(OfflineError, match="offline"):
        load_qa_model("bert-base-cased")


def test_slow_tokenizer_is_refused_with_the_reason():
    from transformers import BertTokenizerLegacy  # the pure-Python tokenizer in transformers 5

    from course_utils.assets import bundled_qa_encoder_path

    slow = BertTokenizerLegacy.from_pretrained(str(bundled_qa_encoder_path()))
    with pytest.raises(SlowTokenizerError, match="offset mappings"):
        check_fast_tokenizer(slow)
    assert isinstance(SlowTokenizerError("x"), TypeError)
    assert load_qa_tokenizer("bundled").is_fast
