"""The plugin manager: loads plugins, validates them and collects what they register."""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from costkit import hookspecs
from costkit._warnings import PluginWarning
from costkit.errors import PluginError
from costkit.plugin._names import ENTRY_POINT_GROUP, HOOK_PREFIX, PROJECT_NAME

if TYPE_CHECKING:
    from costkit._models import BudgetExceeded, BudgetThresholdReached, CostCalculated, RequestSent, ResponseGenerated

__all__ = ["DISABLE_ENV", "PluginInfo", "PluginManager", "get_plugin_manager", "reset_plugin_manager"]

logger = logging.getLogger(__name__)

DISABLE_ENV = "COSTKIT_DISABLE_PLUGINS"
"""Environment variable with comma-separated plugin names to block."""

BUILTIN_PLUGIN = "costkit.builtins"
"""The name the core's own hook implementations are registered under."""

_REGISTRATION_HOOKS = (
    "costkit_register_drivers",
    "costkit_register_token_extractors",
    "costkit_register_pricing_sources",
    "costkit_register_middleware",
)


@attrs.frozen
class PluginInfo:
    """The description of one registered plugin, as ``costkit plugins`` shows it."""

    name: str
    "The registration name: the entry-point name, or ``costkit.builtins``."
    distribution: str | None
    "The installed distribution that declared the entry point."
    version: str | None
    "That distribution's version."
    hooks: tuple[str, ...]
    "The hooks the plugin implements, sorted."


@attrs.frozen
class _Registries:
    drivers: dict[str, Callable[..., Any]]
    extractors: dict[str, Callable[..., Any]]
    pricing_sources: list[tuple[int, int, Any]]
    middleware: dict[str, tuple[type | str, str]]
    "Each middleware name's class, or its 'module:Class' path until first use, and its plugin."


def _blocked_from_environment() -> set[str]:
    value = os.environ.get(DISABLE_ENV, "")
    return {name.strip() for name in value.split(",") if name.strip()}


