"""An audit-log middleware for costkit, shipped as a plugin package."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import costkit
from costkit.middleware import Call, Middleware

if TYPE_CHECKING:
    from costkit import Response
    from costkit._client import ClientContext

__all__ = ["AuditMiddleware", "costkit_register_middleware"]


class AuditMiddleware(Middleware):
    """Append one JSON line per finished request to ``path``."""

    name = "audit"

    def __init__(self, context: ClientContext, path: str = "costkit-audit.jsonl") -> None:
        super().__init__(context)
        self.path = Path(path)

    def on_response(self, call: Call, response: Response) -> None:
        """Write the request id, model, status, tokens and exact cost."""
        usage = response.usage
        line = {
            "request_id": call.request.request_id,
            "provider": call.request.provider,
            "model": response.model,
            "status": response.status,
            "input_tokens": usage.input_tokens if usage else None,
            "output_tokens": usage.output_tokens if usage else None,
            "cost": str(response.total_cost),
        }
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")


@costkit.hookimpl
def costkit_register_middleware(register: Callable[..., None]) -> None:
    """Make the middleware usable by the name ``audit``."""
    register("audit", AuditMiddleware)
