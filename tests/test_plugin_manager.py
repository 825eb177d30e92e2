"""Tests of plugin discovery, validation and the registries the plugin manager collects."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import costkit
from costkit import PluginError, PluginWarning
from costkit.middleware import Middleware
from costkit.plugin.manager import PluginManager
from costkit.pricing import StaticPriceTable


def make_plugin(**hooks: Callable[..., Any]) -> types.ModuleType:
    """Build a plugin module whose attributes are the given hook implementations."""
    module = types.ModuleType("test_plugin")
    for name, function in hooks.items():
        setattr(module, name, costkit.hookimpl(function))
    return module


class AuditMiddleware(Middleware):
    name = "audit"


def register_audit(register: Callable[..., None]) -> None:
    register("audit", AuditMiddleware)


def register_table(register: Callable[..., None]) -> None:
    register(StaticPriceTable("test table", [costkit.ModelPrice(provider="p", model="m", input="1")]))


@pytest.fixture
def installed_entry_point(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """Pretend extra entry points of the costkit group are installed."""
    extra: list[importlib.metadata.EntryPoint] = []
    original = importlib.metadata.entry_points

    def entry_points(**selection: Any) -> Any:
        found = list(original(**selection))
        if selection.get("group") == "costkit":
            return found + extra
        return found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)

    def install(name: str, value: str) -> None:
        extra.append(importlib.metadata.EntryPoint(name=name, value=value, group="costkit"))

    yield install


class TestRegistration:
    def test_builtins_register_middleware_and_database_source(self, plugin_manager: PluginManager) -> None:
        """The core's own plugin registers its middleware and the database source first."""
        assert set(plugin_manager.middleware_classes()) == {"budget-enforcement", "cost-tracking"}
        assert plugin_manager.pricing_sources()[0].name == "database"

    def test_plugin_defined_in_test_contributes(self, plugin_manager: PluginManager) -> None:
        """A registered plugin's middleware and pricing source become available."""
        plugin_manager.register(
            make_plugin(costkit_register_middleware=register_audit, costkit_register_pricing_sources=register_table),
            name="audit-plugin",
        )
        assert plugin_manager.middleware_classes()["audit"] is AuditMiddleware
        assert [source.name for source in plugin_manager.pricing_sources()] == ["database", "test table"]

    def test_wrong_signature_names_plugin_and_hook(self, plugin_manager: PluginManager) -> None:
        """An implementation with arguments the hook does not have is rejected with both signatures."""

        def costkit_register_drivers(register: Any, extra: Any) -> None:
            del register, extra

        with pytest.raises(PluginError) as raised:
            plugin_manager.register(make_plugin(costkit_register_drivers=costkit_register_drivers), name="bad")
        assert raised.value.plugin == "bad"
        assert raised.value.hook == "costkit_register_drivers"
        assert "(register, extra)" in str(raised.value)

    def test_unknown_hook_is_rejected(self, plugin_manager: PluginManager) -> None:
        """A costkit_-prefixed implementation of no known hook is a mistake, named in the error."""

        def costkit_register_widgets(register: Any) -> None:
            del register

        with pytest.raises(PluginError, match="costkit_register_widgets"):
            plugin_manager.register(make_plugin(costkit_register_widgets=costkit_register_widgets), name="typo")
        assert not plugin_manager.is_registered("typo")

    def test_taken_middleware_name_is_rejected(self, plugin_manager: PluginManager) -> None:
        """Two plugins cannot register the same middleware name."""
        plugin_manager.register(make_plugin(costkit_register_middleware=register_audit), name="first")
        plugin_manager.register(make_plugin(costkit_register_middleware=register_audit), name="second")
        with pytest.raises(PluginError, match="'audit', which is taken"):
            plugin_manager.middleware_classes()

    def test_middleware_registered_by_path(self, plugin_manager: PluginManager) -> None:
        """A 'module:Class' registration is imported on first use and checked then."""

        def costkit_register_middleware(register: Callable[..., None]) -> None:
            register("audit", f"{__name__}:AuditMiddleware")
            register("broken", f"{__name__}:NoSuchMiddleware")

        plugin_manager.register(make_plugin(costkit_register_middleware=costkit_register_middleware), name="paths")
        with pytest.raises(PluginError, match="'broken'.*cannot be imported"):
            plugin_manager.middleware_classes()

    def test_middleware_path_resolves_to_class(self, plugin_manager: PluginManager) -> None:
        """A middleware registered by path resolves to its class."""

        def costkit_register_middleware(register: Callable[..., None]) -> None:
            register("audit", f"{__name__}:AuditMiddleware")

        plugin_manager.register(make_plugin(costkit_register_middleware=costkit_register_middleware), name="paths")
        assert plugin_manager.middleware_classes()["audit"] is AuditMiddleware

    def test_discovery_imports_no_database_modules(self) -> None:
        """Loading the plugins and their pricing sources leaves peewee and cattrs unimported."""
        script = (
            "import sys\n"
            "from costkit.plugin.manager import PluginManager\n"
            "manager = PluginManager()\n"
            "manager.drivers(); manager.token_extractors(); manager.pricing_sources()\n"
            "print(sorted(name for name in ('peewee', 'cattrs', 'httpx') if name in sys.modules))\n"
        )
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        assert result.stdout.strip() == "[]"

    def test_source_without_find_is_rejected(self, plugin_manager: PluginManager) -> None:
        """A pricing source must have a find method."""

        def costkit_register_pricing_sources(register: Callable[..., None]) -> None:
            register(object())

        plugin_manager.register(
            make_plugin(costkit_register_pricing_sources=costkit_register_pricing_sources), name="nofind"
        )
        with pytest.raises(PluginError, match="find"):
            plugin_manager.pricing_sources()

    def test_plugins_lists_hooks(self, plugin_manager: PluginManager) -> None:
        """plugins() describes each plugin with the hooks it implements."""
        plugin_manager.register(make_plugin(costkit_register_middleware=register_audit), name="audit-plugin")
        info = {plugin.name: plugin for plugin in plugin_manager.plugins()}
        assert info["audit-plugin"].hooks == ("costkit_register_middleware",)
        assert info["costkit.builtins"].distribution == "costkit"


