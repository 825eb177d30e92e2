"""Tests of the ``costkit`` command line, run against a provider plugin defined here."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import costkit
from costkit.budgets import SCOPES
from costkit.cli import main
from costkit.cli._budget import SCOPES as CLI_SCOPES
from costkit.cli._ledger import REPORT_GROUPS
from costkit.drivers import HTTPCall, HTTPDriver, ParsedResponse, StreamState
from costkit.errors import AuthenticationError, ProviderError, ServerError
from costkit.ledger import GROUPS, to_micros
from costkit.plugin.manager import PluginManager
from costkit.pricing import StaticPriceTable

SENTINEL_KEY = "sk-costkit-cli-sentinel-0123456789abcdef"
"""A fake API key that must never appear in any command's output."""

FAKE_SOURCE = "fake price table (test)"
FAKE_USAGE = {"in": 1000, "cached": 200, "out": 500, "reasoning": 100}
"""The usage the fake server reports for every request."""
FAKE_COST = "0.00725"
"""FAKE_USAGE at the fake table's rates: 800 x 2.50 + 200 x 1.25 + 400 x 10 + 100 x 10, per million."""


# --- A tiny provider plugin ---------------------------------------------------------------


def fake_extract(payload: Any, *, stream: bool) -> costkit.Usage | None:
    """Read the fake provider's usage: the last ``usage`` object of the body or the events."""
    events = payload if stream else [payload]
    found = [event["usage"] for event in events if isinstance(event, dict) and "usage" in event]
    if not found:
        return None
    counts = found[-1]
    return costkit.Usage(
        input_tokens=counts["in"],
        cached_input_tokens=counts["cached"],
        output_tokens=counts["out"],
        reasoning_tokens=counts["reasoning"],
    )


class FakeDriver(HTTPDriver):
    """A driver for the fake provider: POST /chat, SSE streams, usage in a ``usage`` object."""

    provider = "fake"
    default_base_url = "http://127.0.0.1:9/v1"
    stream_framing = "sse"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def build_call(self, request: costkit.Request, *, stream: bool) -> HTTPCall:
        body = {
            "model": request.model,
            "messages": [[message.role, message.content] for message in request.messages],
            "max_tokens": request.max_output_tokens,
            "stream": stream,
        }
        return HTTPCall("/chat", json=body)

    def parse_response(self, request: costkit.Request, payload: Any) -> ParsedResponse:
        return ParsedResponse(text=payload["text"], usage=fake_extract(payload, stream=False), model=payload["model"])

    def parse_stream_event(self, request: costkit.Request, event: Any, state: StreamState) -> str:
        if "model" in event:
            state.model = event["model"]
        delta: str = event.get("delta", "")
        return delta

    def stream_usage(self, request: costkit.Request, state: StreamState) -> costkit.Usage | None:
        return fake_extract(state.events, stream=True)

    def map_error(self, status: int, body: Any, headers: Any) -> ProviderError:
        error_class: type[ProviderError] = ProviderError
        if status == 401:
            error_class = AuthenticationError
        elif status >= 500:
            error_class = ServerError
        detail = body["error"]["message"] if isinstance(body, dict) else body
        return error_class(f"fake answered HTTP {status}: {detail}", provider="fake", status_code=status, body=body)


class FakePlugin:
    """Registers the fake driver, its extractor and a price table with one model."""

    table = StaticPriceTable(
        FAKE_SOURCE,
        [
            costkit.ModelPrice(
                provider="fake",
                model="fake-model",
                input="2.50",
                cached_input="1.25",
                output="10",
                source=FAKE_SOURCE,
            )
        ],
    )

    @costkit.hookimpl
    def costkit_register_drivers(self, register: Callable[..., None]) -> None:
        register("fake", FakeDriver)

    @costkit.hookimpl
    def costkit_register_token_extractors(self, register: Callable[..., None]) -> None:
        register("fake", fake_extract)

    @costkit.hookimpl
    def costkit_register_pricing_sources(self, register: Callable[..., None]) -> None:
        register(self.table, priority=100)


class FakeServer:
    """The fake provider's HTTP API, served through httpx.MockTransport."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "invalid key"}})
        body = json.loads(request.content)
        if not body["stream"]:
            return httpx.Response(200, json={"model": "fake-model", "text": "Hello", "usage": FAKE_USAGE})
        events = [{"delta": "Hel"}, {"delta": "lo"}, {"model": "fake-model", "usage": FAKE_USAGE}]
        text = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
        return httpx.Response(200, content=text.encode(), headers={"content-type": "text/event-stream"})

    def sent_bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


class Harness:
    """Runs commands against a temporary ledger with the fake provider installed."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.database_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        self.server = FakeServer()
        self.manager = PluginManager(load_entry_points=False)
        self.manager.register(FakePlugin(), name="fake")
        self.factory_urls: list[str | None] = []

    def client(self, database_url: str | None = None) -> costkit.Client:
        transport = httpx.MockTransport(self.server)
        return costkit.Client(
            database_url=database_url,
            plugins=self.manager,
            provider_options={"fake": {"api_key": SENTINEL_KEY, "transport": transport, "max_retries": 0}},
        )

    def factory(self, database_url: str | None) -> costkit.Client:
        self.factory_urls.append(database_url)
        return self.client(database_url)

    def run(self, *args: str, input: str | bytes | None = None, database: bool = True) -> Result:
        runner = CliRunner(env={"COLUMNS": "200"})
        prefix = ["--database-url", self.database_url] if database else []
        result = runner.invoke(
            main, [*prefix, *args], obj={"client_factory": self.factory}, input=input, catch_exceptions=False
        )
        # Every command's output is checked for the API key, whatever the test is about.
        assert SENTINEL_KEY not in result.output
        assert SENTINEL_KEY not in result.stderr
        return result

    def run_json(self, *args: str) -> Any:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def chat(self, *args: str) -> Result:
        result = self.run("chat", "--provider", "fake", "--model", "fake-model", *args)
        assert result.exit_code == 0, result.output
        return result

    def write(self, name: str, text: str) -> str:
        path = self.tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)


