"""The middleware pipeline: one request flow for send and stream, sync and async."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from costkit._models import RequestSent, ResponseGenerated
from costkit.errors import MiddlewareError
from costkit.middleware import Call, Middleware

if TYPE_CHECKING:
    from costkit._models import Request, Response, StreamChunk
    from costkit.drivers import AsyncDriverStream, Driver, DriverStream

__all__ = ["AsyncPipelineStream", "Pipeline", "PipelineStream", "check_not_in_middleware"]

logger = logging.getLogger(__name__)

_active_middleware: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "costkit_active_middleware", default=None
)


def check_not_in_middleware(action: str) -> None:
    """Raise MiddlewareError when called from inside a middleware hook.

    Middleware sit between the client and the driver; calling the client from one would run
    the whole pipeline again, and again, without end.
    """
    name = _active_middleware.get()
    if name is not None:
        message = (
            f"middleware {name!r} called {action} from inside the pipeline; a middleware must not call the "
            "client (it would run every middleware again without end). Change call.request in on_request "
            "instead, or do the extra call outside the pipeline"
        )
        raise MiddlewareError(message)


@contextlib.contextmanager
def _inside(middleware: Middleware) -> Iterator[None]:
    token = _active_middleware.set(middleware.name or type(middleware).__name__)
    try:
        yield
    finally:
        _active_middleware.reset(token)


class Pipeline:
    """The middleware of one call, outermost first, and the driver at the centre."""

    def __init__(self, middleware: Sequence[Middleware], driver: Driver, call: Call) -> None:
        self.middleware = tuple(middleware)
        self.driver = driver
        self.call = call
        self.entered: list[Middleware] = []

    @property
    def _plugins(self) -> Any:
        return self.call.context.plugins

    # --- sync ------------------------------------------------------------------------------

    def enter(self) -> Request:
        """Run every ``on_request``, outermost first; on failure run ``on_error`` of those entered."""
        try:
            for middleware in self.middleware:
                with _inside(middleware):
                    changed = middleware.on_request(self.call)
                if changed is not None:
                    self.call.request = changed
                self.entered.append(middleware)
            self._plugins.request_sent(RequestSent(self.call.request))
        except BaseException as exc:
            self.fail(exc)
            raise
        return self.call.request

    def fail(self, error: BaseException) -> None:
        """Run ``on_error`` of the entered middleware, innermost first; their own errors are logged."""
        for middleware in reversed(self.entered):
            try:
                with _inside(middleware):
                    middleware.on_error(self.call, error)
            except Exception:
                logger.error("Middleware %s failed in on_error", middleware.name, exc_info=True)
        self.entered = []

    def finish(self, response: Response) -> Response:
        """Attach the pricer, emit the response event and run ``on_response``, innermost first.

        Every middleware's ``on_response`` runs even when one fails; the first failure is
        raised afterwards with the response attached as ``error.response``.
        """
        response._pricer = self.call.context.chain.price_response
        self._plugins.response_generated(ResponseGenerated(self.call.request, response))
        first_error: BaseException | None = None
        for middleware in reversed(self.entered):
            try:
                with _inside(middleware):
                    middleware.on_response(self.call, response)
            except Exception as exc:
                logger.error("Middleware %s failed in on_response", middleware.name, exc_info=True)
                first_error = first_error or exc
        self.entered = []
        if first_error is not None:
            first_error.response = response  # type: ignore[attr-defined]
            raise first_error
        return response

    def send(self) -> Response:
        """Run the whole call: middleware in, the driver, middleware out."""
        request = self.enter()
        try:
            response = self.driver.send(request)
        except BaseException as exc:
            self.fail(exc)
            raise
        return self.finish(response)

    # --- async -----------------------------------------------------------------------------

    async def aenter(self) -> Request:
        """Async twin of :meth:`enter`."""
        try:
            for middleware in self.middleware:
                with _inside(middleware):
                    changed = await middleware.aon_request(self.call)
                if changed is not None:
                    self.call.request = changed
                self.entered.append(middleware)
            self._plugins.request_sent(RequestSent(self.call.request))
        except BaseException as exc:
            await self.afail(exc)
            raise
        return self.call.request

    async def afail(self, error: BaseException) -> None:
        """Async twin of :meth:`fail`."""
        for middleware in reversed(self.entered):
            try:
                with _inside(middleware):
                    await middleware.aon_error(self.call, error)
            except Exception:
                logger.error("Middleware %s failed in on_error", middleware.name, exc_info=True)
        self.entered = []

    async def afinish(self, response: Response) -> Response:
        """Async twin of :meth:`finish`."""
        response._pricer = self.call.context.chain.price_response
        self._plugins.response_generated(ResponseGenerated(self.call.request, response))
        first_error: BaseException | None = None
        for middleware in reversed(self.entered):
            try:
                with _inside(middleware):
                    await middleware.aon_response(self.call, response)
            except Exception as exc:
                logger.error("Middleware %s failed in on_response", middleware.name, exc_info=True)
                first_error = first_error or exc
        self.entered = []
        if first_error is not None:
            first_error.response = response  # type: ignore[attr-defined]
            raise first_error
        return response

    async def asend(self) -> Response:
        """Async twin of :meth:`send`."""
        request = await self.aenter()
        try:
            response = await self.driver.asend(request)
        except BaseException as exc:
            await self.afail(exc)
            raise
        return await self.afinish(response)


class PipelineStream(Iterator["StreamChunk"]):
    """A stream through the pipeline; ``response`` is set once the middleware saw its end.

    The middleware's ``on_request`` and the HTTP request run on the first ``next()`` (or on
    entering a ``with`` block). Closing the stream early closes the HTTP stream and still
    accounts for what arrived.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._driver_stream: DriverStream | None = None
        self._finished = False
        self.response: Response | None = None
        "The final response; ``None`` until the stream ended or was closed."
        self.on_settled: list[Callable[[Response], None]] = []
        "Called with the final response after the middleware saw it."

    @property
    def request(self) -> Request:
        """The request as the middleware left it."""
        return self._pipeline.call.request

    def _start(self) -> DriverStream:
        if self._driver_stream is None:
            request = self._pipeline.enter()
            try:
                stream = self._pipeline.driver.stream(request)
                stream.open()
            except BaseException as exc:
                self._finished = True
                self._pipeline.fail(exc)
                raise
            self._driver_stream = stream
        return self._driver_stream

    def _settle(self) -> None:
        if self._finished:
            return
        self._finished = True
        assert self._driver_stream is not None
        response = self._driver_stream.response
        if response is None:
            return
        self.response = self._pipeline.finish(response)
        for callback in self.on_settled:
            callback(self.response)

    def __iter__(self) -> PipelineStream:
        return self

    def __next__(self) -> StreamChunk:
        if self._finished:
            raise StopIteration
        stream = self._start()
        try:
            return next(stream)
        except StopIteration:
            self._settle()
            raise
        except BaseException as exc:
            if stream.response is None:
                stream.close()
            if stream.response is not None:
                # Tokens were billed before the failure: account for them, then raise.
                self._settle()
            else:
                self._finished = True
                self._pipeline.fail(exc)
            raise

    def close(self) -> None:
        """Stop the stream: close the HTTP stream and let the middleware account for what arrived."""
        if self._finished:
            return
        if self._driver_stream is None:
            self._finished = True
            return
        self._driver_stream.close()
        self._settle()

    def __enter__(self) -> PipelineStream:
        self._start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def text(self) -> str:
        """The text received so far."""
        if self._driver_stream is None:
            return ""
        return "".join(self._driver_stream.state.text)


