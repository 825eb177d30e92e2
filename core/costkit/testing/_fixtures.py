"""Access to recorded provider payloads, and a transport that replays them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import httpx

from costkit._money import format_amount
from costkit._usage import Usage

__all__ = ["FIXTURES_ENV", "expected_usage", "fixtures_dir", "load_body", "replay_transport", "usage_as_expected"]

FIXTURES_ENV: Final = "COSTKIT_FIXTURES"
"""Environment variable naming the folder of recorded payloads."""

DEFAULT_FIXTURES: Final = Path("..") / "shared" / "fixtures" / "providers"
"""The default folder, relative to the repository root (the folder of ``pyproject.toml``)."""


def _repository_root() -> Path:
    # An editable install sits in the checkout; otherwise look up from the working directory.
    for start in (Path(__file__).resolve().parent, Path.cwd()):
        for folder in (start, *start.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "core" / "costkit").is_dir():
                return folder
    return Path.cwd()


def fixtures_dir() -> Path | None:
    """Return the folder of recorded payloads, or ``None`` where it does not exist.

    ``COSTKIT_FIXTURES`` names it; otherwise ``../shared/fixtures/providers`` next to the
    repository root.
    """
    configured = os.environ.get(FIXTURES_ENV)
    path = Path(configured) if configured else _repository_root() / DEFAULT_FIXTURES
    path = path.resolve()
    return path if path.is_dir() else None


def _require_dir() -> Path:
    folder = fixtures_dir()
    if folder is None:
        message = f"no recorded payloads folder; set {FIXTURES_ENV} to the folder of recorded provider bodies"
        raise FileNotFoundError(message)
    return folder


def load_body(name: str) -> bytes:
    """Return the bytes of one recorded body by file name."""
    return (_require_dir() / name).read_bytes()


def expected_usage(name: str | None = None) -> Any:
    """Return the expected normalised usage of one recorded body, or the whole table.

    Each entry is ``{"model": ..., "usage": {...} or None}``.
    """
    table = json.loads((_require_dir() / "expected_usage.json").read_text())
    return table if name is None else table[name]


def usage_as_expected(usage: Usage | None) -> dict[str, Any] | None:
    """Project a :class:`~costkit.Usage` onto the fields that ``expected_usage.json`` lists."""
    if usage is None:
        return None
    projected: dict[str, Any] = {
        "cache_write_tokens": usage.cache_write_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }
    if usage.provider_reported_cost is not None:
        projected["provider_reported_cost_usd"] = format_amount(usage.provider_reported_cost)
    return projected


def _content_type(name: str) -> str:
    if name.endswith(".sse"):
        return "text/event-stream"
    if name.endswith(".ndjson"):
        return "application/x-ndjson"
    return "application/json"


def replay_transport(
    routes: Mapping[str, str | tuple[int, str]] | Callable[[httpx.Request], str | tuple[int, str]],
    *,
    requests: list[httpx.Request] | None = None,
    headers: Mapping[str, str] | None = None,
    chunk_size: int | None = None,
) -> httpx.MockTransport:
    """Build an ``httpx.MockTransport`` that answers with recorded bodies.

    Args:
        routes: Maps a URL path (``"/v1/chat/completions"``) to a recorded file name, or to
            ``(status, file name)``; or a function of the request returning the same.
        requests: A list that receives every request the transport sees.
        headers: Extra response headers (``Retry-After``...).
        chunk_size: Deliver the body in pieces of this many bytes, as a network would.

    Unknown paths get HTTP 599 with a message naming the path, so a wrong route fails loudly.
    """

    def handle(request: httpx.Request) -> httpx.Response:
        if requests is not None:
            requests.append(request)
        target = routes(request) if callable(routes) else routes.get(request.url.path)
        if target is None:
            return httpx.Response(599, text=f"no recorded body for {request.method} {request.url.path}")
        status, name = (200, target) if isinstance(target, str) else target
        body = load_body(name)
        response_headers = {"content-type": _content_type(name), **(headers or {})}
        if chunk_size:
            pieces: Sequence[bytes] = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
            return httpx.Response(status, headers=response_headers, stream=_ByteStream(pieces))
        return httpx.Response(status, headers=response_headers, content=body)

    return httpx.MockTransport(handle)


class _ByteStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, pieces: Sequence[bytes]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Any:
        yield from self._pieces

    async def __aiter__(self) -> Any:
        for piece in self._pieces:
            yield piece