@pytest.fixture
def cli(tmp_path: Path) -> Harness:
    """A command-line harness with the fake provider and an empty ledger."""
    return Harness(tmp_path)


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _summary(cost: str = FAKE_COST) -> str:
    return f"tokens: 1000 in (200 cached), 500 out (100 reasoning) · cost: {cost} USD (source: {FAKE_SOURCE})"


def _error_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- The group ----------------------------------------------------------------------------


class TestGroup:
    def test_help_lists_commands(self, cli: Harness) -> None:
        """--help lists every command."""
        result = cli.run("--help")
        assert result.exit_code == 0
        for command in ("chat", "cost", "report", "budget", "prices", "reprice", "plugins", "ledger", "conversations"):
            assert f"  {command} " in result.stdout, command

    def test_version_option(self, cli: Harness) -> None:
        """--version prints the package version."""
        result = cli.run("--version")
        assert result.exit_code == 0
        assert result.stdout == f"costkit {costkit.__version__}\n"

    def test_unknown_option_exits_2(self, cli: Harness) -> None:
        """An unknown option is a usage error."""
        result = cli.run("report", "--colour")
        assert result.exit_code == 2
        assert "No such option '--colour'" in result.stderr
        assert result.stderr.startswith("Usage: costkit report")

    def test_database_url_reaches_factory(self, cli: Harness) -> None:
        """--database-url is handed to the client factory."""
        cli.run("prices", "list")
        assert cli.factory_urls == [cli.database_url]

    def test_unsupported_database_url_exits_1(self, cli: Harness) -> None:
        """An unsupported database URL is one error line with status 1."""
        cli.database_url = "mysql://localhost/ledger"
        result = cli.run("prices", "list")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: unsupported database URL 'mysql://localhost/ledger'")
        assert "Traceback" not in result.output

    def test_choices_match_core(self) -> None:
        """The --by and --scope choices are the ledger's groups and the budget scopes."""
        assert REPORT_GROUPS == GROUPS
        assert CLI_SCOPES == SCOPES

    def test_import_stays_light(self) -> None:
        """Importing costkit.cli loads neither rich, httpx, peewee nor the client."""
        code = (
            "import sys, costkit.cli; "
            "print(sorted(m for m in ('rich', 'httpx', 'peewee', 'costkit._client') if m in sys.modules))"
        )
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert output.strip() == "[]"


# --- chat ---------------------------------------------------------------------------------


class TestChat:
    def test_prints_answer_and_cost(self, cli: Harness) -> None:
        """chat prints the answer, then the tokens and the exact cost with its source."""
        result = cli.chat("Hi")
        assert result.stdout == f"Hello\n{_summary()}\n"

    def test_records_ledger_row(self, cli: Harness) -> None:
        """chat goes through the middleware, so the ledger gets one row with the exact cost."""
        cli.chat("--user", "u1", "--project", "p1", "--organization", "o1", "Hi")
        records = cli.client(cli.database_url).ledger.records()
        assert len(records) == 1
        assert records[0].cost == Decimal(FAKE_COST)
        assert records[0].user_id == "u1"
        assert records[0].project_id == "p1"
        assert records[0].organization_id == "o1"

    def test_sends_system_and_max_tokens(self, cli: Harness) -> None:
        """--system goes first in the messages and --max-output-tokens into the body."""
        cli.chat("--system", "Be brief.", "--max-output-tokens", "50", "Hi")
        body = cli.server.sent_bodies()[0]
        assert body["messages"] == [["system", "Be brief."], ["user", "Hi"]]
        assert body["max_tokens"] == 50
        assert body["model"] == "fake-model"
        assert body["stream"] is False

    def test_stream_prints_chunks(self, cli: Harness) -> None:
        """chat --stream prints the chunks, then the summary of the whole stream."""
        result = cli.chat("--stream", "Hi")
        assert result.stdout == f"Hello\n{_summary()}\n"
        assert cli.server.sent_bodies()[0]["stream"] is True

    def test_stream_records_ledger_row(self, cli: Harness) -> None:
        """A streamed chat is recorded as streamed with the exact cost."""
        cli.chat("--stream", "Hi")
        records = cli.client(cli.database_url).ledger.records()
        assert len(records) == 1
        assert records[0].streamed is True
        assert records[0].cost == Decimal(FAKE_COST)

    def test_prompt_from_stdin(self, cli: Harness) -> None:
        """PROMPT - reads the prompt from standard input."""
        result = cli.run("chat", "--provider", "fake", "--model", "fake-model", "-", input="Hi from stdin")
        assert result.exit_code == 0
        assert cli.server.sent_bodies()[0]["messages"] == [["user", "Hi from stdin"]]

    def test_provider_error_exits_1(self, cli: Harness) -> None:
        """A provider error is one 'Error:' line on stderr with status 1."""
        cli.server.status = 401
        result = cli.run("chat", "--provider", "fake", "--model", "fake-model", "Hi")
        assert result.exit_code == 1
        assert _error_line(result) == "Error: fake answered HTTP 401: invalid key"
        assert result.stdout == ""

    def test_budget_exceeded_exits_1(self, cli: Harness) -> None:
        """A request over budget is rejected before sending, with status 1."""
        assert cli.run("budget", "set", "--scope", "global", "--per-request", "0.000001").exit_code == 0
        result = cli.run("chat", "--provider", "fake", "--model", "fake-model", "--max-output-tokens", "100", "Hi")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: the request budget of global is 0.000001 USD")
        assert cli.server.requests == []

    def test_unknown_provider_exits_1(self, cli: Harness) -> None:
        """An uninstalled provider is an error naming it."""
        result = cli.run("chat", "--provider", "nope", "--model", "m", "Hi")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: no driver for provider 'nope'")

    def test_unpriced_model_exits_1(self, cli: Harness) -> None:
        """A model without a price is rejected before anything is sent."""
        result = cli.run("chat", "--provider", "fake", "--model", "mystery", "Hi")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: no pricing source has a price for fake/mystery")
        assert cli.server.requests == []

    def test_missing_model_exits_2(self, cli: Harness) -> None:
        """chat without --model is a usage error."""
        result = cli.run("chat", "--provider", "fake", "Hi")
        assert result.exit_code == 2
        assert "Missing option '--model'" in result.stderr

    def test_zero_max_tokens_exits_2(self, cli: Harness) -> None:
        """--max-output-tokens must be positive."""
        result = cli.run("chat", "--provider", "fake", "--model", "fake-model", "--max-output-tokens", "0", "Hi")
        assert result.exit_code == 2


