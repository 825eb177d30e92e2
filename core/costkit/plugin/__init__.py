"""Write costkit plugins: providers, pricing sources, middleware and event listeners.

A plugin is a module with hook implementations, found through the ``costkit`` entry-point
group. Declare it in your distribution's ``pyproject.toml``::

    [project.entry-points.costkit]
    my_audit = "my_audit_package.plugin"

and implement any hook of :mod:`costkit.hookspecs` in that module::

    import costkit
    from costkit.middleware import Middleware


    class AuditMiddleware(Middleware):
        name = "audit"

        def on_response(self, call, response):
            print(call.request.request_id, response.usage)


    @costkit.hookimpl
    def costkit_register_middleware(register):
        register("audit", AuditMiddleware)

Set ``COSTKIT_DISABLE_PLUGINS=my_audit`` to block the plugin by its entry-point name.
"""

from __future__ import annotations

import pluggy

from costkit.plugin._names import ENTRY_POINT_GROUP, HOOK_PREFIX, PROJECT_NAME

__all__ = ["ENTRY_POINT_GROUP", "HOOK_PREFIX", "PROJECT_NAME", "hookimpl"]

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a function as the implementation of a costkit hook."""