class TestEntryPoints:
    def test_installed_plugins_are_discovered(self) -> None:
        """The four provider plugins are found through the costkit entry-point group."""
        names = {plugin.name for plugin in PluginManager().plugins()}
        assert {"openai", "xai", "gemini", "ollama"} <= names

    def test_disable_variable_blocks_plugins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """COSTKIT_DISABLE_PLUGINS blocks plugins by name."""
        monkeypatch.setenv("COSTKIT_DISABLE_PLUGINS", "xai, gemini")
        names = {plugin.name for plugin in PluginManager().plugins()}
        assert "xai" not in names
        assert "gemini" not in names
        assert "openai" in names

    def test_broken_plugin_is_skipped_with_warning(self, installed_entry_point: Callable[[str, str], None]) -> None:
        """A plugin that fails to import is skipped with a warning naming it; the rest load."""
        installed_entry_point("broken", "costkit_module_that_does_not_exist")
        with pytest.warns(PluginWarning, match="'broken'.*COSTKIT_DISABLE_PLUGINS=broken"):
            manager = PluginManager()
        names = {plugin.name for plugin in manager.plugins()}
        assert "broken" not in names
        assert "openai" in names

    def test_invalid_plugin_is_skipped_with_warning(
        self, installed_entry_point: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A plugin whose hooks do not match the specs is skipped with a warning."""

        def costkit_request_sent(event: Any, surplus: Any) -> None:
            del event, surplus

        module = make_plugin(costkit_request_sent=costkit_request_sent)
        monkeypatch.setitem(sys.modules, "costkit_invalid_plugin", module)
        installed_entry_point("invalid", "costkit_invalid_plugin")
        with pytest.warns(PluginWarning, match="'invalid'"):
            manager = PluginManager()
        assert not manager.is_registered("invalid")

    def test_isolated_manager_ignores_installed_plugins(self) -> None:
        """The plugin_manager fixture's kind of manager sees only the built-ins."""
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            manager = PluginManager(load_entry_points=False)
        assert [plugin.name for plugin in manager.plugins()] == ["costkit.builtins"]


class TestEvents:
    def test_event_hooks_reach_every_plugin(self, plugin_manager: PluginManager) -> None:
        """Event hooks are called in each plugin that implements them."""
        seen: list[str] = []

        def costkit_cost_calculated(event: Any) -> None:
            seen.append(event)

        plugin_manager.register(make_plugin(costkit_cost_calculated=costkit_cost_calculated), name="listener-a")
        plugin_manager.register(make_plugin(costkit_cost_calculated=costkit_cost_calculated), name="listener-b")
        plugin_manager.cost_calculated("event")  # type: ignore[arg-type]
        assert seen == ["event", "event"]


def test_all_is_complete_and_sorted() -> None:
    """costkit.__all__ lists every public name, sorted, and each one resolves."""
    public = sorted(name for name in costkit.__all__)
    assert costkit.__all__ == public
    for name in costkit.__all__:
        assert getattr(costkit, name) is not None