class TestApiKey:
    def test_key_sent_in_header_only(self, cli: Harness) -> None:
        """The key from the provider options goes in the header, never the URL or the output."""
        cli.chat("Hi")
        cli.server.status = 401
        failed = cli.run("chat", "--provider", "fake", "--model", "fake-model", "Hi")
        assert failed.exit_code == 1
        for request in cli.server.requests:
            assert request.headers["authorization"] == f"Bearer {SENTINEL_KEY}"
            assert SENTINEL_KEY not in str(request.url)
        assert SENTINEL_KEY not in failed.output

    def test_key_absent_from_every_listing(self, cli: Harness) -> None:
        """Listings after a request show no key (the harness checks each output)."""
        cli.chat("--user", "u1", "Hi")
        commands = [
            ("report", "--format", "json"),
            ("plugins", "--json"),
            ("budget", "show", "--json"),
            ("prices", "list", "--json"),
            ("prices", "show", "fake", "fake-model", "--json"),
            ("conversations", "list", "--json"),
            ("ledger", "replay"),
        ]
        for command in commands:
            assert cli.run(*command).exit_code == 0, command


# --- cost ---------------------------------------------------------------------------------


STREAM_BODY = (
    'data: {"delta": "Hel"}\n\n'
    'data: {"delta": "lo"}\n\n'
    'data: {"model": "fake-model", "usage": {"in": 1000, "cached": 200, "out": 500, "reasoning": 100}}\n\n'
    "data: [DONE]\n\n"
)


class TestCost:
    COUNTS = ("--input-tokens", "1000", "--cached-input-tokens", "200", "--output-tokens", "500")

    def test_counts_text(self, cli: Harness) -> None:
        """cost prices token counts and names the source."""
        result = cli.run(
            "cost", "--provider", "fake", "--model", "fake-model", *self.COUNTS, "--reasoning-tokens", "100"
        )
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert lines[0] == f"fake/fake-model: {FAKE_COST} USD (source: {FAKE_SOURCE})"
        assert lines[1] == "tokens: 1000 in (200 cached), 500 out (100 reasoning)"
        assert "  input: 0.002 USD" in lines
        assert "  reasoning: 0.001 USD" in lines

    def test_counts_json(self, cli: Harness) -> None:
        """cost --json prints the usage, the total and every component as exact strings."""
        data = cli.run_json(
            "cost", "--provider", "fake", "--model", "fake-model", *self.COUNTS, "--reasoning-tokens", "100", "--json"
        )
        assert data["total_cost"] == FAKE_COST
        assert data["currency"] == "USD"
        assert data["usage"]["input_tokens"] == 1000
        assert data["usage"]["cached_input_tokens"] == 200
        assert data["usage"]["output_tokens"] == 500
        assert data["usage"]["reasoning_tokens"] == 100
        assert data["usage"]["cache_write_tokens"] == 0
        assert data["components"]["input"] == "0.002"
        assert data["components"]["cached_input"] == "0.00025"
        assert data["components"]["output"] == "0.004"
        assert data["components"]["reasoning"] == "0.001"
        assert data["price_source"] == FAKE_SOURCE
        assert data["price_model"] == "fake-model"
        assert data["unpriced"] is False

    def test_body_file(self, cli: Harness) -> None:
        """cost FILE extracts the usage of a saved response body."""
        body = {"model": "fake-model", "text": "Hello", "usage": FAKE_USAGE}
        path = cli.write("response.json", json.dumps(body))
        data = cli.run_json("cost", "--provider", "fake", "--model", "fake-model", path, "--json")
        assert data["total_cost"] == FAKE_COST
        assert data["usage"]["input_tokens"] == 1000

    def test_stream_file(self, cli: Harness) -> None:
        """cost FILE recognises a server-sent-event stream from its content."""
        path = cli.write("stream.txt", STREAM_BODY)
        data = cli.run_json("cost", "--provider", "fake", "--model", "fake-model", path, "--json")
        assert data["total_cost"] == FAKE_COST
        assert data["usage"]["output_tokens"] == 500

    def test_stdin(self, cli: Harness) -> None:
        """cost - reads the body from standard input."""
        result = cli.run("cost", "--provider", "fake", "--model", "fake-model", "-", "--json", input=STREAM_BODY)
        assert result.exit_code == 0
        assert json.loads(result.stdout)["total_cost"] == FAKE_COST

    def test_resolves_dated_name(self, cli: Harness) -> None:
        """A dated model name is priced with its family's price."""
        data = cli.run_json("cost", "--provider", "fake", "--model", "fake-model-2025-01-01", *self.COUNTS, "--json")
        assert data["price_model"] == "fake-model"
        assert data["total_cost"] == "0.00725"

    def test_at_selects_price_in_force(self, cli: Harness) -> None:
        """--at picks the price in force then: a future database price, or the table today."""
        set_result = cli.run(
            "prices", "set", "--provider", "fake", "--model", "fake-model",
            "--input", "5", "--output", "20", "--effective-from", "2099-01-01",
        )  # fmt: skip
        assert set_result.exit_code == 0
        args = ("cost", "--provider", "fake", "--model", "fake-model", "--input-tokens", "1000", "--json")
        later = cli.run_json(*args, "--at", "2099-06-01T12:00:00Z")
        now = cli.run_json(*args)
        assert later["total_cost"] == "0.005"
        assert later["price_source"] == "database"
        assert now["total_cost"] == "0.0025"
        assert now["price_source"] == FAKE_SOURCE

    def test_file_and_counts_exits_2(self, cli: Harness) -> None:
        """FILE and token counts together are a usage error."""
        path = cli.write("stream.txt", STREAM_BODY)
        result = cli.run("cost", "--provider", "fake", "--model", "fake-model", path, "--input-tokens", "5")
        assert result.exit_code == 2
        assert "not both" in result.stderr

    def test_nothing_to_price_exits_2(self, cli: Harness) -> None:
        """cost without FILE or counts is a usage error."""
        result = cli.run("cost", "--provider", "fake", "--model", "fake-model")
        assert result.exit_code == 2
        assert "give a response FILE" in result.stderr

    def test_unknown_model_exits_1(self, cli: Harness) -> None:
        """An unpriced model is one error line with status 1."""
        result = cli.run("cost", "--provider", "fake", "--model", "mystery", "--input-tokens", "5")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: no pricing source has a price for fake/mystery")

    def test_body_without_usage_exits_1(self, cli: Harness) -> None:
        """A body without usage is an error that suggests token counts."""
        path = cli.write("empty.json", '{"text": "Hello"}')
        result = cli.run("cost", "--provider", "fake", "--model", "fake-model", path)
        assert result.exit_code == 1
        assert _error_line(result).startswith(f"Error: {path} carries no usage")

    def test_invalid_body_exits_1(self, cli: Harness) -> None:
        """A file that is not JSON or a stream is an error naming the file."""
        path = cli.write("broken.json", "{not json")
        result = cli.run("cost", "--provider", "fake", "--model", "fake-model", path)
        assert result.exit_code == 1
        assert _error_line(result).startswith(f"Error: could not read usage from {path}")

    def test_inconsistent_counts_exits_1(self, cli: Harness) -> None:
        """More cached than input tokens is rejected."""
        result = cli.run("cost", "--provider", "fake", "--model", "fake-model", "--input-tokens", "5",
                         "--cached-input-tokens", "10")  # fmt: skip
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: Inconsistent usage")

    def test_default_database_not_created(self, cli: Harness, tmp_path: Path) -> None:
        """Pricing without --database-url creates no default ledger file."""
        result = cli.run("cost", "--provider", "fake", "--model", "fake-model", "--input-tokens", "5", database=False)
        assert result.exit_code == 0
        assert cli.factory_urls == [None]
        assert list((tmp_path / "data-home").rglob("*.sqlite3")) == []


