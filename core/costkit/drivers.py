"""The driver interface, and an httpx-based driver that provider plugins build on.

A driver turns a :class:`~costkit.Request` into a :class:`~costkit.Response`, or into a stream
of :class:`~costkit.StreamChunk` that ends with a response. :class:`HTTPDriver` does the work
every HTTP provider shares: sync and async httpx clients with connection reuse, timeouts,
bounded retries that honour ``Retry-After``, the three stream framings, early close, and
token estimates for streams that end without usage. A provider plugin subclasses it and
writes only what differs: the request body, the response parsing and the error mapping.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import attrs
import httpx

from costkit._estimate import estimate_prompt_tokens, estimate_tokens
from costkit._models import Response, StreamChunk
from costkit._streaming import EventDecoder
from costkit._usage import Usage
from costkit.errors import (
    ConfigurationError,
    ProviderConnectionError,
    ProviderError,
    RequestTimeoutError,
    ServerError,
    UsageError,
)

if TYPE_CHECKING:
    from costkit._models import Request

__all__ = [
    "AsyncDriverStream",
    "Driver",
    "DriverStream",
    "HTTPCall",
    "HTTPDriver",
    "ParsedResponse",
    "StreamState",
    "decode_error_body",
    "estimate_usage",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
MAX_RETRY_DELAY = 30.0


@runtime_checkable
class Driver(Protocol):
    """The interface of a provider driver; :class:`HTTPDriver` implements all of it.

    .. versionadded:: 0.1
    """

    provider: str

    def send(self, request: Request) -> Response:
        """Send a request and return the whole response."""
        ...

    async def asend(self, request: Request) -> Response:
        """Send a request without blocking the event loop."""
        ...

    def stream(self, request: Request) -> DriverStream:
        """Start a streamed request."""
        ...

    def astream(self, request: Request) -> AsyncDriverStream:
        """Start a streamed request on the event loop."""
        ...

    def close(self) -> None:
        """Close the sync HTTP client."""
        ...

    async def aclose(self) -> None:
        """Close the async HTTP client."""
        ...


@attrs.frozen
class HTTPCall:
    """One HTTP request a driver wants sent, relative to its base URL."""

    path: str
    "Path appended to the base URL, such as ``/chat/completions``."
    json: Any = None
    "The JSON body."
    method: str = "POST"
    "The HTTP method."
    params: Mapping[str, str] = attrs.field(factory=dict)
    "Query parameters; never put a secret here, query strings end up in logs."
    headers: Mapping[str, str] = attrs.field(factory=dict)
    "Extra headers for this call."


@attrs.frozen
class ParsedResponse:
    """The text, usage and model a driver reads out of a whole (non-streamed) response body."""

    text: str
    "The answer's text."
    usage: Usage | None
    "The usage, or ``None`` when the body carries none (it is then estimated)."
    model: str | None = None
    "The model as the provider named it."
    finish_reason: str | None = None
    "Why the model stopped."
    metadata: dict[str, Any] = attrs.field(factory=dict)
    "Provider details kept on the response."


@attrs.define
class StreamState:
    """The events, text and details a driver accumulates while it reads a stream."""

    events: list[Any] = attrs.field(factory=list)
    "Every decoded event so far."
    text: list[str] = attrs.field(factory=list)
    "Every text delta so far."
    model: str | None = None
    "The model as the provider named it, once an event said so."
    finish_reason: str | None = None
    "Why the model stopped, once an event said so."
    metadata: dict[str, Any] = attrs.field(factory=dict)
    "Provider details to keep on the response."
    usage: Usage | None = None
    "Usage read from a whole JSON body, when the server responded to a stream request without streaming."


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Read a delay in seconds from ``Retry-After`` (seconds or an HTTP date), or ``None``."""
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if not value:
            continue
        try:
            seconds = float(value)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if name == "retry-after" else None
            if parsed is None:
                continue
            return max(0.0, float(parsed.timestamp() - time.time()))
        return seconds / 1000 if name == "retry-after-ms" else seconds
    return None


def decode_error_body(response: httpx.Response) -> Any:
    """Decode an error body as JSON, falling back to its text."""
    try:
        return response.json()
    except ValueError:
        return response.text


def estimate_usage(request: Request, output_text: str) -> Usage:
    """Estimate the usage of a request whose response came without usage (see ``costkit._estimate``)."""
    input_tokens = estimate_prompt_tokens(message.content for message in request.messages)
    return Usage(input_tokens=input_tokens, output_tokens=estimate_tokens(output_text), estimated=True)