class AsyncPipelineStream(AsyncIterator["StreamChunk"]):
    """The async twin of :class:`PipelineStream`: ``async for`` it, ``await aclose()`` to stop."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._driver_stream: AsyncDriverStream | None = None
        self._finished = False
        self.response: Response | None = None
        "The final response; ``None`` until the stream ended or was closed."
        self.on_settled: list[Callable[[Response], None]] = []
        "Called with the final response after the middleware saw it."

    @property
    def request(self) -> Request:
        """The request as the middleware left it."""
        return self._pipeline.call.request

    async def _start(self) -> AsyncDriverStream:
        if self._driver_stream is None:
            request = await self._pipeline.aenter()
            try:
                stream = self._pipeline.driver.astream(request)
                await stream.open()
            except BaseException as exc:
                self._finished = True
                await self._pipeline.afail(exc)
                raise
            self._driver_stream = stream
        return self._driver_stream

    async def _settle(self) -> None:
        if self._finished:
            return
        self._finished = True
        assert self._driver_stream is not None
        response = self._driver_stream.response
        if response is None:
            return
        self.response = await self._pipeline.afinish(response)
        for callback in self.on_settled:
            callback(self.response)

    def __aiter__(self) -> AsyncPipelineStream:
        return self

    async def __anext__(self) -> StreamChunk:
        if self._finished:
            raise StopAsyncIteration
        stream = await self._start()
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            await self._settle()
            raise
        except BaseException as exc:
            # Cancellation or a failure mid-stream: close the HTTP stream, then account for
            # what arrived (the provider bills it) or release the request's holds.
            if stream.response is None:
                await stream.aclose()
            if stream.response is not None:
                await self._settle()
            else:
                self._finished = True
                await self._pipeline.afail(exc)
            raise

    async def aclose(self) -> None:
        """Stop the stream: close the HTTP stream and let the middleware account for what arrived."""
        if self._finished:
            return
        if self._driver_stream is None:
            self._finished = True
            return
        await self._driver_stream.aclose()
        await self._settle()

    async def __aenter__(self) -> AsyncPipelineStream:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def text(self) -> str:
        """The text received so far."""
        if self._driver_stream is None:
            return ""
        return "".join(self._driver_stream.state.text)