# --- report -------------------------------------------------------------------------------


class TestReport:
    @pytest.fixture
    def three_requests(self, cli: Harness) -> Harness:
        cli.chat("--user", "u1", "Hi")
        cli.chat("--user", "u1", "--stream", "Hi again")
        cli.chat("--user", "u2", "Hello")
        return cli

    def test_json_flag_matches_format_json(self, three_requests: Harness) -> None:
        """report --json prints what report --format json prints."""
        assert three_requests.run_json("report", "--json") == three_requests.run_json("report", "--format", "json")

    def test_reversed_dates_exit_2(self, cli: Harness) -> None:
        """An --until before --since is bad usage."""
        result = cli.run("report", "--since", "2027-01-01", "--until", "2026-01-01")
        assert result.exit_code == 2
        assert "--until" in result.stderr

    def test_json_by_user(self, three_requests: Harness) -> None:
        """report --format json sums each user's requests with exact cost strings."""
        data = three_requests.run_json("report", "--by", "user", "--format", "json")
        assert data["group_by"] == "user"
        assert data["rows"] == [
            {
                "group": "u1",
                "requests": 2,
                "input_tokens": 2000,
                "cached_input_tokens": 400,
                "output_tokens": 1000,
                "reasoning_tokens": 200,
                "cost": "0.0145",
            },
            {
                "group": "u2",
                "requests": 1,
                "input_tokens": 1000,
                "cached_input_tokens": 200,
                "output_tokens": 500,
                "reasoning_tokens": 100,
                "cost": FAKE_COST,
            },
        ]
        assert data["total"] == {"requests": 3, "cost": "0.02175"}

    def test_csv_by_provider(self, three_requests: Harness) -> None:
        """report --format csv has a header and one exact row per group."""
        result = three_requests.run("report", "--format", "csv")
        assert result.exit_code == 0
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert rows == [
            {
                "group": "fake",
                "requests": "3",
                "input_tokens": "3000",
                "cached_input_tokens": "600",
                "output_tokens": "1500",
                "reasoning_tokens": "300",
                "cost": "0.02175",
            }
        ]

    def test_table_shows_groups_and_total(self, three_requests: Harness) -> None:
        """The table lists each group and the total."""
        result = three_requests.run("report", "--by", "user")
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert any("u1" in line and "0.0145" in line for line in lines)
        assert any("u2" in line and FAKE_COST in line for line in lines)
        assert any("total" in line and "0.02175" in line for line in lines)

    def test_by_day_and_period(self, three_requests: Harness) -> None:
        """--since and --until select the UTC period; days are ISO dates."""
        today = _today()
        tomorrow = today + timedelta(days=1)
        inside = three_requests.run_json(
            "report", "--by", "day", "--since", today.isoformat(), "--until", tomorrow.isoformat(), "--format", "json"
        )
        after = three_requests.run_json("report", "--since", tomorrow.isoformat(), "--format", "json")
        assert [row["group"] for row in inside["rows"]] == [today.isoformat()]
        assert inside["rows"][0]["cost"] == "0.02175"
        assert inside["since"] == f"{today.isoformat()}T00:00:00+00:00"
        assert after["rows"] == []
        assert after["total"] == {"requests": 0, "cost": "0"}

    def test_filter_by_user(self, three_requests: Harness) -> None:
        """--user keeps only that user's requests."""
        data = three_requests.run_json("report", "--by", "model", "--user", "u2", "--format", "json")
        assert data["rows"][0]["group"] == "fake-model"
        assert data["rows"][0]["requests"] == 1
        assert data["total"]["cost"] == FAKE_COST

    def test_empty_ledger(self, cli: Harness) -> None:
        """An empty ledger gives a sentence in the table format and only the header in CSV."""
        table = cli.run("report")
        csv_result = cli.run("report", "--format", "csv")
        assert table.stdout == "No requests in the ledger for this selection.\n"
        assert (
            csv_result.stdout == "group,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost\n"
        )

    def test_bad_group_exits_2(self, cli: Harness) -> None:
        """An unknown --by value is a usage error."""
        result = cli.run("report", "--by", "colour")
        assert result.exit_code == 2
        assert "Invalid value for '--by'" in result.stderr

    def test_bad_date_exits_2(self, cli: Harness) -> None:
        """An invalid date is a usage error that shows the expected forms."""
        result = cli.run("report", "--since", "last tuesday")
        assert result.exit_code == 2
        assert "use YYYY-MM-DD or an ISO datetime" in result.stderr