class HTTPDriver:
    """Base class of httpx-based provider drivers.

    Subclasses set :attr:`provider`, :attr:`default_base_url` and :attr:`stream_framing`, and
    implement :meth:`auth_headers`, :meth:`build_call`, :meth:`parse_response`,
    :meth:`parse_stream_event`, :meth:`stream_usage` and :meth:`map_error`.

    Args:
        api_key: The provider key; kept private, never logged or shown in a repr.
        base_url: The API root; defaults to :attr:`default_base_url`.
        timeout: Seconds to wait for each network operation.
        max_retries: Extra attempts for rate limits, 5xx responses, timeouts and refused
            connections (never for other 4xx), with exponential backoff that honours
            ``Retry-After``.
        transport: An httpx transport, such as ``httpx.MockTransport`` in tests.
        headers: Extra headers sent with every request.

    .. versionadded:: 0.1
    """

    provider: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    stream_framing: ClassVar[str] = "sse"
    setup_hint: ClassVar[str] = ""
    "Appended to connection errors: how to start or reach the server."

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            known = "api_key, base_url, timeout, max_retries, transport, headers"
            message = f"unknown option(s) for the {self.provider} driver: {', '.join(sorted(unknown))}; known: {known}"
            raise ConfigurationError(message)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            message = f"max_retries for {self.provider} must be a non-negative int, got {max_retries!r}"
            raise ConfigurationError(message)
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            message = f"timeout for {self.provider} must be a positive number of seconds, got {timeout!r}"
            raise ConfigurationError(message)
        self._api_key = api_key
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self._transport = transport
        self._headers = dict(headers or {})
        self._client: httpx.Client | None = None
        self._async_client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        key = "set" if self._api_key else "not set"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key})"

    # --- For subclasses --------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Return the headers that carry the API key."""
        return {}

    def build_call(self, request: Request, *, stream: bool) -> HTTPCall:
        """Return the HTTP request for ``request``."""
        raise NotImplementedError

    def parse_response(self, request: Request, payload: Any) -> ParsedResponse:
        """Read the text, usage and model out of a whole response body."""
        raise NotImplementedError

    def parse_stream_event(self, request: Request, event: Any, state: StreamState) -> str:
        """Read one decoded stream event; return its text delta (``""`` for none).

        Update ``state.model``, ``state.finish_reason`` and ``state.metadata`` as events tell
        them; raise a :class:`~costkit.ProviderError` for an error event.
        """
        raise NotImplementedError

    def stream_usage(self, request: Request, state: StreamState) -> Usage | None:
        """Return the usage of a finished stream from ``state.events``, or ``None``."""
        raise NotImplementedError

    def map_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
        """Translate an error response into the matching :class:`~costkit.ProviderError`."""
        return ProviderError(
            f"{self.provider} returned HTTP {status}: {body!r}", provider=self.provider, status_code=status, body=body
        )

    def stream_framing_for(self, request: Request) -> str:
        """Return the framing of a stream for ``request``; :attr:`stream_framing` by default."""
        return self.stream_framing

    # --- HTTP ------------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        """The sync httpx client, created on first use and reused for every request."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url,
                timeout=self.timeout,
                transport=self._transport,  # type: ignore[arg-type]
                headers=self._headers,
            )
        return self._client

    @property
    def async_client(self) -> httpx.AsyncClient:
        """The async httpx client, created on first use and reused for every request."""
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self.timeout,
                transport=self._transport,  # type: ignore[arg-type]
                headers=self._headers,
            )
        return self._async_client

    def close(self) -> None:
        """Close the sync client and its connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close both clients and their connections."""
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None
        self.close()

    def _http_request(self, client: httpx.Client | httpx.AsyncClient, call: HTTPCall) -> httpx.Request:
        headers = {**self.auth_headers(), **call.headers}
        return client.build_request(call.method, call.path, json=call.json, params=call.params, headers=headers)

    def _url(self, call: HTTPCall) -> str:
        return f"{self.base_url}{call.path}"

    def _translate_transport_error(self, exc: httpx.TransportError, call: HTTPCall) -> ProviderError:
        url = self._url(call)
        if isinstance(exc, httpx.TimeoutException):
            message = (
                f"{self.provider} did not answer {call.method} {url} within {self.timeout:g} s; "
                "raise the timeout option or try again later"
            )
            return RequestTimeoutError(message, provider=self.provider)
        if isinstance(exc, httpx.ConnectError):
            message = f"no {self.provider} server responded at {url}: {exc}"
            if self.setup_hint:
                message = f"{message}. {self.setup_hint}"
            return ProviderConnectionError(message, provider=self.provider)
        message = f"the connection to {self.provider} at {url} failed: {exc!r}"
        return ServerError(message, provider=self.provider)

    def _error_from_response(self, response: httpx.Response, body: Any) -> ProviderError:
        error = self.map_error(response.status_code, body, response.headers)
        if error.retry_after is None:
            error.retry_after = parse_retry_after(response.headers)
        return error

    def _retry_delay(self, attempt: int, error: ProviderError) -> float | None:
        if not error.retryable or attempt >= self.max_retries:
            return None
        if error.retry_after is not None:
            return float(min(error.retry_after, MAX_RETRY_DELAY))
        backoff: float = min(0.5 * 2**attempt, MAX_RETRY_DELAY)
        return backoff * (0.5 + random.random() / 2)

    def _log_retry(self, call: HTTPCall, error: ProviderError, delay: float, attempt: int) -> None:
        logger.warning(
            "%s %s failed (%s); retry %d of %d in %.2f s",
            call.method,
            self._url(call),
            type(error).__name__,
            attempt + 1,
            self.max_retries,
            delay,
        )

    def _decode_json(self, response: httpx.Response, call: HTTPCall) -> Any:
        try:
            return response.json()
        except ValueError:
            content_type = response.headers.get("content-type", "none")
            message = (
                f"{self.provider} returned HTTP {response.status_code} from {self._url(call)} with a body that is "
                f"not JSON (content type {content_type!r}); check that base_url points at the API root"
            )
            raise ProviderError(message, provider=self.provider, status_code=response.status_code) from None

    def _parse(self, request: Request, payload: Any) -> ParsedResponse:
        try:
            return self.parse_response(request, payload)
        except UsageError as exc:
            message = (
                f"{self.provider} returned usage that costkit cannot accept: {exc}. If base_url points at another "
                "provider's API, use that provider's plugin (xAI, for one, counts reasoning outside the "
                "completion tokens)"
            )
            raise ProviderError(message, provider=self.provider, body=payload) from exc

    def _finish(self, request: Request, parsed: ParsedResponse, payload: Any, started: float) -> Response:
        usage = parsed.usage
        if usage is None:
            usage = estimate_usage(request, parsed.text)
            logger.warning(
                "%s returned no usage for request %s; estimated %d input and %d output tokens",
                self.provider,
                request.request_id,
                usage.input_tokens,
                usage.output_tokens,
            )
        return Response(
            request=request,
            text=parsed.text,
            usage=usage,
            model=parsed.model or request.model,
            raw=payload,
            elapsed=time.perf_counter() - started,
            finish_reason=parsed.finish_reason,
            metadata=dict(parsed.metadata),
        )

    def send(self, request: Request) -> Response:
        """Send ``request`` and return the parsed response, retrying where that may help."""
        call = self.build_call(request, stream=False)
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                response = self.client.send(self._http_request(self.client, call))
            except httpx.TransportError as exc:
                error = self._translate_transport_error(exc, call)
                delay = self._retry_delay(attempt, error)
                if delay is None:
                    raise error from exc
            else:
                if response.is_success:
                    break
                error = self._error_from_response(response, decode_error_body(response))
                delay = self._retry_delay(attempt, error)
                if delay is None:
                    raise error
            self._log_retry(call, error, delay, attempt)
            time.sleep(delay)
            attempt += 1

        payload = self._decode_json(response, call)
        logger.info(
            "%s %s -> %d in %.3f s", call.method, self._url(call), response.status_code, time.perf_counter() - started
        )
        return self._finish(request, self._parse(request, payload), payload, started)

    async def asend(self, request: Request) -> Response:
        """Send ``request`` on the event loop; the async twin of :meth:`send`."""
        call = self.build_call(request, stream=False)
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                response = await self.async_client.send(self._http_request(self.async_client, call))
            except httpx.TransportError as exc:
                error = self._translate_transport_error(exc, call)
                delay = self._retry_delay(attempt, error)
                if delay is None:
                    raise error from exc
            else:
                if response.is_success:
                    break
                error = self._error_from_response(response, decode_error_body(response))
                delay = self._retry_delay(attempt, error)
                if delay is None:
                    raise error
            self._log_retry(call, error, delay, attempt)
            await asyncio.sleep(delay)
            attempt += 1

        payload = self._decode_json(response, call)
        logger.info(
            "%s %s -> %d in %.3f s", call.method, self._url(call), response.status_code, time.perf_counter() - started
        )
        return self._finish(request, self._parse(request, payload), payload, started)

    def stream(self, request: Request) -> DriverStream:
        """Start a streamed request; see :class:`DriverStream`."""
        return DriverStream(self, request)

    def astream(self, request: Request) -> AsyncDriverStream:
        """Start a streamed request on the event loop; see :class:`AsyncDriverStream`."""
        return AsyncDriverStream(self, request)

    def _stream_response(self, request: Request, state: StreamState, started: float, status: str) -> Response:
        text = "".join(state.text)
        usage = state.usage or self.stream_usage(request, state)
        if usage is None:
            usage = estimate_usage(request, text)
            logger.warning(
                "%s stream for request %s carried no usage (status %s); estimated %d input and %d output tokens "
                "from the prompt and the streamed text",
                self.provider,
                request.request_id,
                status,
                usage.input_tokens,
                usage.output_tokens,
            )
        return Response(
            request=request,
            text=text,
            usage=usage,
            model=state.model or request.model,
            raw=state.events,
            elapsed=time.perf_counter() - started,
            streamed=True,
            status=status,
            finish_reason=state.finish_reason,
            metadata=dict(state.metadata),
        )


