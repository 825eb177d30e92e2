"""Token estimators for streams without usage and for budget reservations.

Two estimators with different aims:

- :func:`estimate_tokens` is a best guess of what a provider bills for a text: one token per
  four UTF-8 bytes, rounded up, which is close to the BPE tokenizers of OpenAI, xAI, Gemini
  and Llama models on English prose. It prices streams that arrived without usage; such
  usage is marked ``estimated``.
- :func:`upper_bound_tokens` never undercounts a byte-level BPE tokenizer: every token covers
  at least one byte, so the byte count plus a per-message allowance for the chat template is
  an upper bound. Budget reservations use it, so a reservation always covers the real input.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = [
    "BYTES_PER_TOKEN",
    "MESSAGE_OVERHEAD_TOKENS",
    "estimate_prompt_tokens",
    "estimate_tokens",
    "upper_bound_prompt_tokens",
    "upper_bound_tokens",
]

BYTES_PER_TOKEN: Final = 4
"""Average UTF-8 bytes per token assumed by :func:`estimate_tokens`."""

MESSAGE_OVERHEAD_TOKENS: Final = 4
"""Template tokens a chat format adds around each message (role markers and separators)."""

UPPER_BOUND_MESSAGE_OVERHEAD: Final = 16
"""A generous allowance per message for :func:`upper_bound_prompt_tokens`."""


def estimate_tokens(text: str) -> int:
    """Estimate the tokens a provider bills for ``text``: ceil(UTF-8 bytes / 4)."""
    size = len(text.encode("utf-8"))
    return -(-size // BYTES_PER_TOKEN)


def estimate_prompt_tokens(contents: Iterable[str]) -> int:
    """Estimate the prompt tokens of chat messages: each text plus the per-message overhead."""
    return sum(estimate_tokens(text) + MESSAGE_OVERHEAD_TOKENS for text in contents)


def upper_bound_tokens(text: str) -> int:
    """Return an upper bound of the tokens of ``text``: its UTF-8 byte count."""
    return len(text.encode("utf-8"))


def upper_bound_prompt_tokens(contents: Iterable[str]) -> int:
    """Return an upper bound of the prompt tokens of chat messages, template included."""
    return sum(upper_bound_tokens(text) + UPPER_BOUND_MESSAGE_OVERHEAD for text in contents) + (
        UPPER_BOUND_MESSAGE_OVERHEAD
    )
