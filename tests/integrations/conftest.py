"""The real SDK clients against a mocked HTTP transport that answers with recorded-shape
responses (the current SDKs are built on httpx2; an older one on httpx)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")
httpx: Any = pytest.importorskip("httpx2" if anthropic.__version__ >= "1" else "httpx")

# What the APIs answered (shapes as recorded from api.anthropic.com / api.openai.com).
ANTHROPIC_MESSAGE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "AAPL: hold. Momentum is fading into earnings."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 412,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 2048,
        "output_tokens": 96,
        "service_tier": "standard",
    },
}
OPENAI_COMPLETION = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "MSFT: buy.", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1300,
        "completion_tokens": 40,
        "total_tokens": 1340,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}


@dataclass
class FakeAPI:
    """Answers every request with ``answer`` (a callable may vary it) and keeps the bodies."""

    answer: Callable[[dict[str, Any]], Any]
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def handle(self, request: Any) -> Any:
        body = json.loads(request.content)
        self.bodies.append(body)
        return self.answer(body)

    @property
    def calls(self) -> int:
        return len(self.bodies)

    def http_client(self) -> Any:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


def json_response(payload: dict[str, Any], status: int = 200) -> Any:
    return httpx.Response(status, json=payload, headers={"request-id": "req_011CT", "x-request-id": "req_7"})


@pytest.fixture
def anthropic_api() -> FakeAPI:
    return FakeAPI(lambda body: json_response(ANTHROPIC_MESSAGE))


@pytest.fixture
def openai_api() -> FakeAPI:
    return FakeAPI(lambda body: json_response(OPENAI_COMPLETION))


def anthropic_client(api: FakeAPI) -> Any:
    return anthropic.AsyncAnthropic(api_key="sk-test", http_client=api.http_client(), max_retries=0)


def openai_client(api: FakeAPI) -> Any:
    return openai.AsyncOpenAI(api_key="sk-test", http_client=api.http_client(), max_retries=0)
