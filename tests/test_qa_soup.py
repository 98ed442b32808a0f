"""The model soup of notebook 08: an exact element-wise mean, a loadable folder, clear refusals."""
from __future__ import annotations

import pytest

from course_utils.profiles import activate

activate("ci")

import torch  # noqa: E402
from transformers import AutoModelForQuestionAnswering, BertConfig, BertForQuestionAnswering  # noqa: E402

from course_utils.qa.soup import average_weights, make_soup  # noqa: E402

TINY = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                  max_position_embeddings=32)


def saved(folder, seed, config=TINY):
    torch.manual_seed(seed)
    model = BertForQuestionAnswering(config)
    model.save_pretrained(folder)
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n")  # stands in for the tokenizer files
    (folder / "COMPLETE").write_text("")
    return model


def test_soup_is_the_element_wise_mean_and_loads_as_a_qa_model(tmp_path):
    models = [saved(tmp_path / f"m{i}", seed=i) for i in range(3)]
    out = make_soup([tmp_path / f"m{i}" for i in range(3)], tmp_path / "soup")
    soup = AutoModelForQuestionAnswering.from_pretrained(out)
    for name, p in soup.state_dict().items():
        mean = sum(m.state_dict()[name].float() for m in models) / 3
        assert torch.allclose(p.float(), mean, atol=1e-6), name
    assert (out / "vocab.txt").exists() and not (out / "COMPLETE").exists()  # the caller marks it complete


def test_an_existing_model_is_never_overwritten(tmp_path):
    saved(tmp_path / "a", 0)
    saved(tmp_path / "b", 1)
    make_soup([tmp_path / "a", tmp_path / "b"], tmp_path / "soup")
    before = (tmp_path / "soup" / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="already holds a model"):
        make_soup([tmp_path / "a", tmp_path / "b"], tmp_path / "soup")
    with pytest.raises(FileExistsError):
        make_soup([tmp_path / "a", tmp_path / "b"], tmp_path / "a")
    assert (tmp_path / "soup" / "model.safetensors").read_bytes() == before


def test_models_that_do_not_match_are_refused_by_name(tmp_path):
    saved(tmp_path / "a", 0)
    wider = BertConfig(**{**TINY.to_dict(), "intermediate_size": 24})
    saved(tmp_path / "b", 1, wider)
    with pytest.raises(ValueError, match=r"b: .*shape"):
        average_weights([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(ValueError, match="at least 2"):
        average_weights([tmp_path / "a"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no model.safetensors"):
        average_weights([tmp_path / "a", tmp_path / "empty"])
