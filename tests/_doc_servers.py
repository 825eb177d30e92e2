"""Fake provider servers on loopback for the documentation examples.

One threading HTTP server on 127.0.0.1 serves the OpenAI, xAI, Gemini and Ollama endpoints
under a path prefix per provider, responding with bodies from the recorded payloads folder.
The examples reach it through the providers' own environment variables, which
:func:`provider_environment` lists.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from costkit.testing import load_body

__all__ = ["ROUTES", "DocServer", "provider_environment", "running_server"]

HOST: Final = "127.0.0.1"

ROUTES: Final = {
    # (path, streamed) -> recorded body
    ("/openai/v1/chat/completions", False): "openai-chat-completions-plain-02.json",
    ("/openai/v1/chat/completions", True): "openai-chat-completions-stream-text-usage-01.sse",
    ("/openai/v1/responses", False): "openai-responses-plain-01.json",
    ("/openai/v1/embeddings", False): "openai-embeddings-3-small-01.json",
    ("/xai/v1/chat/completions", False): "xai-chat-completions-cached-01.json",
    ("/xai/v1/chat/completions", True): "xai-chat-completions-stream-text-usage-01.sse",
    ("/gemini/v1beta/models/gemini-2.5-flash:generateContent", False): "gemini-generateContent-cached-content-01.json",
    ("/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent", True): (
        "gemini-streamGenerateContent-sse-thoughts-01.sse"
    ),
    ("/ollama/api/chat", False): "ollama-api-chat-plain-01.json",
    ("/ollama/api/chat", True): "ollama-api-chat-stream-plain-01.ndjson",
}
"""The recorded body each endpoint returns, for a whole and for a streamed request."""

STREAM_PIECE_BYTES: Final = 256
"""Streams are written in pieces of this size, so a client can stop reading half-way."""


def _content_type(name: str) -> str:
    if name.endswith(".sse"):
        return "text/event-stream"
    if name.endswith(".ndjson"):
        return "application/x-ndjson"
    return "application/json"


def _is_stream(path: str, query: str, body: Any) -> bool:
    if path.endswith(":streamGenerateContent"):
        return True
    return isinstance(body, dict) and body.get("stream") is True


def _answer_as_requested(payload: bytes, request: Any) -> bytes:
    """Put the requested model name in a whole JSON response, unless the recorded name is a snapshot of it.

    A real server responds with the name of the model it ran. A recorded
    ``gpt-4o-mini-2024-07-18`` response is kept for a ``gpt-4o-mini`` request, as OpenAI does,
    but a request for a model of your own gets a response in that model's name.
    """
    requested = request.get("model") if isinstance(request, dict) else None
    answer = json.loads(payload)
    recorded = answer.get("model") if isinstance(answer, dict) else None
    if not isinstance(requested, str) or not isinstance(recorded, str) or recorded.startswith(requested):
        return payload
    answer["model"] = requested
    return json.dumps(answer).encode()


class _Handler(BaseHTTPRequestHandler):
    server: DocServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet, because ``server.requests`` records every request instead."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path, _, query = self.path.partition("?")
        self.server.requests.append({"path": path, "query": query, "headers": dict(self.headers), "json": body})
        name = ROUTES.get((path, _is_stream(path, query, body)))
        if name is None:
            self._send(404, "application/json", json.dumps({"error": f"no recorded body for POST {path}"}).encode())
            return
        payload = load_body(name)
        if name.endswith(".json"):
            payload = _answer_as_requested(payload, body)
        if name.endswith((".sse", ".ndjson")):
            self._stream(_content_type(name), payload)
        else:
            self._send(200, _content_type(name), payload)

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, content_type: str, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("connection", "close")
        self.end_headers()
        try:
            for start in range(0, len(payload), STREAM_PIECE_BYTES):
                self.wfile.write(payload[start : start + STREAM_PIECE_BYTES])
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client closed the stream early, as an example may do
        self.close_connection = True


class DocServer(ThreadingHTTPServer):
    """The fake provider server. Its ``requests`` list records every request it received."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _Handler)
        self.requests: list[dict[str, Any]] = []

    @property
    def root(self) -> str:
        """The server's base URL, such as ``http://127.0.0.1:PORT``."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


@contextmanager
def running_server() -> Iterator[DocServer]:
    """Start the fake provider server in a thread and stop it when the block ends."""
    server = DocServer()
    thread = threading.Thread(target=server.serve_forever, name="costkit-doc-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def provider_environment(server: DocServer, api_key: str) -> dict[str, str]:
    """Return the provider variables that point every plugin at ``server`` with ``api_key``."""
    return {
        "OPENAI_BASE_URL": f"{server.root}/openai/v1",
        "OPENAI_API_KEY": api_key,
        "XAI_BASE_URL": f"{server.root}/xai/v1",
        "XAI_API_KEY": api_key,
        "GEMINI_BASE_URL": f"{server.root}/gemini/v1beta",
        "GEMINI_API_KEY": api_key,
        "OLLAMA_HOST": f"{server.root}/ollama",
    }
