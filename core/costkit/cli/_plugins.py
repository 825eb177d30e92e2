"""``costkit plugins``: what is installed and which hooks each plugin implements."""

from __future__ import annotations

import click

from costkit.cli._common import echo_json, get_client, print_table

__all__ = ["plugins"]


@click.command(short_help="List installed plugins and their hooks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List the registered plugins, their distribution and version, and the hooks each implements.

    costkit.builtins is the core's own middleware and database pricing source.
    """
    infos = get_client(ctx).context.plugins.plugins()
    if as_json:
        echo_json(
            [
                {
                    "name": info.name,
                    "distribution": info.distribution,
                    "version": info.version,
                    "hooks": list(info.hooks),
                }
                for info in infos
            ]
        )
        return
    rows = [[info.name, info.distribution or "", info.version or "", "\n".join(info.hooks)] for info in infos]
    print_table(("plugin", "distribution", "version", "hooks"), rows)
