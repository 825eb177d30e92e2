"""Test helpers for costkit and its plugins; also a pytest plugin (loaded automatically).

Fixtures (see :mod:`costkit.testing.plugin`): ``plugin_manager``, an isolated plugin manager
with only the built-ins; ``recorded_payloads``, the folder of recorded provider bodies (the
test is skipped with a reason where it is absent); ``ledger_database``, a temporary SQLite
ledger.

Helpers: :func:`replay_transport` serves recorded bodies through ``httpx.MockTransport``;
:class:`ProviderConformance` is a test class a provider plugin subclasses to check its
extractor, driver and registrations against its own recorded payloads.
"""

from __future__ import annotations

from costkit.testing._fixtures import (
    FIXTURES_ENV,
    expected_usage,
    fixtures_dir,
    load_body,
    replay_transport,
    usage_as_expected,
)
from costkit.testing.conformance import ProviderConformance

__all__ = [
    "FIXTURES_ENV",
    "ProviderConformance",
    "expected_usage",
    "fixtures_dir",
    "load_body",
    "replay_transport",
    "usage_as_expected",
]
