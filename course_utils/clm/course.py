"""The course's own §6 code, kept as the reference: one copy, imported by the tests (our
versions give the same result), the benchmarks (ours against it, in one process) and notebook 05
(the weight-decay comparison a learner sees). Nothing else in the project repeats it.
"""
from __future__ import annotations

from collections import defaultdict

import torch
from datasets import Dataset
from torch.nn import CrossEntropyLoss

__all__ = [
    "course_any_keyword_in_string",
    "course_filter_streaming_dataset",
    "course_keytoken_weighted_loss",
    "course_get_grouped_params",
    "course_tokenize_fn",
]


def course_any_keyword_in_string(string, keywords):
    """§6 "Gathering the data". Ours: `corpus.any_keyword_in_string`."""
    for keyword in keywords:
        if keyword in string:
            return True
    return False


def course_filter_streaming_dataset(dataset, filters):
    """§6 "Gathering the data" (its progress bar and print left out). Ours: `corpus.filter_streaming_dataset`."""
    filtered_dict = defaultdict(list)
    total = 0
    for sample in iter(dataset):
        total += 1
        if course_any_keyword_in_string(sample["content"], filters):
            for k, v in sample.items():
                filtered_dict[k].append(v)
    return Dataset.from_dict(filtered_dict)


def course_keytoken_weighted_loss(inputs, logits, keytoken_ids, alpha=1.0):
    """§6 "Training with Accelerate", with only the removed ``reduce=False`` spelled
    ``reduction="none"``. Ours: `loss.keytoken_weighted_loss`."""
    shift_labels = inputs[..., 1:].contiguous()
    shift_logits = logits[..., :-1, :].contiguous()
    loss_fct = CrossEntropyLoss(reduction="none")
    loss = loss_fct(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1))
    loss_per_sample = loss.view(shift_logits.size(0), shift_logits.size(1)).mean(axis=1)
    weights = torch.stack([(inputs == kt).float() for kt in keytoken_ids]).sum(axis=[0, 2])
    weights = alpha * (1.0 + weights)
    return (loss_per_sample * weights).mean()


def course_get_grouped_params(model, weight_decay=0.1, no_decay=["bias", "LayerNorm.weight"]):
    """§6 "Training with Accelerate": decay decided by parameter *names*, and GPT-2 calls its norms
    ``ln_1``/``ln_2``/``ln_f``, so their weights are decayed. Ours: `loss.get_grouped_params`."""
    params_with_wd, params_without_wd = [], []
    for n, p in model.named_parameters():
        if any(nd in n for nd in no_decay):
            params_without_wd.append(p)
        else:
            params_with_wd.append(p)
    return [{"params": params_with_wd, "weight_decay": weight_decay}, {"params": params_without_wd, "weight_decay": 0.0}]


def course_tokenize_fn(tokenizer, context_length):
    """§6 "Preparing the dataset": the course's ``tokenize(element)``, which reads ``tokenizer`` and
    ``context_length`` from the notebook's globals, so here they come in through a closure.
    Ours: `tokenize.make_tokenize`."""
    def tokenize(element):
        outputs = tokenizer(
            element["content"],
            truncation=True,
            max_length=context_length,
            return_overflowing_tokens=True,
            return_length=True,
        )
        input_batch = []
        for length, input_ids in zip(outputs["length"], outputs["input_ids"]):
            if length == context_length:
                input_batch.append(input_ids)
        return {"input_ids": input_batch}

    return tokenize
