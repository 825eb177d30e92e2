"""Middleware: code that runs around every request, on every API pattern.

Middleware form an onion. For a request passing through ``[a, b, c]``::

    a.on_request -> b.on_request -> c.on_request -> driver
    a.on_response <- b.on_response <- c.on_response <-

For a stream, ``on_response`` runs when the stream ends, is closed early or is cut off (with
``response.status`` telling which), before the caller can read ``stream.response``. When the
driver or an inner middleware fails before any answer, ``on_error`` runs in every middleware
whose ``on_request`` completed, innermost first; this includes task cancellation.

A middleware never calls the client; doing so raises :class:`~costkit.MiddlewareError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from costkit.errors import MiddlewareError

if TYPE_CHECKING:
    from costkit._client import ClientContext
    from costkit._models import Request, Response

__all__ = ["Call", "Middleware"]


@attrs.define
class Call:
    """One request on its way through the middleware.

    ``request`` is replaced when a middleware returns a changed request from ``on_request``;
    ``state`` is scratch space shared by the middleware of this one call.
    """

    request: Request
    "The request, as changed by the middleware so far."
    context: ClientContext
    "The client's ledger, pricing chain, plugins and settings."
    streamed: bool = False
    "True when the caller asked for a stream."
    state: dict[str, Any] = attrs.field(factory=dict)
    "Scratch space, for example a reservation id kept from ``on_request`` to ``on_response``."


class Middleware:
    """Base class of middleware. Override the hooks you need; each does nothing by default.

    Args:
        context: The client's context (ledger, pricing chain, plugin manager, settings).
        **options: The options configured for this middleware's name; a subclass declares
            them as keyword arguments, so unknown options raise an error.

    The ``a``-prefixed hooks run on :class:`~costkit.AsyncClient`; by default they call the
    sync hooks directly on the event loop, which suits quick work. Override them for slow I/O.

    .. versionadded:: 0.1
    """

    name: ClassVar[str] = ""

    def __init__(self, context: ClientContext, **options: Any) -> None:
        if options:
            message = f"middleware {self.name or type(self).__name__!r} takes no options, got {sorted(options)!r}"
            raise MiddlewareError(message)
        self.context = context

    def on_request(self, call: Call) -> Request | None:
        """Run before the provider is called; return a changed request, or ``None`` to keep it.

        Raising here refuses the request: the provider is not called, and the outer
        middleware see ``on_error``.
        """
        return None

    def on_response(self, call: Call, response: Response) -> None:
        """Run after the provider answered, or when a stream ended, was closed or was cut off."""

    def on_error(self, call: Call, error: BaseException) -> None:
        """Run when the request failed before any answer: a provider error, a refusal by an inner
        middleware, or cancellation. The error is raised to the caller afterwards."""

    async def aon_request(self, call: Call) -> Request | None:
        """Async twin of :meth:`on_request`."""
        return self.on_request(call)

    async def aon_response(self, call: Call, response: Response) -> None:
        """Async twin of :meth:`on_response`."""
        self.on_response(call, response)

    async def aon_error(self, call: Call, error: BaseException) -> None:
        """Async twin of :meth:`on_error`."""
        self.on_error(call, error)
