"""Decoders for the stream framings providers use: SSE, NDJSON and a streamed JSON array."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

__all__ = [
    "EventDecoder",
    "JSONArrayDecoder",
    "SSEDecoder",
    "aiter_events",
    "detect_framing",
    "iter_events",
    "parse_body",
]


class SSEDecoder:
    """Turn server-sent-event lines into decoded ``data:`` payloads.

    JSON payloads are decoded; ``[DONE]`` ends nothing by itself and is skipped. An event
    name from an ``event:`` line is kept as ``"event"`` in the decoded dict when the payload
    has no ``type`` of its own.
    """

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event: str | None = None

    def feed_line(self, line: str) -> Any | None:
        """Feed one line (without its newline); return a decoded event when one is complete."""
        if line == "":
            return self._flush()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None

    def _flush(self) -> Any | None:
        if not self._data:
            self._event = None
            return None
        data = "\n".join(self._data)
        event_name = self._event
        self._data = []
        self._event = None
        if data.strip() == "[DONE]":
            return None
        try:
            decoded = json.loads(data)
        except json.JSONDecodeError:
            return {"event": event_name, "data": data}
        if isinstance(decoded, dict) and event_name and "type" not in decoded:
            decoded.setdefault("event", event_name)
        return decoded

    def close(self) -> Any | None:
        """Return the last event when the body ended without a blank line."""
        return self._flush()


class JSONArrayDecoder:
    """Decode the elements of a JSON array as its text arrives in pieces."""

    def __init__(self) -> None:
        self._buffer = ""
        self._decoder = json.JSONDecoder()
        self._started = False

    def feed(self, text: str) -> list[Any]:
        """Feed more text; return the elements completed by it."""
        self._buffer += text
        items = []
        while True:
            buffer = self._buffer.lstrip()
            if not self._started:
                if not buffer:
                    break
                if buffer[0] != "[":
                    # Not an array after all: a single JSON object (an error body, say).
                    try:
                        value, end = self._decoder.raw_decode(buffer)
                    except json.JSONDecodeError:
                        break
                    items.append(value)
                    self._buffer = buffer[end:]
                    continue
                buffer = buffer[1:]
                self._started = True
            buffer = buffer.lstrip().lstrip(",").lstrip()
            if not buffer or buffer[0] == "]":
                self._buffer = buffer[1:] if buffer else ""
                break
            try:
                value, end = self._decoder.raw_decode(buffer)
            except json.JSONDecodeError:
                self._buffer = buffer
                break
            items.append(value)
            self._buffer = buffer[end:]
        return items


class EventDecoder:
    """Decode events incrementally from text pieces in one framing.

    Args:
        framing: ``sse``, ``ndjson`` (also accepts ``data:``-prefixed lines) or ``json-array``.
    """

    def __init__(self, framing: str) -> None:
        if framing not in ("sse", "ndjson", "json-array"):
            message = f"unknown stream framing {framing!r}; expected 'sse', 'ndjson' or 'json-array'"
            raise ValueError(message)
        self.framing = framing
        self._pending = ""
        self._sse = SSEDecoder()
        self._array = JSONArrayDecoder()

    def feed(self, text: str) -> list[Any]:
        """Feed a piece of the body; return the events it completed."""
        if self.framing == "json-array":
            return self._array.feed(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        events = []
        for line in lines:
            event = self._line(line.rstrip("\r"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[Any]:
        """Return the events left when the body ends."""
        if self.framing == "json-array":
            return []
        events = []
        if self._pending:
            event = self._line(self._pending.rstrip("\r"))
            self._pending = ""
            if event is not None:
                events.append(event)
        if self.framing == "sse":
            last = self._sse.close()
            if last is not None:
                events.append(last)
        return events

    def _line(self, line: str) -> Any | None:
        if self.framing == "sse":
            return self._sse.feed_line(line)
        line = line.strip()
        if line.startswith("data:"):
            line = line[5:].strip()
        if not line or line == "[DONE]":
            return None
        return json.loads(line)


def iter_events(framing: str, chunks: Iterable[str]) -> Iterator[Any]:
    """Decode events from text chunks in the given framing."""
    decoder = EventDecoder(framing)
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()


async def aiter_events(framing: str, chunks: AsyncIterator[str]) -> AsyncIterator[Any]:
    """Decode events from async text chunks; the async twin of :func:`iter_events`."""
    decoder = EventDecoder(framing)
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


def detect_framing(text: str) -> str:
    """Guess the framing of a whole body: ``json``, ``json-array``, ``sse`` or ``ndjson``."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json-array"
    if stripped.startswith(("data:", "event:", ":")):
        return "sse"
    lines = [line for line in stripped.splitlines() if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines):
        try:
            for line in lines:
                json.loads(line)
        except json.JSONDecodeError:
            return "json"
        return "ndjson"
    return "json"


def parse_body(text: str | bytes) -> tuple[Any, bool]:
    """Decode a saved response body; return ``(payload, is_stream)``.

    A stream becomes the list of its decoded events; a plain body its decoded JSON value.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    framing = detect_framing(text)
    if framing == "json":
        return json.loads(text), False
    return list(iter_events(framing, [text])), True