class PluginManager:
    """Load costkit plugins and give typed access to what they contribute.

    Built-in features register through the same path as installed packages. Installed plugins
    come from the ``costkit`` entry-point group; one that fails to import or to validate is
    skipped with a :class:`~costkit.PluginWarning`. Plugins registered explicitly through
    :meth:`register` raise :class:`~costkit.PluginError` instead.

    Args:
        load_entry_points: Load installed plugins. Tests pass ``False`` to stay independent of
            whatever is installed.
        builtins: Register the core's built-in middleware and database pricing source.
        blocked: Plugin names to block; defaults to ``COSTKIT_DISABLE_PLUGINS``.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        builtins: bool = True,
        blocked: Iterable[str] | None = None,
    ) -> None:
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._distributions: dict[str, tuple[str | None, str | None]] = {}
        self._registries: _Registries | None = None
        self._lock = threading.Lock()

        for name in _blocked_from_environment() if blocked is None else set(blocked):
            self._pm.set_blocked(name)

        if builtins:
            from costkit import _builtins

            self.register(_builtins, name=BUILTIN_PLUGIN)
        if load_entry_points:
            self._load_entry_points()

    # --- Registration ----------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register a plugin object (usually a module) and validate it against the hook specs.

        Returns:
            The registration name, or ``None`` when the name is blocked.

        Raises:
            PluginError: The plugin implements an unknown hook or a hook with wrong arguments.
        """
        if name is not None and self._pm.is_blocked(name):
            logger.debug("Plugin %s is blocked by %s", name, DISABLE_ENV)
            return None
        try:
            registered = self._pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise self._plugin_error(exc, name) from exc
        except ValueError as exc:
            message = f"Plugin {name or plugin!r} could not be registered: {exc}"
            raise PluginError(message, plugin=name) from exc
        if registered is None:
            return None
        try:
            self._check_unknown_hooks(plugin, registered)
        except PluginError:
            self._pm.unregister(plugin)
            raise
        self._registries = None
        logger.debug("Registered plugin %s", registered)
        return registered

    def unregister(self, name: str) -> None:
        """Remove a registered plugin by name; unknown names are ignored."""
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin, name=name)
            self._registries = None

    def is_registered(self, name: str) -> bool:
        """Tell whether a plugin of that name is registered."""
        return self._pm.get_plugin(name) is not None

    def _load_entry_points(self) -> None:
        entry_points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
        for entry_point in entry_points:
            if self._pm.is_blocked(entry_point.name) or self.is_registered(entry_point.name):
                continue
            distribution = getattr(entry_point, "dist", None)
            dist_name = distribution.metadata["Name"] if distribution is not None else None
            dist_version = distribution.version if distribution is not None else None
            try:
                plugin = entry_point.load()
                self.register(plugin, name=entry_point.name)
            except Exception as exc:
                message = (
                    f"Skipped the costkit plugin {entry_point.name!r} ({entry_point.value}) "
                    f"from {dist_name or 'an unknown distribution'}: {exc}. "
                    f"Reinstall or upgrade it, or block it with {DISABLE_ENV}={entry_point.name}"
                )
                warnings.warn(message, PluginWarning, stacklevel=2)
                logger.warning("%s", message, exc_info=True)
                continue
            self._distributions[entry_point.name] = (dist_name, dist_version)

    def _check_unknown_hooks(self, plugin: object, name: str) -> None:
        for attribute in dir(plugin):
            if not attribute.startswith(HOOK_PREFIX):
                continue
            if self._pm.parse_hookimpl_opts(plugin, attribute) is None:
                continue
            if not hasattr(hookspecs, attribute):
                known = ", ".join(sorted(h for h in hookspecs.__all__ if h.startswith(HOOK_PREFIX)))
                message = f"Plugin {name!r} implements {attribute}, which is not a costkit hook; known hooks: {known}"
                raise PluginError(message, plugin=name, hook=attribute)

    def _plugin_error(self, exc: pluggy.PluginValidationError, name: str | None) -> PluginError:
        plugin_name = name or repr(exc.plugin)
        hook_name = None
        for word in str(exc).replace("'", " ").replace('"', " ").split():
            if word.startswith(HOOK_PREFIX):
                hook_name = word
                break
        implementation = getattr(exc.plugin, hook_name, None) if hook_name else None
        spec = getattr(hookspecs, hook_name, None) if hook_name else None
        if implementation is None or spec is None:
            message = f"Plugin {plugin_name!r} does not match the costkit hook specifications: {exc}"
            return PluginError(message, plugin=plugin_name, hook=hook_name)
        wanted = list(inspect.signature(spec).parameters)
        given = list(inspect.signature(implementation).parameters)
        unknown = [argument for argument in given if argument not in wanted]
        message = (
            f"Plugin {plugin_name!r} implements {hook_name}({', '.join(given)}), but the hook is "
            f"{hook_name}({', '.join(wanted)}); remove the unknown argument(s) {', '.join(unknown) or '(none)'}"
        )
        return PluginError(message, plugin=plugin_name, hook=hook_name)

    # --- What plugins contribute -----------------------------------------------------------

    def _collect(self) -> _Registries:
        registries = self._registries
        if registries is not None:
            return registries
        with self._lock:
            if self._registries is not None:
                return self._registries
            registries = _Registries(drivers={}, extractors={}, pricing_sources=[], middleware={})
            for hook_name in _REGISTRATION_HOOKS:
                hook = getattr(self._pm.hook, hook_name)
                # pluggy lists implementations last-registered first; register in load order.
                for implementation in reversed(hook.get_hookimpls()):
                    self._call_registration(hook_name, implementation, registries)
            self._registries = registries
            return registries

    def _call_registration(self, hook_name: str, implementation: Any, registries: _Registries) -> None:
        plugin_name = implementation.plugin_name
        counter = len(registries.pricing_sources)

        def register_named(table: dict[str, Any], kind: str) -> Callable[..., None]:
            def register(name: str, value: Any) -> None:
                if not isinstance(name, str) or not name:
                    message = (
                        f"Plugin {plugin_name!r} registered a {kind} with the invalid name {name!r} in {hook_name}"
                    )
                    raise PluginError(message, plugin=plugin_name, hook=hook_name)
                if name in table:
                    logger.warning(
                        "Plugin %s registered the %s %r again; the first registration is kept", plugin_name, kind, name
                    )
                    return
                table[name] = value

            return register

        def register_source(source: Any, priority: int = 100) -> None:
            nonlocal counter
            if not callable(getattr(source, "find", None)):
                message = (
                    f"Plugin {plugin_name!r} registered {source!r} as a pricing source, but it has no "
                    "find(provider, model) method; see costkit.pricing.PricingSource"
                )
                raise PluginError(message, plugin=plugin_name, hook=hook_name)
            registries.pricing_sources.append((priority, counter, source))
            counter += 1

        def register_middleware(name: str, middleware_class: type | str) -> None:
            # A "module:Class" string defers the import to the first use of the middleware,
            # which keeps plugin discovery fast; it is checked like a class when it loads.
            if isinstance(middleware_class, str):
                if ":" not in middleware_class:
                    message = (
                        f"Plugin {plugin_name!r} registered middleware {name!r} as {middleware_class!r}; "
                        "give a class or a 'module:Class' string"
                    )
                    raise PluginError(message, plugin=plugin_name, hook=hook_name)
            else:
                _check_middleware_class(middleware_class, name, plugin_name, hook_name)
            if name in registries.middleware:
                taken = registries.middleware[name][0]
                owner = taken if isinstance(taken, str) else f"{taken.__module__}.{taken.__qualname__}"
                message = (
                    f"Plugin {plugin_name!r} registered the middleware name {name!r}, which is taken by "
                    f"{owner}; choose another name"
                )
                raise PluginError(message, plugin=plugin_name, hook=hook_name)
            registries.middleware[name] = (middleware_class, plugin_name)

        register: Callable[..., None]
        if hook_name == "costkit_register_drivers":
            register = register_named(registries.drivers, "driver")
        elif hook_name == "costkit_register_token_extractors":
            register = register_named(registries.extractors, "token extractor")
        elif hook_name == "costkit_register_pricing_sources":
            register = register_source
        else:
            register = register_middleware

        try:
            implementation.function(register=register)
        except PluginError:
            raise
        except Exception as exc:
            message = f"Plugin {plugin_name!r} failed in {hook_name}: {exc!r}"
            raise PluginError(message, plugin=plugin_name, hook=hook_name) from exc

    def drivers(self) -> dict[str, Callable[..., Any]]:
        """Return the driver factories by provider name."""
        return self._collect().drivers

    def token_extractors(self) -> dict[str, Callable[..., Any]]:
        """Return the usage extractors by provider name."""
        return self._collect().extractors

    def pricing_sources(self) -> list[Any]:
        """Return the pricing sources in the order the chain queries them."""
        ordered = sorted(self._collect().pricing_sources, key=lambda item: (item[0], item[1]))
        return [source for _, _, source in ordered]

    def middleware_classes(self) -> dict[str, type]:
        """Return the middleware classes by name, importing those registered as strings.

        Raises:
            PluginError: A class registered as a string cannot be imported or is no middleware.
        """
        registries = self._collect()
        classes = {}
        for name, (target, plugin_name) in list(registries.middleware.items()):
            if isinstance(target, str):
                target = _load_middleware(target, name, plugin_name)
                registries.middleware[name] = (target, plugin_name)
            classes[name] = target
        return classes

    def plugins(self) -> list[PluginInfo]:
        """Describe every registered plugin, sorted by name."""
        infos = []
        for name, plugin in self._pm.list_name_plugin():
            if plugin is None:  # a blocked name
                continue
            hooks = tuple(
                sorted(
                    caller.name
                    for caller in self._pm.get_hookcallers(plugin) or ()
                    if caller.name.startswith(HOOK_PREFIX)
                )
            )
            distribution, version = self._distributions.get(name, (None, None))
            if name == BUILTIN_PLUGIN:
                distribution, version = "costkit", _core_version()
            infos.append(PluginInfo(name=name, distribution=distribution, version=version, hooks=hooks))
        return sorted(infos, key=lambda info: info.name)

    # --- Events ----------------------------------------------------------------------------

    def request_sent(self, event: RequestSent) -> None:
        """Call ``costkit_request_sent`` in every plugin."""
        self._pm.hook.costkit_request_sent(event=event)

    def response_generated(self, event: ResponseGenerated) -> None:
        """Call ``costkit_response_generated`` in every plugin."""
        self._pm.hook.costkit_response_generated(event=event)

    def cost_calculated(self, event: CostCalculated) -> None:
        """Call ``costkit_cost_calculated`` in every plugin."""
        self._pm.hook.costkit_cost_calculated(event=event)

    def budget_threshold_reached(self, event: BudgetThresholdReached) -> None:
        """Call ``costkit_budget_threshold_reached`` in every plugin."""
        self._pm.hook.costkit_budget_threshold_reached(event=event)

    def budget_exceeded(self, event: BudgetExceeded) -> None:
        """Call ``costkit_budget_exceeded`` in every plugin."""
        self._pm.hook.costkit_budget_exceeded(event=event)


