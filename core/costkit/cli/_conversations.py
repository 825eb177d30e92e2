"""``costkit conversations list|show``: stored conversations with the tokens and cost of each turn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from costkit.cli._common import CostkitGroup, echo_json, get_client, iso, money, print_table

if TYPE_CHECKING:
    from costkit.conversations import ConversationRecord, StoredMessage

__all__ = ["conversations"]


@click.group(cls=CostkitGroup, short_help="List and show stored conversations.")
def conversations() -> None:
    """List and show the conversations stored in the ledger database."""


@conversations.command(name="list")
@click.option("--user", "user_id", metavar="ID", help="Only this user's conversations.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="The maximum number shown.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_conversations(ctx: click.Context, user_id: str | None, limit: int, as_json: bool) -> None:
    """List conversations, most recently updated first, with their message count and cost (USD)."""
    store = get_client(ctx).conversations
    records = store.list(user_id=user_id, limit=limit)
    counts = store.counts([record.id for record in records])
    values: list[dict[str, Any]] = []
    for record in records:
        messages, total = counts.get(record.id, (0, None))
        values.append(
            {
                "id": record.id,
                "title": record.title,
                "user_id": record.user_id,
                "project_id": record.project_id,
                "organization_id": record.organization_id,
                "provider": record.provider,
                "model": record.model,
                "messages": messages,
                "total_cost": money(total) if total is not None else "0",
                "created_at": iso(record.created_at),
                "updated_at": iso(record.updated_at),
            }
        )
    if as_json:
        echo_json(values)
        return
    if not values:
        click.echo("No conversations stored.")
        return
    rows = [
        [
            value["id"],
            value["title"] or "",
            value["user_id"] or "",
            f"{value['provider']}/{value['model']}",
            str(value["messages"]),
            value["total_cost"],
            value["updated_at"],
        ]
        for value in values
    ]
    print_table(
        ("id", "title", "user", "model", "messages", "cost (USD)", "updated"), rows, numeric=("messages", "cost (USD)")
    )


def _message_values(message: StoredMessage) -> dict[str, Any]:
    return {
        "position": message.position,
        "role": message.role,
        "content": message.content,
        "request_id": message.request_id,
        "provider": message.provider,
        "model": message.model,
        "input_tokens": message.input_tokens,
        "output_tokens": message.output_tokens,
        "cost": money(message.cost),
        "created_at": iso(message.created_at),
    }


def _record_values(record: ConversationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "title": record.title,
        "user_id": record.user_id,
        "project_id": record.project_id,
        "organization_id": record.organization_id,
        "provider": record.provider,
        "model": record.model,
        "system_prompt": record.system_prompt,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "messages": [_message_values(message) for message in record.messages],
        "total_cost": money(record.total_cost),
    }


@conversations.command(name="show")
@click.argument("conversation_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_conversation(ctx: click.Context, conversation_id: str, as_json: bool) -> None:
    """Show a conversation's messages, the tokens and cost (USD) of each turn, and the total."""
    record = get_client(ctx).conversations.get(conversation_id)
    if as_json:
        echo_json(_record_values(record))
        return
    heading = f"conversation {record.id}"
    if record.title:
        heading += f": {record.title}"
    click.echo(heading)
    if record.user_id:
        click.echo(f"user: {record.user_id}")
    if record.system_prompt:
        click.echo(f"system: {record.system_prompt}")
    for message in record.messages:
        click.echo(f"{message.role}: {message.content}")
        if message.role == "assistant":
            cost = f"{money(message.cost)} USD" if message.cost is not None else "not priced"
            click.echo(
                f"  ({message.provider}/{message.model}: {message.input_tokens} in, "
                f"{message.output_tokens} out · cost: {cost})"
            )
    turns = sum(1 for message in record.messages if message.role == "assistant")
    click.echo(f"total: {money(record.total_cost)} USD over {turns} turn{'' if turns == 1 else 's'}")
