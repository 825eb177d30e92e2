"""Warning classes."""

from __future__ import annotations

__all__ = ["CostkitWarning", "PluginWarning"]


class CostkitWarning(UserWarning):
    """Base class of the warnings costkit emits: something degraded and costkit carried on."""


class PluginWarning(CostkitWarning):
    """An installed plugin failed to load or validate and was skipped."""