class _StreamBase:
    def __init__(self, driver: HTTPDriver, request: Request) -> None:
        self.driver = driver
        self.request = request
        self.state = StreamState()
        self.response: Response | None = None
        "The final response, set when the stream ends, is closed, or is cut off."
        self._started = time.perf_counter()
        self._call = driver.build_call(request, stream=True)
        self._decoder = EventDecoder(driver.stream_framing_for(request))
        self._pending: list[StreamChunk] = []
        self._done = False

    def _feed(self, text: str) -> None:
        for event in self._decoder.feed(text):
            self._event(event)

    def _event(self, event: Any) -> None:
        self.state.events.append(event)
        delta = self.driver.parse_stream_event(self.request, event, self.state)
        if delta:
            self.state.text.append(delta)
        self._pending.append(StreamChunk(delta or "", raw=event))

    def _end(self, status: str) -> Response:
        if self.response is None:
            self.response = self.driver._stream_response(self.request, self.state, self._started, status)
            logger.info(
                "%s %s stream ended (%s) after %d events in %.3f s",
                self._call.method,
                self.driver._url(self._call),
                status,
                len(self.state.events),
                time.perf_counter() - self._started,
            )
        return self.response

    def _ignored_stream(self, http: httpx.Response) -> bool:
        # A server that ignores the stream request sends one JSON body instead of events.
        framing = self.driver.stream_framing_for(self.request)
        return framing == "sse" and http.headers.get("content-type", "").startswith("application/json")

    def _whole_body(self, http: httpx.Response) -> None:
        payload = self.driver._decode_json(http, self._call)
        parsed = self.driver._parse(self.request, payload)
        logger.info("%s responded to a stream request with one JSON body", self.driver.provider)
        self.state.events.append(payload)
        self.state.text.append(parsed.text)
        self.state.model = parsed.model
        self.state.finish_reason = parsed.finish_reason
        self.state.metadata.update(parsed.metadata)
        self.state.usage = parsed.usage
        self._pending.append(StreamChunk(parsed.text, raw=payload))

    def _received_anything(self) -> bool:
        return bool(self.state.events)