def _check_middleware_class(middleware_class: Any, name: str, plugin_name: str, hook_name: str) -> None:
    from costkit.middleware import Middleware

    if not (isinstance(middleware_class, type) and issubclass(middleware_class, Middleware)):
        message = (
            f"Plugin {plugin_name!r} registered {middleware_class!r} as middleware {name!r}; "
            "middleware must be a subclass of costkit.middleware.Middleware"
        )
        raise PluginError(message, plugin=plugin_name, hook=hook_name)


def _load_middleware(path: str, name: str, plugin_name: str) -> type:
    module_name, _, attribute = path.partition(":")
    try:
        middleware_class = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        message = f"Plugin {plugin_name!r} registered middleware {name!r} as {path!r}, which cannot be imported: {exc}"
        raise PluginError(message, plugin=plugin_name, hook="costkit_register_middleware") from exc
    _check_middleware_class(middleware_class, name, plugin_name, "costkit_register_middleware")
    assert isinstance(middleware_class, type)
    return middleware_class


def _core_version() -> str | None:
    try:
        return metadata.version("costkit")
    except metadata.PackageNotFoundError:
        return None


_default_manager: PluginManager | None = None
_default_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """Return the process-wide plugin manager, loading installed plugins on first use."""
    global _default_manager
    manager = _default_manager
    if manager is None:
        with _default_lock:
            if _default_manager is None:
                _default_manager = PluginManager()
            manager = _default_manager
    return manager


def reset_plugin_manager(manager: PluginManager | None = None) -> PluginManager | None:
    """Replace the process-wide plugin manager (``None`` reloads it on next use); return the old one."""
    global _default_manager
    with _default_lock:
        previous, _default_manager = _default_manager, manager
    return previous