# --- budget -------------------------------------------------------------------------------


class TestBudget:
    def test_set_and_show_json(self, cli: Harness) -> None:
        """budget show --json gives each window's limit, spend, reservations and remainder."""
        set_result = cli.run(
            "budget", "set", "--scope", "user", "--id", "u1", "--daily", "10", "--monthly", "100",
            "--timezone", "Europe/Berlin", "--thresholds", "0.5,0.9",
        )  # fmt: skip
        cli.chat("--user", "u1", "Hi")
        data = cli.run_json("budget", "show", "--scope", "user", "--id", "u1", "--json")
        assert set_result.exit_code == 0
        assert set_result.stdout.startswith("Set the daily and monthly budgets of user u1.\n")
        assert [entry["window"] for entry in data] == ["daily", "monthly"]
        daily = data[0]
        assert daily["scope"] == "user"
        assert daily["id"] == "u1"
        assert daily["limit"] == "10"
        assert daily["spent"] == FAKE_COST
        assert daily["reserved"] == "0"
        assert daily["remaining"] == "9.99275"
        assert daily["timezone"] == "Europe/Berlin"
        assert daily["thresholds"] == ["0.5", "0.9"]
        assert daily["window_start"] is not None
        assert data[1]["remaining"] == "99.99275"

    def test_delete_one_window(self, cli: Harness) -> None:
        """budget delete removes one window's budget and leaves the others."""
        cli.run("budget", "set", "--scope", "user", "--id", "u1", "--daily", "10", "--monthly", "100")
        result = cli.run("budget", "delete", "--scope", "user", "--id", "u1", "--window", "daily")
        data = cli.run_json("budget", "show", "--scope", "user", "--id", "u1", "--json")
        assert result.exit_code == 0
        assert result.stdout == "Deleted 1 budget of user u1.\n"
        assert [entry["window"] for entry in data] == ["monthly"]

    def test_delete_nothing_exits_1(self, cli: Harness) -> None:
        """Deleting budgets that do not exist is an error naming the scope."""
        result = cli.run("budget", "delete", "--scope", "user", "--id", "nobody")
        assert result.exit_code == 1
        assert "no budget of user nobody" in _error_line(result)

    def test_show_every_scope(self, cli: Harness) -> None:
        """budget show without --scope lists every scope's budgets."""
        cli.run("budget", "set", "--scope", "global", "--total", "5")
        cli.run("budget", "set", "--scope", "project", "--id", "p1", "--weekly", "2.50")
        data = cli.run_json("budget", "show", "--json")
        found = {(entry["scope"], entry["id"], entry["window"], entry["limit"]) for entry in data}
        assert found == {("global", None, "total", "5"), ("project", "p1", "weekly", "2.5")}

    def test_show_table(self, cli: Harness) -> None:
        """The table shows the scope, window and limit."""
        cli.run("budget", "set", "--scope", "organization", "--id", "acme", "--per-request", "0.25")
        result = cli.run("budget", "show")
        assert result.exit_code == 0
        assert any("acme" in line and "request" in line and "0.25" in line for line in result.stdout.splitlines())

    def test_show_empty(self, cli: Harness) -> None:
        """No budgets gives one sentence."""
        assert cli.run("budget", "show").stdout == "No budgets set.\n"

    def test_set_without_limit_exits_2(self, cli: Harness) -> None:
        """budget set needs at least one limit."""
        result = cli.run("budget", "set", "--scope", "global")
        assert result.exit_code == 2
        assert "give at least one limit" in result.stderr

    def test_user_without_id_exits_2(self, cli: Harness) -> None:
        """A user budget needs --id."""
        result = cli.run("budget", "set", "--scope", "user", "--daily", "1")
        assert result.exit_code == 2
        assert "a user budget needs --id" in result.stderr

    def test_global_with_id_exits_2(self, cli: Harness) -> None:
        """The global scope takes no --id."""
        result = cli.run("budget", "set", "--scope", "global", "--id", "x", "--daily", "1")
        assert result.exit_code == 2

    def test_bad_amount_exits_2(self, cli: Harness) -> None:
        """A limit that is not a decimal number is a usage error."""
        result = cli.run("budget", "set", "--scope", "global", "--daily", "ten")
        assert result.exit_code == 2
        assert "'ten' is not a decimal number" in result.stderr

    def test_bad_timezone_exits_1(self, cli: Harness) -> None:
        """An unknown time zone is one error line with status 1."""
        result = cli.run("budget", "set", "--scope", "global", "--daily", "1", "--timezone", "Mars/Base")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: unknown time zone 'Mars/Base'")


