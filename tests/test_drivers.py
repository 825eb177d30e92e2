"""Tests of the httpx driver base through the OpenAI plugin: bodies a server should not send."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import costkit
from costkit import ProviderError, Request
from costkit.db import redact_url
from costkit_openai._driver import OpenAIDriver

SENTINEL = "sk-SENTINEL-driver-0001"
CHAT_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 13, "completion_tokens": 31, "total_tokens": 44},
}


def driver_answering(response: httpx.Response) -> OpenAIDriver:
    return OpenAIDriver(api_key=SENTINEL, transport=httpx.MockTransport(lambda request: response), max_retries=0)


def request() -> Request:
    return Request(provider="openai", model="gpt-4o-mini", messages="Hello")


def test_non_json_body_is_provider_error() -> None:
    """A 200 answer that is not JSON raises ProviderError without echoing the body."""
    driver = driver_answering(httpx.Response(200, text=f"<html>proxy login {SENTINEL}</html>"))
    with pytest.raises(ProviderError, match="not JSON") as raised:
        driver.send(request())
    assert SENTINEL not in str(raised.value)
    assert raised.value.status_code == 200


def test_inconsistent_usage_names_the_fix() -> None:
    """Usage the extractor rejects becomes a ProviderError that suggests the right plugin."""
    body = {**CHAT_BODY, "usage": {"prompt_tokens": -5, "completion_tokens": 3}}
    with pytest.raises(ProviderError, match="usage that costkit cannot accept.*plugin"):
        driver_answering(httpx.Response(200, json=body)).send(request())


def test_stream_answered_with_json_body() -> None:
    """A server that ignores stream=true and sends one JSON body still yields its text and usage."""
    stream = driver_answering(httpx.Response(200, json=CHAT_BODY)).stream(request())
    chunks = [chunk.text for chunk in stream]
    assert chunks == ["Hi there"]
    assert stream.response is not None
    assert stream.response.usage == costkit.Usage(input_tokens=13, output_tokens=31)
    assert stream.response.model == "gpt-4o-mini-2024-07-18"


def test_async_stream_answered_with_json_body() -> None:
    """The async stream handles a whole JSON body the same way."""

    async def consume() -> tuple[list[str], costkit.Response | None]:
        stream = driver_answering(httpx.Response(200, json=CHAT_BODY)).astream(request())
        chunks = [chunk.text async for chunk in stream]
        return chunks, stream.response

    chunks, response = asyncio.run(consume())
    assert chunks == ["Hi there"]
    assert response is not None
    assert response.usage is not None
    assert response.usage.output_tokens == 31


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db?password=secret&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("sqlite:///ledger.db", "sqlite:///ledger.db"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    """Database URLs lose their passwords, in the user part and in the query string."""
    assert redact_url(url) == expected
