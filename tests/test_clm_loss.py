"""§6 step 6: key-token weighted loss (equal to the course's version) and weight-decay groups."""
from __future__ import annotations

import warnings

import pytest
import torch

from course_utils.clm.course import course_get_grouped_params, course_keytoken_weighted_loss
from test_clm_model import TINY, tiny, tiny_tokenizer


@pytest.mark.parametrize("trial", range(40))
def test_weighted_loss_equals_course(trial):
    from course_utils.clm.loss import keytoken_weighted_loss

    g = torch.Generator().manual_seed(trial)
    batch, seq, vocab = 1 + trial % 5, 2 + trial % 13, 7 + trial % 50
    inputs = torch.randint(0, vocab, (batch, seq), generator=g)
    logits = torch.randn(batch, seq, vocab, generator=g) * (1 + trial % 4)
    keys = torch.randperm(vocab, generator=g)[: 1 + trial % 5].tolist()
    alpha = [1.0, 0.5, 2.0, 0.0][trial % 4]
    ours = keytoken_weighted_loss(inputs, logits, keys, alpha=alpha)
    ref = course_keytoken_weighted_loss(inputs, logits, keys, alpha=alpha)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)


def test_weighted_loss_known_value_and_gradient():
    from course_utils.clm.loss import keytoken_weighted_loss

    # uniform logits: every token costs log(V); sample 0 has 2 key tokens -> weight 3, sample 1 -> 1
    vocab = 4
    inputs = torch.tensor([[1, 1, 0], [0, 2, 3]])
    logits = torch.zeros(2, 3, vocab, requires_grad=True)
    loss = keytoken_weighted_loss(inputs, logits, [1], alpha=1.0)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(4.0)).item() * (3 + 1) / 2)
    loss.backward()
    assert logits.grad[:, -1].abs().sum() == 0  # the last position predicts nothing
    with pytest.raises(ValueError, match="inputs must be"):
        keytoken_weighted_loss(inputs, logits[0], [1])


def test_keytoken_ids_warn_for_multi_token_keywords():
    from course_utils.clm.loss import COURSE_KEYWORDS, keytoken_ids_from_keywords

    tok = tiny_tokenizer()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = keytoken_ids_from_keywords(tok, COURSE_KEYWORDS)
    flagged = {str(w.message).split("'")[1] for w in caught}
    assert "testtest" in flagged
    for kw in COURSE_KEYWORDS:
        single = len(tok(kw, add_special_tokens=False)["input_ids"]) == 1
        assert (kw in flagged) != single
    assert ids == list(dict.fromkeys(tok(kw)["input_ids"][0] for kw in COURSE_KEYWORDS if kw not in flagged))
    with pytest.raises(ValueError, match="keywords is empty"):
        keytoken_ids_from_keywords(tok, [])
    with pytest.raises(TypeError, match="list of strings"):
        keytoken_ids_from_keywords(tok, "plt")


def test_grouped_params_exclude_every_layernorm():
    from course_utils.clm.loss import describe_groups, get_grouped_params
    from course_utils.clm.model import build_model

    model = build_model(tiny_tokenizer(), tiny(n_layer=2), seed=0)
    groups = get_grouped_params(model, weight_decay=0.1)
    names = describe_groups(model, groups)
    skip = set(names["weight_decay=0.0"])
    ln = {n for n in dict(model.named_parameters()) if ".ln_" in n}
    assert {"transformer.ln_f.weight", "transformer.h.0.ln_1.weight", "transformer.h.1.ln_2.weight"} <= skip
    assert ln <= skip
    assert all(n.endswith(".bias") or ".ln_" in n for n in skip)
    decay = set(names["weight_decay=0.1"])
    assert "transformer.wte.weight" in decay and "transformer.h.0.attn.c_attn.weight" in decay
    # every parameter exactly once (the tied lm_head is wte)
    assert len(decay) + len(skip) == len(list(model.named_parameters()))
    # the course's pattern leaves GPT-2's LayerNorm weights in the decayed group
    course = course_get_grouped_params(model)
    course_names = {id(p) for p in course[0]["params"]}
    leaked = {n for n, p in model.named_parameters() if id(p) in course_names and n.endswith("ln_1.weight")}
    assert leaked == {"transformer.h.0.ln_1.weight", "transformer.h.1.ln_1.weight"}


def test_exercise_05_checkers():
    from course_utils.clm.exercises import check_keytoken_weights, check_no_decay_groups
    from course_utils.clm.loss import get_grouped_params, keytoken_weights
    from course_utils.clm.model import build_model

    assert check_keytoken_weights(keytoken_weights)
    assert not check_keytoken_weights(lambda i, k, a=1.0: keytoken_weights(i, k, 1.0))
    model = build_model(tiny_tokenizer(), tiny(n_layer=2), seed=0)
    assert check_no_decay_groups(get_grouped_params, model)
    assert not check_no_decay_groups(course_get_grouped_params, model)
