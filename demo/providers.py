"""The calls to real providers: one per provider whose key or host is set in the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from demo.server import DemoError

if TYPE_CHECKING:
    import costkit

__all__ = ["CHEAP_MODELS", "REAL_MAX_OUTPUT_TOKENS", "RealCall", "Skipped", "plan_real_calls", "run_real_call"]

CHEAP_MODELS: Final = {
    "openai": "gpt-4.1-nano",
    "xai": "grok-4-1-fast-non-reasoning",
    "gemini": "gemini-2.5-flash-lite",
}
"""Low-priced models without hidden reasoning, so a few output tokens still carry text."""

REAL_MAX_OUTPUT_TOKENS: Final = 16
REAL_PROMPT: Final = "Reply with one short sentence: what is 2 + 2?"

# Each provider and the variables that enable it, in the order its plugin reads them.
_VARIABLES: Final = (
    ("openai", ("OPENAI_API_KEY",)),
    ("xai", ("XAI_API_KEY",)),
    ("gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
    ("ollama", ("OLLAMA_HOST",)),
)


@dataclass(frozen=True)
class RealCall:
    """One planned call to a real provider."""

    provider: str
    "The provider plugin."
    model: str | None
    "The model; ``None`` for Ollama means the first model the server lists."
    variable: str
    "The environment variable that enabled the call."


@dataclass(frozen=True)
class Skipped:
    """A provider left out, and why."""

    provider: str
    "The provider plugin."
    reason: str
    "Why it is not called."


def plan_real_calls(environ: Mapping[str, str]) -> tuple[list[RealCall], list[Skipped]]:
    """Plan one call per provider whose variable is set (non-empty) in ``environ``.

    ``COSTKIT_DEMO_<PROVIDER>_MODEL`` (for example ``COSTKIT_DEMO_OPENAI_MODEL``) replaces the
    default model. Nothing here touches the network.
    """
    calls = []
    skipped = []
    for provider, variables in _VARIABLES:
        variable = next((name for name in variables if environ.get(name)), None)
        if variable is None:
            reason = f"{' or '.join(variables)} is not set"
            skipped.append(Skipped(provider, reason))
            continue
        model = environ.get(f"COSTKIT_DEMO_{provider.upper()}_MODEL") or CHEAP_MODELS.get(provider)
        calls.append(RealCall(provider, model, variable))
    return calls, skipped


def run_real_call(client: costkit.Client, call: RealCall, *, user_id: str) -> costkit.Response:
    """Send the demo prompt to a real provider with a small ``max_output_tokens``.

    Raises:
        DemoError: Ollama lists no installed model.
        costkit.CostkitError: The provider or the pricing failed.
    """
    model = call.model or _first_ollama_model(client)
    return client.send(
        REAL_PROMPT, provider=call.provider, model=model, max_output_tokens=REAL_MAX_OUTPUT_TOKENS, user_id=user_id
    )


def _first_ollama_model(client: costkit.Client) -> str:
    driver = client.context.driver("ollama")
    models = driver.list_models()  # type: ignore[attr-defined]
    if not models:
        message = (
            "the Ollama server lists no installed model; pull one with `ollama pull llama3.2` "
            "or set COSTKIT_DEMO_OLLAMA_MODEL"
        )
        raise DemoError(message)
    name: str = models[0].name
    return name
