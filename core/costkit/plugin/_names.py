"""The one name shared by the pluggy project, the hook prefix and the entry-point group."""

from __future__ import annotations

from typing import Final

__all__ = ["ENTRY_POINT_GROUP", "HOOK_PREFIX", "PROJECT_NAME"]

PROJECT_NAME: Final = "costkit"
"""The pluggy project name of the hook markers."""
ENTRY_POINT_GROUP: Final = PROJECT_NAME
"""The entry-point group that installed plugins declare."""
HOOK_PREFIX: Final = f"{PROJECT_NAME}_"
"""Every hook name starts with this prefix."""
