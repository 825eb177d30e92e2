"""The OpenAI provider for costkit."""

from __future__ import annotations
