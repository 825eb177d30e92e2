"""The Google Gemini provider for costkit."""

from __future__ import annotations