# --- prices -------------------------------------------------------------------------------


PRICES_JSON = """[
  {"provider": "fake", "model": "m1", "input": 1.5, "output": "6", "cached_input": "0.75"},
  {"provider": "fake", "model": "m2", "input": "3", "output": "15",
   "tiers": [{"threshold": 200000, "input": "6", "output": "22.5"}], "effective_from": "2025-01-01"}
]
"""

PRICES_TOML = """
[[prices]]
provider = "fake"
model = "m1"
input = 1.5
output = "6"
cached_input = "0.75"

[[prices]]
provider = "fake"
model = "local"
free = true
effective_from = 2025-01-01
"""


class TestPrices:
    def test_set_flags_then_list_json(self, cli: Harness) -> None:
        """prices set stores exact rates that prices list --json shows."""
        result = cli.run("prices", "set", "--provider", "fake", "--model", "m1", "--input", "1.50", "--output", "6",
                         "--cached-input", "0.75", "--alias", "m1-latest")  # fmt: skip
        data = cli.run_json("prices", "list", "--json")
        assert result.exit_code == 0
        assert result.stdout.splitlines()[0] == "Stored the price of fake/m1."
        assert data == [
            {
                "provider": "fake",
                "model": "m1",
                "input": "1.50",
                "output": "6",
                "cached_input": "0.75",
                "aliases": ["m1-latest"],
                "source": "database",
            }
        ]

    def test_set_free(self, cli: Harness) -> None:
        """--free needs no rates and prices the model at 0."""
        assert cli.run("prices", "set", "--provider", "fake", "--model", "local", "--free").exit_code == 0
        data = cli.run_json("cost", "--provider", "fake", "--model", "local", "--input-tokens", "100", "--json")
        assert data["total_cost"] == "0"
        assert data["free"] is True

    def test_set_missing_rates_exits_2(self, cli: Harness) -> None:
        """Without --free, --input and --output are needed."""
        result = cli.run("prices", "set", "--provider", "fake", "--model", "m1", "--input", "1")
        assert result.exit_code == 2
        assert "missing --output" in result.stderr

    def test_set_per_token_rate_exits_1(self, cli: Harness) -> None:
        """A rate that looks per token is rejected with the per-million value."""
        result = cli.run("prices", "set", "--provider", "fake", "--model", "m1", "--input", "0.0000025",
                         "--output", "10")  # fmt: skip
        assert result.exit_code == 1
        assert "looks like a per-token rate" in _error_line(result)

    def test_set_json_file(self, cli: Harness) -> None:
        """prices set --file reads a JSON array, numbers as exact decimals."""
        path = cli.write("prices.json", PRICES_JSON)
        result = cli.run("prices", "set", "--file", path)
        data = cli.run_json("prices", "list", "--json")
        assert result.exit_code == 0
        assert [(entry["model"], entry["input"]) for entry in data] == [("m1", "1.5"), ("m2", "3")]
        assert data[1]["tiers"] == [{"threshold": 200000, "input": "6", "output": "22.5"}]
        assert data[1]["effective_from"] == "2025-01-01"

    def test_set_toml_file(self, cli: Harness) -> None:
        """prices set --file reads [[prices]] tables from TOML."""
        path = cli.write("prices.toml", PRICES_TOML)
        result = cli.run("prices", "set", "--file", path)
        data = cli.run_json("prices", "list", "--json")
        assert result.exit_code == 0
        assert [(entry["model"], entry.get("free", False)) for entry in data] == [("local", True), ("m1", False)]
        assert data[1]["input"] == "1.5"
        assert data[0]["effective_from"] == "2025-01-01"

    def test_file_reports_every_bad_entry(self, cli: Harness) -> None:
        """Every bad entry of a file is listed in one error line, and nothing is stored."""
        entries = [
            {"provider": "fake", "model": "good", "input": "1", "output": "2"},
            {"model": "no-provider", "input": "1", "output": "2"},
            {"provider": "fake", "model": "bad-rate", "input": "abc", "output": "2", "colour": "red"},
        ]
        path = cli.write("prices.json", json.dumps(entries))
        result = cli.run("prices", "set", "--file", path)
        line = _error_line(result)
        assert result.exit_code == 1
        assert "3 invalid field(s)" in line
        assert "entry 1: provider: required field missing" in line
        assert "entry 2 (fake/bad-rate): input: not a decimal number" in line
        assert "entry 2 (fake/bad-rate): unknown field(s) colour" in line
        assert "entry 0" not in line
        assert cli.run_json("prices", "list", "--json") == []

    def test_file_overlap_stores_none(self, cli: Harness) -> None:
        """A file whose prices overlap is rejected as a whole."""
        entries = [
            {"provider": "fake", "model": "m1", "input": "1", "output": "2", "effective_from": "2025-01-01"},
            {"provider": "fake", "model": "m1", "input": "2", "output": "4", "effective_from": "2025-06-01"},
        ]
        path = cli.write("prices.json", json.dumps(entries))
        result = cli.run("prices", "set", "--file", path)
        line = _error_line(result)
        assert result.exit_code == 1
        assert line.startswith("Error: stored none of the 2 prices: entry 1 (fake/m1):")
        assert "overlaps" in line
        assert cli.run_json("prices", "list", "--json") == []

    def test_file_not_a_list_exits_1(self, cli: Harness) -> None:
        """A file that contains no list of prices is an error."""
        path = cli.write("prices.json", '{"provider": "fake"}')
        result = cli.run("prices", "set", "--file", path)
        assert result.exit_code == 1
        assert "must hold a list of prices" in _error_line(result)

    def test_file_with_flags_exits_2(self, cli: Harness) -> None:
        """--file with rate flags is a usage error."""
        path = cli.write("prices.json", PRICES_JSON)
        result = cli.run("prices", "set", "--file", path, "--input", "1")
        assert result.exit_code == 2
        assert "leave out --input" in result.stderr

    def test_list_json_round_trips(self, cli: Harness) -> None:
        """The output of prices list --json is a valid file for prices set --file."""
        cli.run("prices", "set", "--file", cli.write("prices.json", PRICES_JSON))
        exported = cli.run("prices", "list", "--json").stdout
        cli.run("prices", "delete", "fake", "m1")
        cli.run("prices", "delete", "fake", "m2")
        result = cli.run("prices", "set", "--file", cli.write("exported.json", exported))
        assert result.exit_code == 0
        assert cli.run("prices", "list", "--json").stdout == exported

    def test_list_table(self, cli: Harness) -> None:
        """The table lists each stored price with its rates."""
        cli.run("prices", "set", "--provider", "fake", "--model", "m1", "--input", "1.5", "--output", "6")
        result = cli.run("prices", "list")
        assert result.exit_code == 0
        assert any("m1" in line and "1.5" in line and "6" in line for line in result.stdout.splitlines())

    def test_show_database_price(self, cli: Harness) -> None:
        """prices show resolves a dated name to the database price before the plugin table."""
        cli.run("prices", "set", "--provider", "fake", "--model", "fake-model", "--input", "1.5", "--output", "6")
        result = cli.run("prices", "show", "fake", "fake-model-2024-07-18")
        lines = result.stdout.splitlines()
        assert result.exit_code == 0
        assert lines[0] == "fake/fake-model-2024-07-18: fake/fake-model from database"
        assert "input: 1.5 USD per million tokens" in lines
        assert "output: 6 USD per million tokens" in lines

    def test_show_table_price_json(self, cli: Harness) -> None:
        """prices show --json gives the source and the rates of the plugin table."""
        data = cli.run_json("prices", "show", "fake", "fake-model", "--json")
        assert data["source"] == FAKE_SOURCE
        assert data["price"]["model"] == "fake-model"
        assert data["price"]["input"] == "2.50"
        assert data["price"]["cached_input"] == "1.25"

    def test_show_at_before_price(self, cli: Harness) -> None:
        """--at before a price starts finds no price."""
        cli.run("prices", "set", "--provider", "fake", "--model", "new", "--input", "1", "--output", "2",
                "--effective-from", "2030-01-01")  # fmt: skip
        result = cli.run("prices", "show", "fake", "new", "--at", "2029-12-31")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: no price for fake/new in force at 2029-12-31T00:00:00+00:00")

    def test_show_unknown_exits_1(self, cli: Harness) -> None:
        """An unknown model is one error line that shows how to add a price."""
        result = cli.run("prices", "show", "fake", "mystery")
        line = _error_line(result)
        assert result.exit_code == 1
        assert line.startswith("Error: no price for fake/mystery")
        assert "costkit prices set --provider fake --model mystery" in line

    def test_show_openai_table(self, cli: Harness) -> None:
        """A dated OpenAI name resolves to the costkit-openai table."""
        plugin = pytest.importorskip("costkit_openai")
        cli.manager.register(plugin, name="openai")
        result = cli.run("prices", "show", "openai", "gpt-4o-mini-2024-07-18")
        first = result.stdout.splitlines()[0]
        assert result.exit_code == 0
        assert first.startswith("openai/gpt-4o-mini-2024-07-18: openai/gpt-4o-mini from costkit-openai")
        assert any(line.startswith("input: ") for line in result.stdout.splitlines())

    def test_delete(self, cli: Harness) -> None:
        """prices delete removes the stored prices; deleting nothing is an error."""
        cli.run("prices", "set", "--provider", "fake", "--model", "m1", "--input", "1", "--output", "2")
        deleted = cli.run("prices", "delete", "fake", "m1")
        again = cli.run("prices", "delete", "fake", "m1")
        assert deleted.stdout == "Deleted 1 price of fake/m1.\n"
        assert cli.run_json("prices", "list", "--json") == []
        assert again.exit_code == 1
        assert _error_line(again).startswith("Error: the database has no price of fake/m1")


