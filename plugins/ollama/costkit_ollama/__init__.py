"""The Ollama provider for costkit."""

from __future__ import annotations
