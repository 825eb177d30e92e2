"""A conformance suite that provider plugins run against their own recorded payloads.

Subclass :class:`ProviderConformance` in the plugin's tests::

    import costkit_example
    from costkit.testing import ProviderConformance


    class TestExampleConformance(ProviderConformance):
        provider = "example"
        plugin = costkit_example
        fixture_prefixes = ("example-",)
        model = "example-large"

pytest collects the inherited tests. They need the recorded payloads folder and are skipped
with a reason where it is absent.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from costkit._chain import extract_usage
from costkit._models import Request
from costkit.errors import ProviderError
from costkit.plugin.manager import PluginManager
from costkit.testing._fixtures import expected_usage, fixtures_dir, usage_as_expected

__all__ = ["ProviderConformance"]

SENTINEL_KEY = "sk-costkit-sentinel-0123456789abcdef"
"""A fake API key the suite searches for in reprs, messages and bodies."""


class ProviderConformance:
    """Inherited tests every provider plugin should pass."""

    provider: ClassVar[str]
    "The provider name the plugin registers."
    plugin: ClassVar[Any]
    "The plugin module (the entry-point target)."
    fixture_prefixes: ClassVar[tuple[str, ...]] = ()
    "Recorded file name prefixes whose usage this plugin's extractor must reproduce."
    model: ClassVar[str] = "test-model"
    "A model name for driver requests."
    driver_options: ClassVar[dict[str, Any]] = {}
    "Extra options for the driver factory (besides ``api_key`` and ``transport``)."

    @pytest.fixture
    def conformance_manager(self) -> PluginManager:
        manager = PluginManager(load_entry_points=False)
        manager.register(self.plugin, name=f"conformance-{self.provider}")
        return manager

    @pytest.fixture
    def payload_folder(self) -> Path:
        folder = fixtures_dir()
        if folder is None:
            pytest.skip("recorded provider payloads not found; set COSTKIT_FIXTURES to their folder")
        return folder

    def _files(self, folder: Path) -> list[str]:
        return sorted(path.name for path in folder.iterdir() if path.name.startswith(self.fixture_prefixes))

    def _error_files(self, folder: Path) -> list[tuple[str, int]]:
        manifest = folder / "MANIFEST.tsv"
        with manifest.open(newline="") as file:
            rows = list(csv.DictReader(file, delimiter="\t"))
        return [
            (row["file"], int(row["http_status"]))
            for row in rows
            if row["file"].startswith(self.fixture_prefixes) and int(row["http_status"]) >= 400
        ]

    def _driver(self, manager: PluginManager, transport: httpx.MockTransport) -> Any:
        factory = manager.drivers()[self.provider]
        return factory(api_key=SENTINEL_KEY, transport=transport, max_retries=0, **self.driver_options)

    def test_registers_driver_extractor_and_prices(self, conformance_manager: PluginManager) -> None:
        """The plugin registers a driver, a token extractor and a pricing source."""
        assert self.provider in conformance_manager.drivers()
        assert self.provider in conformance_manager.token_extractors()
        builtin_sources = len(PluginManager(load_entry_points=False).pricing_sources())
        assert len(conformance_manager.pricing_sources()) > builtin_sources

    def test_recorded_usage_matches_expected(self, conformance_manager: PluginManager, payload_folder: Path) -> None:
        """Every recorded body of the provider extracts to its expected usage."""
        table = expected_usage()
        files = [name for name in self._files(payload_folder) if name in table]
        assert files, f"no recorded bodies start with {self.fixture_prefixes}"
        mismatches = {}
        for name in files:
            body = (payload_folder / name).read_bytes()
            usage = extract_usage(self.provider, body, plugins=conformance_manager)
            got = usage_as_expected(usage)
            want = table[name]["usage"]
            if got != want:
                mismatches[name] = {"got": got, "expected": want}
        assert mismatches == {}

    def test_error_bodies_raise_provider_errors(self, conformance_manager: PluginManager, payload_folder: Path) -> None:
        """Each recorded error body raises a ProviderError that never shows the API key."""
        cases = self._error_files(payload_folder)
        if not cases:
            pytest.skip(f"no recorded error bodies start with {self.fixture_prefixes}")
        for name, status in cases:
            body = (payload_folder / name).read_bytes()

            def handle(request: httpx.Request, body: bytes = body, status: int = status) -> httpx.Response:
                return httpx.Response(status, content=body, headers={"content-type": "application/json"})

            driver = self._driver(conformance_manager, httpx.MockTransport(handle))
            request = Request(provider=self.provider, model=self.model, messages="Hello")
            with pytest.raises(ProviderError) as raised:
                driver.send(request)
            assert raised.value.status_code == status, name
            assert SENTINEL_KEY not in str(raised.value), name
            assert SENTINEL_KEY not in repr(raised.value.body), name

    def test_driver_repr_hides_api_key(self, conformance_manager: PluginManager) -> None:
        """The driver's repr does not contain the API key."""
        driver = self._driver(conformance_manager, httpx.MockTransport(lambda request: httpx.Response(500)))
        assert SENTINEL_KEY not in repr(driver)
        assert SENTINEL_KEY not in str(vars(driver).get("base_url", ""))