# --- reprice ------------------------------------------------------------------------------


class TestReprice:
    def test_reprices_with_new_price(self, cli: Harness) -> None:
        """reprice applies a new database price, shows progress and the totals."""
        cli.chat("Hi")
        cli.chat("Hi again")
        cli.run("prices", "set", "--provider", "fake", "--model", "fake-model", "--input", "5", "--cached-input",
                "2.5", "--output", "20")  # fmt: skip
        today = _today()
        result = cli.run("reprice", "--since", today.isoformat(), "--until", (today + timedelta(days=1)).isoformat())
        assert result.exit_code == 0
        assert result.stdout.splitlines() == [
            "examined: 2",
            "changed: 2",
            "previous total: 0.0145 USD",
            "new total: 0.029 USD",
        ]
        assert "Repricing" in result.stderr
        assert "2/2" in result.stderr
        assert cli.run_json("report", "--format", "json")["total"]["cost"] == "0.029"

    def test_outside_period_unchanged(self, cli: Harness) -> None:
        """Rows outside [--since, --until) are not examined."""
        cli.chat("Hi")
        result = cli.run("reprice", "--since", "2000-01-01", "--until", "2000-01-02")
        assert result.stdout.splitlines()[0] == "examined: 0"
        assert "0/0" in result.stderr

    def test_until_before_since_exits_2(self, cli: Harness) -> None:
        """--until must come after --since."""
        result = cli.run("reprice", "--since", "2025-02-01", "--until", "2025-01-01")
        assert result.exit_code == 2
        assert "must be after --since" in result.stderr

    def test_missing_since_exits_2(self, cli: Harness) -> None:
        """--since is required."""
        result = cli.run("reprice", "--until", "2025-01-01")
        assert result.exit_code == 2


