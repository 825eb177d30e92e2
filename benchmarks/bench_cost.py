"""Cost math side by side: costkit.calculate_cost, genai-prices calc_price and LiteLLM cost_per_token.

Each tool prices the same usage records. The script first checks that the three agree on the
amounts, then times them in one process, taking turns within every repeat so that machine
noise hits all three alike. Each tool gets its usage in its own form, built once before the
timing: the timed call is the price lookup and the arithmetic.

Run alone: ``python benchmarks/bench_cost.py``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
from _harness import blocked_connections, calibrate, install_network_guard, median, time_calls

__all__ = ["RECORDS", "Record", "run"]

# LiteLLM reads its bundled price map instead of downloading one when this is set; it must be
# set before litellm is imported.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

REPEATS = 15
"""Timed repeats per tool and record; the report gives the median of the per-call times."""

REPEAT_SECONDS = 0.05
"""Target duration of one repeat of one tool, which sets its number of calls."""


@attrs.frozen
class Record:
    """One usage record, with the provider and model names each tool expects."""

    name: str
    "What the record exercises."
    costkit_provider: str
    model: str
    genai_provider: str
    litellm_provider: str
    input_tokens: int
    "Every prompt token, cached ones included."
    cached_input_tokens: int
    output_tokens: int
    "Every output token, reasoning included."
    reasoning_tokens: int


RECORDS = (
    Record(
        name="OpenAI gpt-4o-mini, 10,000 prompt tokens of which 4,000 cached, 500 output",
        costkit_provider="openai",
        model="gpt-4o-mini",
        genai_provider="openai",
        litellm_provider="openai",
        input_tokens=10_000,
        cached_input_tokens=4_000,
        output_tokens=500,
        reasoning_tokens=0,
    ),
    Record(
        name="Gemini gemini-2.5-pro, 250,000 prompt tokens (above the 200k tier), 2,000 output",
        costkit_provider="gemini",
        model="gemini-2.5-pro",
        genai_provider="google",
        litellm_provider="gemini",
        input_tokens=250_000,
        cached_input_tokens=0,
        output_tokens=2_000,
        reasoning_tokens=0,
    ),
    Record(
        name="OpenAI o3-mini, 3,000 prompt tokens, 5,000 output of which 4,000 reasoning",
        costkit_provider="openai",
        model="o3-mini",
        genai_provider="openai",
        litellm_provider="openai",
        input_tokens=3_000,
        cached_input_tokens=0,
        output_tokens=5_000,
        reasoning_tokens=4_000,
    ),
)


def _callables(record: Record) -> dict[str, Callable[[], Any]]:
    """Build one zero-argument call per tool that prices ``record``."""
    import genai_prices
    import litellm
    from litellm.types.utils import CompletionTokensDetailsWrapper, PromptTokensDetailsWrapper
    from litellm.types.utils import Usage as LiteLLMUsage

    import costkit

    usage = costkit.Usage(
        input_tokens=record.input_tokens,
        cached_input_tokens=record.cached_input_tokens,
        output_tokens=record.output_tokens,
        reasoning_tokens=record.reasoning_tokens,
    )
    genai_usage = genai_prices.Usage(
        input_tokens=record.input_tokens,
        cache_read_tokens=record.cached_input_tokens,
        output_tokens=record.output_tokens,
    )
    litellm_usage = LiteLLMUsage(
        prompt_tokens=record.input_tokens,
        completion_tokens=record.output_tokens,
        total_tokens=record.input_tokens + record.output_tokens,
        prompt_tokens_details=PromptTokensDetailsWrapper(cached_tokens=record.cached_input_tokens),
        completion_tokens_details=CompletionTokensDetailsWrapper(reasoning_tokens=record.reasoning_tokens),
    )
    calculate_cost = costkit.calculate_cost
    calc_price = genai_prices.calc_price
    cost_per_token = litellm.cost_per_token
    return {
        "costkit": lambda: calculate_cost(record.costkit_provider, record.model, usage),
        "genai-prices": lambda: calc_price(genai_usage, record.model, provider_id=record.genai_provider),
        "litellm": lambda: cost_per_token(
            model=record.model, custom_llm_provider=record.litellm_provider, usage_object=litellm_usage
        ),
    }


def _amounts(calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Return each tool's total: Decimals from costkit and genai-prices, a float from LiteLLM."""
    breakdown = calls["costkit"]()
    genai = calls["genai-prices"]()
    prompt_cost, completion_cost = calls["litellm"]()
    return {
        "costkit": breakdown.total,
        "costkit_source": breakdown.source,
        "genai-prices": genai.total_price,
        "litellm": prompt_cost + completion_cost,
    }


def _agreement(amounts: dict[str, Any]) -> dict[str, Any]:
    """Compare the totals: exactly for Decimals, within float precision for LiteLLM's float."""
    ours: Decimal = amounts["costkit"]
    theirs: Decimal = amounts["genai-prices"]
    litellm_total: float = amounts["litellm"]
    # The float nearest to our exact amount; LiteLLM multiplies float per-token rates, so its
    # sum may differ from that float in the last bits (a relative error near 1e-16).
    nearest = float(ours)
    return {
        "genai_equal": ours == theirs,
        "litellm_close": math.isclose(litellm_total, nearest, rel_tol=1e-12, abs_tol=0.0),
        "litellm_relative_error": abs(litellm_total - nearest) / nearest if nearest else 0.0,
        "litellm_exact_float": litellm_total == nearest,
    }


def run(repeats: int = REPEATS, repeat_seconds: float = REPEAT_SECONDS) -> dict[str, Any]:
    """Check the three tools agree on every record, then time them; return the figures."""
    install_network_guard()
    results = []
    for record in RECORDS:
        calls = _callables(record)
        amounts = _amounts(calls)
        agreement = _agreement(amounts)

        # Warm every cache (model lookups, price tables) before timing.
        for call in calls.values():
            for _ in range(200):
                call()
        counts = {tool: calibrate(call, repeat_seconds) for tool, call in calls.items()}
        samples: dict[str, list[float]] = {tool: [] for tool in calls}
        tools = list(calls)
        for repeat in range(repeats):
            # Rotate the order so no tool always runs first (or right after another).
            shift = repeat % len(tools)
            for tool in tools[shift:] + tools[:shift]:
                samples[tool].append(time_calls(calls[tool], counts[tool]))

        medians = {tool: median(values) for tool, values in samples.items()}
        results.append(
            {
                "record": record.name,
                "amounts": {key: str(value) if isinstance(value, Decimal) else value for key, value in amounts.items()},
                "litellm_repr": repr(amounts["litellm"]),
                "agreement": agreement,
                "calls_per_repeat": counts,
                "median_seconds": medians,
                "min_seconds": {tool: min(values) for tool, values in samples.items()},
                "speedup": {
                    "genai-prices": medians["genai-prices"] / medians["costkit"],
                    "litellm": medians["litellm"] / medians["costkit"],
                },
            }
        )
    return {"repeats": repeats, "records": results, "blocked_connections": blocked_connections()}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
