"""§6 step 6, the custom parts of the Accelerate loop: key-token loss and weight-decay groups.

The course weights each sample's loss by how often data-science key tokens (``plt``, ``pd``,
``sk``, ``fit``, ``predict``) occur in it, so the model cares more about code that uses those
libraries. Its parameter grouping means to exclude biases and LayerNorm weights from weight
decay, but matches names against ``"LayerNorm.weight"``, which GPT-2's ``ln_1``/``ln_2``/``ln_f``
never contain: here the choice is made by module type.
"""
from __future__ import annotations

import warnings
from typing import Any, Iterable, Sequence

from ..training import get_grouped_params  # the one grouping both tracks use (shown in notebook 05)

__all__ = [
    "COURSE_KEYWORDS",
    "keytoken_ids_from_keywords",
    "keytoken_weighted_loss",
    "keytoken_weights",
    "per_sample_loss",
    "get_grouped_params",
    "describe_groups",
]

# The course's list, including its deliberate "testtest", which is never one token.
COURSE_KEYWORDS: tuple[str, ...] = (
    "plt", "pd", "sk", "fit", "predict",
    " plt", " pd", " sk", " fit", " predict",
    "testtest",
)


def keytoken_ids_from_keywords(
    tokenizer: Any, keywords: Sequence[str] = COURSE_KEYWORDS, *, warn: bool = True
) -> list[int]:
    """Token ids of the keywords that are a single token; warns for each one that is not.

    A multi-token keyword cannot be counted by matching one id, so it is skipped (as the
    course does) but reported, so the learner knows the weighting ignores it.
    """
    if isinstance(keywords, str):
        raise TypeError("keywords must be a list of strings, not one string")
    if len(keywords) == 0:
        raise ValueError("keywords is empty: give at least one keyword to weight")
    ids: list[int] = []
    for keyword in keywords:
        if not isinstance(keyword, str) or keyword == "":
            raise TypeError(f"keyword {keyword!r} must be a non-empty string")
        token_ids = tokenizer(keyword, add_special_tokens=False)["input_ids"]
        if len(token_ids) == 1:
            if token_ids[0] not in ids:
                ids.append(token_ids[0])
        elif warn:
            warnings.warn(
                f"keyword {keyword!r} is not a single token ({len(token_ids)} tokens: "
                f"{tokenizer.convert_ids_to_tokens(token_ids)}); it is left out of the key-token weights",
                stacklevel=2,
            )
    return ids


def per_sample_loss(input_ids, logits, ignore_index: int = -100):
    """Mean next-token cross-entropy of each sample (shape ``[batch]``).

    ``reduction="none"`` keeps one loss per token, which is what lets us average per sample;
    the course's ``CrossEntropyLoss(reduce=False)`` is the removed spelling of the same thing.
    """
    import torch.nn.functional as F

    # Shift the labels, not the logits: padding the labels with one ignored position keeps the
    # [batch, seq, vocab] logits as they are, where slicing them would copy all of them.
    labels = F.pad(input_ids[..., 1:], (0, 1), value=ignore_index)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),
        labels.reshape(-1),
        reduction="none",
        ignore_index=ignore_index,
    ).view(labels.shape)
    counted = (labels != ignore_index).to(loss.dtype)
    return loss.sum(dim=1) / counted.sum(dim=1).clamp(min=1.0)


def keytoken_weighted_loss(inputs, logits, keytoken_ids: Sequence[int], alpha: float = 1.0):
    """The course's key-token weighted loss: each sample's mean loss times ``alpha * (1 + count)``.

    ``count`` is how many of the sample's tokens are key tokens. Same value as the course's
    version (tested), but the count is one ``torch.isin`` instead of a stacked mask per key token.
    """
    if inputs.dim() != 2 or logits.dim() != 3 or logits.shape[:2] != inputs.shape:
        raise ValueError(
            f"inputs must be [batch, seq] and logits [batch, seq, vocab]; got {tuple(inputs.shape)} "
            f"and {tuple(logits.shape)}"
        )
    loss_per_sample = per_sample_loss(inputs, logits)
    weights = keytoken_weights(inputs, keytoken_ids, alpha).to(loss_per_sample.dtype)
    return (loss_per_sample * weights).mean()


def keytoken_weights(inputs, keytoken_ids: Sequence[int], alpha: float = 1.0):
    """``alpha * (1 + number of key tokens in the sample)``, one weight per sample."""
    import torch

    if len(keytoken_ids) == 0:
        counts = torch.zeros(inputs.shape[0], device=inputs.device)
    else:
        keys = torch.as_tensor(list(keytoken_ids), device=inputs.device, dtype=inputs.dtype)
        counts = torch.isin(inputs, keys).sum(dim=1).float()
    return alpha * (1.0 + counts)


def describe_groups(model: Any, groups: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Parameter names in each group, for printing which ones escape weight decay."""
    names = {id(p): n for n, p in model.named_parameters()}
    return {
        f"weight_decay={g['weight_decay']}": [names[id(p)] for p in g["params"]] for g in groups
    }