# --- plugins ------------------------------------------------------------------------------


class TestPlugins:
    def test_json(self, cli: Harness) -> None:
        """plugins --json lists each plugin with its distribution and hooks."""
        data = cli.run_json("plugins", "--json")
        by_name = {entry["name"]: entry for entry in data}
        assert set(by_name) == {"costkit.builtins", "fake"}
        assert by_name["fake"]["hooks"] == [
            "costkit_register_drivers",
            "costkit_register_pricing_sources",
            "costkit_register_token_extractors",
        ]
        assert by_name["costkit.builtins"]["distribution"] == "costkit"
        assert "costkit_register_middleware" in by_name["costkit.builtins"]["hooks"]

    def test_table(self, cli: Harness) -> None:
        """The table lists each plugin."""
        result = cli.run("plugins")
        assert result.exit_code == 0
        assert any(line.startswith("│ fake ") for line in result.stdout.splitlines())


# --- ledger replay ------------------------------------------------------------------------


def _journal_row(request_id: str) -> dict[str, Any]:
    """A ledger row in the form the ledger writes to its journal."""
    return {
        "request_id": request_id,
        "created_at": to_micros(datetime.now(timezone.utc)),
        "user_id": "u1",
        "project_id": None,
        "organization_id": None,
        "conversation_id": None,
        "provider": "fake",
        "model": "fake-model",
        "requested_model": "fake-model",
        "input_tokens": 1000,
        "cached_input_tokens": 200,
        "cache_write_tokens": 0,
        "output_tokens": 500,
        "reasoning_tokens": 100,
        "audio_input_tokens": 0,
        "image_input_tokens": 0,
        "audio_output_tokens": 0,
        "image_output_tokens": 0,
        "tool_use_prompt_tokens": 0,
        "cost": FAKE_COST,
        "currency": "USD",
        "price_source": FAKE_SOURCE,
        "price_version": "fake-model@always",
        "free": False,
        "unpriced": False,
        "provider_reported_cost": None,
        "service_tier": None,
        "streamed": False,
        "estimated": False,
        "status": "complete",
        "metadata": {},
    }


class TestLedgerReplay:
    def test_writes_journal_row_once(self, cli: Harness) -> None:
        """ledger replay writes a journaled row once, even when replayed or journaled again."""
        ledger = cli.client(cli.database_url).ledger
        ledger.journal.append(_journal_row("req-1"))
        first = cli.run("ledger", "replay")
        second = cli.run("ledger", "replay")
        ledger.journal.append(_journal_row("req-1"))
        third = cli.run("ledger", "replay")
        records = ledger.records()
        assert first.stdout == f"Replayed 1 row from the journal {ledger.journal.path} into the ledger.\n"
        assert second.stdout.startswith("Replayed 0 rows")
        assert third.stdout.startswith("Replayed 1 row ")
        assert [record.request_id for record in records] == ["req-1"]
        assert records[0].cost == Decimal(FAKE_COST)
        assert ledger.journal.pending() is False


# --- conversations ------------------------------------------------------------------------


class TestConversations:
    @pytest.fixture
    def conversation_id(self, cli: Harness) -> str:
        client = cli.client(cli.database_url)
        conversation = client.conversation().provider("fake").model("fake-model").user("u1").title("Greeting")
        conversation.message("Hi").send()
        conversation.message("And again").send()
        return conversation.id

    def test_list_json(self, cli: Harness, conversation_id: str) -> None:
        """conversations list --json shows each conversation's message count and cost."""
        data = cli.run_json("conversations", "list", "--json")
        assert len(data) == 1
        assert data[0]["id"] == conversation_id
        assert data[0]["title"] == "Greeting"
        assert data[0]["messages"] == 4
        assert data[0]["total_cost"] == "0.0145"

    def test_list_other_user_empty(self, cli: Harness, conversation_id: str) -> None:
        """--user keeps only that user's conversations."""
        assert cli.run_json("conversations", "list", "--user", "someone-else", "--json") == []

    def test_show_json(self, cli: Harness, conversation_id: str) -> None:
        """conversations show --json gives each turn's tokens and cost and the total."""
        data = cli.run_json("conversations", "show", conversation_id, "--json")
        assistant = [message for message in data["messages"] if message["role"] == "assistant"]
        assert [message["content"] for message in data["messages"]] == ["Hi", "Hello", "And again", "Hello"]
        assert [message["cost"] for message in assistant] == [FAKE_COST, FAKE_COST]
        assert assistant[0]["input_tokens"] == 1000
        assert assistant[0]["output_tokens"] == 500
        assert data["total_cost"] == "0.0145"

    def test_show_text(self, cli: Harness, conversation_id: str) -> None:
        """conversations show prints the messages, per-turn costs and the total."""
        result = cli.run("conversations", "show", conversation_id)
        lines = result.stdout.splitlines()
        assert lines[0] == f"conversation {conversation_id}: Greeting"
        assert "user: Hi" in lines
        assert f"  (fake/fake-model: 1000 in, 500 out · cost: {FAKE_COST} USD)" in lines
        assert lines[-1] == "total: 0.0145 USD over 2 turns"

    def test_show_unknown_exits_1(self, cli: Harness) -> None:
        """An unknown conversation id is one error line."""
        result = cli.run("conversations", "show", "nope")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: no conversation 'nope'")

    def test_list_empty(self, cli: Harness) -> None:
        """No conversations gives one sentence."""
        assert cli.run("conversations", "list").stdout == "No conversations stored.\n"
