"""§6 step 3: GPT-2 config from the tokenizer, collator, bad sizes. Also home of the tiny fixtures
(byte-level BPE trained in the test, fixed-length chunks) that the other test_clm_* files import."""
from __future__ import annotations

import pytest

CODE = [
    "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n",
    "x = np.random.randn(100)\ny = np.random.randn(100)\nplt.scatter(x, y)\nplt.show()\n",
    "df = pd.DataFrame({'x': x, 'y': y})\ndf.groupby('x').mean()\n",
    "from sklearn.ensemble import RandomForestRegressor\nrf = RandomForestRegressor(n_estimators=300)\nrf.fit(X, y)\nrf.predict(X)\n",
    "def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(add(i, i))\n",
    "class Model:\n    def fit(self, X, y):\n        self.coef_ = np.linalg.lstsq(X, y)[0]\n        return self\n",
]


def tiny_tokenizer(vocab_size: int = 400):
    """A byte-level BPE trained on a few lines of code, with <|endoftext|> as BOS/EOS (like GPT-2)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(CODE * 3, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def tiny_lm_datasets(tokenizer, context_length: int = 16, n_train: int = 70, n_valid: int = 21, seed: int = 0):
    """Fixed-length chunks of the code above joined with EOS (shuffled copies), as prepare_lm_datasets makes."""
    import random

    from datasets import Dataset, DatasetDict

    rng = random.Random(seed)
    ids: list[int] = []
    need = (n_train + n_valid) * context_length
    while len(ids) < need:
        files = CODE[:]
        rng.shuffle(files)
        for text in files:
            ids.extend(tokenizer(text)["input_ids"] + [tokenizer.eos_token_id])
    chunks = [ids[i * context_length:(i + 1) * context_length] for i in range(n_train + n_valid)]
    return DatasetDict({
        "train": Dataset.from_dict({"input_ids": chunks[:n_train]}),
        "valid": Dataset.from_dict({"input_ids": chunks[n_train:]}),
    })


def tiny(**knobs):
    """A 1-layer GPT-2's settings for the tests: the course's defaults where a loop needs a knob
    (learning rate, weight decay), but no accumulation, no warm-up, evaluation only at the end."""
    from course_utils.settings import ClmSettings

    return ClmSettings(**{"n_layer": 1, "n_embd": 32, "n_head": 2, "context_length": 16, "dropout": 0.0,
                          "gradient_accumulation_steps": 1, "warmup_steps": 0, "eval_steps": 10**6, "logging_steps": 10,
                          "mixed_precision": "no", **knobs})


TINY = tiny()


def test_config_follows_tokenizer():
    from course_utils.clm.model import build_model, describe_size, make_config

    tok = tiny_tokenizer()
    config = make_config(tok, TINY)
    assert config.vocab_size == len(tok)
    assert config.n_positions == 16
    assert config.bos_token_id == config.eos_token_id == tok.eos_token_id
    assert config.resid_pdrop == config.attn_pdrop == config.embd_pdrop == 0.0
    model = build_model(tok, TINY, seed=0)
    assert model.transformer.wpe.weight.shape == (16, 32)
    # tied embedding counted once: wte + wpe + 1 block + ln_f
    d, v = 32, len(tok)
    block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    assert sum(p.numel() for p in model.parameters()) == v * d + 16 * d + block + 2 * d
    assert describe_size(model).startswith("GPT-2 size:")


def test_same_seed_same_weights():
    from course_utils.clm.model import build_model

    tok = tiny_tokenizer()
    a, b = build_model(tok, TINY, seed=3), build_model(tok, TINY, seed=3)
    assert all((p == q).all() for p, q in zip(a.parameters(), b.parameters()))


def test_profile_sizes_are_used(monkeypatch):
    import torch

    from course_utils import precision
    from course_utils.clm.model import make_config
    from course_utils.profiles import get_profile

    cfg = get_profile("workshop")
    config = make_config(tiny_tokenizer(), cfg)
    assert (config.n_layer, config.n_embd, config.n_head) == (cfg.clm.n_layer, cfg.clm.n_embd, cfg.clm.n_head)
    assert config.n_positions == cfg.clm.context_length
    if not torch.cuda.is_available():
        monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: "bf16")
        assert cfg.clm.attn_implementation == "auto"
        assert make_config(tiny_tokenizer(), cfg)._attn_implementation == "eager"  # bf16 on a CPU
        monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: "no")
        assert make_config(tiny_tokenizer(), cfg)._attn_implementation != "eager"  # fp32: sdpa


def test_fused_gelu_is_the_same_function_as_gpt2s_gelu_new():
    """The speed choice of make_config changes no number the model computes (to float rounding)."""
    import torch
    from transformers.activations import ACT2FN

    from course_utils.clm.model import make_config

    config = make_config(tiny_tokenizer(), TINY)
    assert config.activation_function == "gelu_pytorch_tanh"
    x = torch.linspace(-6, 6, 1001)
    assert torch.allclose(ACT2FN["gelu_pytorch_tanh"](x), ACT2FN["gelu_new"](x), atol=1e-6)


def test_unknown_attention_implementation_is_refused():
    from course_utils.clm.model import ModelSizeError, make_config

    with pytest.raises(ModelSizeError, match="attn_implementation"):
        make_config(tiny_tokenizer(), tiny(attn_implementation="flash"))


def test_collator_pads_with_eos_and_copies_labels():
    import torch

    from course_utils.clm.model import batch_shapes, make_collator

    tok = tiny_tokenizer()
    assert tok.pad_token is None
    collator = make_collator(tok)
    assert tok.pad_token == tok.eos_token
    ds = tiny_lm_datasets(tok)
    out = collator([ds["train"][i] for i in range(5)])
    # EOS inside a chunk (the end of a file) stays a label; the library's collator would hide it
    assert (out["input_ids"] == tok.eos_token_id).any()
    assert torch.equal(out["labels"], out["input_ids"])
    assert "attention_mask" not in out
    assert batch_shapes(collator, [ds["train"][i] for i in range(5)])["input_ids"] == (5, 16)
    # uneven inputs: padded with EOS, and padding ignored in the labels
    uneven = collator([{"input_ids": [5, 6, 7]}, {"input_ids": [5]}])
    assert uneven["input_ids"][1].tolist() == [5, tok.eos_token_id, tok.eos_token_id]
    assert uneven["labels"][1].tolist() == [5, -100, -100]
    assert uneven["attention_mask"][1].tolist() == [1, 0, 0]
    with_eos = collator([{"input_ids": [5, tok.eos_token_id, 7]}, {"input_ids": [5]}])
    assert with_eos["labels"][0].tolist() == [5, tok.eos_token_id, 7]


def test_context_longer_than_positions_is_refused():
    from course_utils.clm.model import ModelSizeError, make_config

    with pytest.raises(ModelSizeError, match="context_length=64 is larger than the model's n_positions=32"):
        make_config(tiny_tokenizer(), tiny(context_length=64), n_positions=32)
    with pytest.raises(ModelSizeError, match="not divisible"):
        make_config(tiny_tokenizer(), tiny(n_head=3))


def test_tokenizer_without_eos_is_refused():
    from course_utils.clm.model import TokenizerError, make_collator, make_config

    tok = tiny_tokenizer()
    tok.eos_token = None
    with pytest.raises(TokenizerError, match="no EOS token"):
        make_config(tok, TINY)
    with pytest.raises(TokenizerError, match="no EOS token"):
        make_collator(tok)
    with pytest.raises(TypeError, match="expected a profiles.Profile, ClmSettings"):
        make_config(tiny_tokenizer(), 3)


def test_exercise_03_checkers(capsys):
    import math

    from course_utils.clm.exercises import check_gpt2_param_count, check_optimizer_steps
    from course_utils.clm.model import build_model, count_parameters

    def formula(v, p, d, n_layer):
        block = 4 * d + 3 * d * d + 3 * d + d * d + d + 4 * d * d + 4 * d + 4 * d * d + d
        return v * d + p * d + n_layer * block + 2 * d

    tok = tiny_tokenizer()
    assert formula(len(tok), 16, 32, 1) == count_parameters(build_model(tok, TINY))
    assert check_gpt2_param_count(formula)
    assert not check_gpt2_param_count(lambda v, p, d, n: formula(v, p, d, n) + v * d)
    assert "tied to wte" in capsys.readouterr().out
    assert check_optimizer_steps(lambda n, b, a: math.ceil(math.ceil(n / b) / a))
    assert not check_optimizer_steps(lambda n, b, a: n // (b * a))