async def _empty_async_iterator() -> AsyncIterator[str]:
    empty: tuple[str, ...] = ()
    for item in empty:
        yield item


class DriverStream(_StreamBase, Iterator[StreamChunk]):
    """A streamed answer: iterate for chunks; ``response`` is set when it ends.

    Closing it early closes the HTTP stream and sets ``response`` with ``status="closed"``
    and the usage of what was received (estimated when the provider sent none). A stream cut
    off by an error sets ``response`` with ``status="interrupted"`` before the error is raised.
    """

    def __init__(self, driver: HTTPDriver, request: Request) -> None:
        super().__init__(driver, request)
        self._http: httpx.Response | None = None
        self._text_iter: Iterator[str] | None = None

    def _open(self) -> None:
        driver = self.driver
        attempt = 0
        while True:
            try:
                http = driver.client.send(driver._http_request(driver.client, self._call), stream=True)
            except httpx.TransportError as exc:
                error = driver._translate_transport_error(exc, self._call)
                delay = driver._retry_delay(attempt, error)
                if delay is None:
                    raise error from exc
            else:
                if http.is_success:
                    break
                http.read()
                http.close()
                error = driver._error_from_response(http, decode_error_body(http))
                delay = driver._retry_delay(attempt, error)
                if delay is None:
                    raise error
            driver._log_retry(self._call, error, delay, attempt)
            time.sleep(delay)
            attempt += 1
        self._http = http
        if self._ignored_stream(http):
            http.read()
            self._whole_body(http)
            self._text_iter = iter(())
            return
        self._text_iter = http.iter_text()

    def open(self) -> None:
        """Send the HTTP request and check its status; iteration does it too when needed."""
        if self._text_iter is None and not self._done:
            self._open()

    def __iter__(self) -> DriverStream:
        return self

    def __next__(self) -> StreamChunk:
        while not self._pending:
            if self._done:
                raise StopIteration
            if self._text_iter is None:
                self._open()
            assert self._text_iter is not None
            try:
                text = next(self._text_iter, None)
                if text is None:
                    for event in self._decoder.close():
                        self._event(event)
                    self._done = True
                    self._close_http()
                    self._end("complete")
                    continue
                self._feed(text)
            except ProviderError:
                self._interrupt()
                raise
            except httpx.TransportError as exc:
                self._interrupt()
                raise self.driver._translate_transport_error(exc, self._call) from exc
        return self._pending.pop(0)

    def _interrupt(self) -> None:
        self._done = True
        self._close_http()
        self._end("interrupted")

    def _close_http(self) -> None:
        if self._http is not None:
            self._http.close()

    def close(self) -> None:
        """Stop reading: close the HTTP stream and account for what was received."""
        if self._done:
            return
        self._done = True
        self._close_http()
        if self._http is not None:
            self._end("closed")

    def __enter__(self) -> DriverStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncDriverStream(_StreamBase, AsyncIterator[StreamChunk]):
    """The async twin of :class:`DriverStream`: ``async for`` the chunks, ``await aclose()`` to stop."""

    def __init__(self, driver: HTTPDriver, request: Request) -> None:
        super().__init__(driver, request)
        self._http: httpx.Response | None = None
        self._text_iter: AsyncIterator[str] | None = None

    async def _open(self) -> None:
        driver = self.driver
        attempt = 0
        while True:
            try:
                http = await driver.async_client.send(
                    driver._http_request(driver.async_client, self._call), stream=True
                )
            except httpx.TransportError as exc:
                error = driver._translate_transport_error(exc, self._call)
                delay = driver._retry_delay(attempt, error)
                if delay is None:
                    raise error from exc
            else:
                if http.is_success:
                    break
                await http.aread()
                await http.aclose()
                error = driver._error_from_response(http, decode_error_body(http))
                delay = driver._retry_delay(attempt, error)
                if delay is None:
                    raise error
            driver._log_retry(self._call, error, delay, attempt)
            await asyncio.sleep(delay)
            attempt += 1
        self._http = http
        if self._ignored_stream(http):
            await http.aread()
            self._whole_body(http)
            self._text_iter = _empty_async_iterator()
            return
        self._text_iter = http.aiter_text()

    async def open(self) -> None:
        """Send the HTTP request and check its status; iteration does it too when needed."""
        if self._text_iter is None and not self._done:
            await self._open()

    def __aiter__(self) -> AsyncDriverStream:
        return self

    async def __anext__(self) -> StreamChunk:
        while not self._pending:
            if self._done:
                raise StopAsyncIteration
            if self._text_iter is None:
                await self._open()
            assert self._text_iter is not None
            try:
                try:
                    text = await self._text_iter.__anext__()
                except StopAsyncIteration:
                    for event in self._decoder.close():
                        self._event(event)
                    self._done = True
                    await self._close_http()
                    self._end("complete")
                    continue
                self._feed(text)
            except ProviderError:
                await self._interrupt()
                raise
            except httpx.TransportError as exc:
                await self._interrupt()
                raise self.driver._translate_transport_error(exc, self._call) from exc
        return self._pending.pop(0)

    async def _interrupt(self) -> None:
        self._done = True
        await self._close_http()
        self._end("interrupted")

    async def _close_http(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def aclose(self) -> None:
        """Stop reading: close the HTTP stream and account for what was received."""
        if self._done:
            return
        self._done = True
        opened = self._http is not None
        try:
            await self._close_http()
        finally:
            if opened:
                self._end("closed")

    async def __aenter__(self) -> AsyncDriverStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
