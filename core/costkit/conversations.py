"""Conversations kept in the ledger database, with the tokens and cost of every turn."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from costkit._models import Message
from costkit.errors import ConfigurationError

if TYPE_CHECKING:
    from costkit._models import Response
    from costkit.db import Database

__all__ = ["ConversationRecord", "ConversationStore", "StoredMessage"]


def _now_us() -> int:
    return time.time_ns() // 1000


def _datetime(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)


@attrs.frozen
class StoredMessage:
    """One stored message of a conversation."""

    position: int
    "Its place in the conversation, from 0."
    role: str
    "``user``, ``assistant``, ``system`` or ``tool``."
    content: str
    "The text."
    request_id: str | None
    "For an assistant message, the request that produced it."
    provider: str | None
    "For an assistant message, the provider that answered."
    model: str | None
    "For an assistant message, the model that answered."
    input_tokens: int | None
    "For an assistant message, the input tokens of its turn."
    output_tokens: int | None
    "For an assistant message, the output tokens of its turn."
    cost: Decimal | None
    "For an assistant message, the cost of its turn; ``None`` when it could not be priced."
    created_at: datetime
    "When the message was stored (UTC)."


@attrs.frozen
class ConversationRecord:
    """A stored conversation with its messages."""

    id: str
    "The conversation id."
    title: str | None
    "An optional title."
    user_id: str | None
    "The user the conversation belongs to."
    project_id: str | None
    "The project it belongs to."
    organization_id: str | None
    "The organisation it belongs to."
    provider: str | None
    "The provider of the last turn."
    model: str | None
    "The model of the last turn."
    system_prompt: str | None
    "The system prompt sent before the history."
    metadata: dict[str, Any]
    "Free-form data."
    created_at: datetime
    "When the conversation was first stored (UTC)."
    updated_at: datetime
    "When its last turn was stored (UTC)."
    messages: tuple[StoredMessage, ...]
    "The messages, oldest first."

    @property
    def total_cost(self) -> Decimal:
        """The exact sum of the costs of every priced turn."""
        return sum((m.cost for m in self.messages if m.cost is not None), Decimal(0))

    @property
    def message_count(self) -> int:
        """How many messages the conversation has (the system prompt not counted)."""
        return len(self.messages)


class ConversationStore:
    """Read and write conversations; ``client.conversations`` is one of these."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def save_turn(
        self,
        conversation_id: str,
        *,
        sent: Sequence[Message],
        response: Response,
        cost: Decimal | None,
        title: str | None = None,
        system_prompt: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Store one turn in a single transaction: the messages sent and the assistant's answer.

        The conversation row is created on its first turn and updated on later ones.
        """
        models = self.database.models
        request = response.request
        usage = response.usage
        now = _now_us()
        self.database.ensure_schema()
        with self.database.errors("store a conversation turn"), self.database.write_transaction():
            row = models.Conversation.get_or_none(models.Conversation.conversation_id == conversation_id)
            if row is None:
                models.Conversation.insert(
                    conversation_id=conversation_id,
                    title=title,
                    user_id=request.user_id,
                    project_id=request.project_id,
                    organization_id=request.organization_id,
                    provider=request.provider,
                    model=response.model,
                    system_prompt=system_prompt,
                    metadata=metadata or {},
                    created_at=now,
                    updated_at=now,
                ).execute()
            else:
                models.Conversation.update(
                    provider=request.provider,
                    model=response.model,
                    updated_at=now,
                    title=title if title is not None else row.title,
                    system_prompt=system_prompt if system_prompt is not None else row.system_prompt,
                ).where(models.Conversation.id == row.id).execute()
            position = (
                models.ConversationMessage.select()
                .where(models.ConversationMessage.conversation_id == conversation_id)
                .count()
            )
            rows: list[dict[str, Any]] = [
                {
                    "conversation_id": conversation_id,
                    "position": position + index,
                    "role": message.role,
                    "content": message.content,
                    "created_at": now,
                }
                for index, message in enumerate(sent)
            ]
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "position": position + len(sent),
                    "role": "assistant",
                    "content": response.text,
                    "request_id": request.request_id,
                    "provider": request.provider,
                    "model": response.model,
                    "input_tokens": usage.input_tokens if usage else None,
                    "output_tokens": usage.output_tokens if usage else None,
                    "cost": cost,
                    "created_at": now,
                }
            )
            for values in rows:
                models.ConversationMessage.insert(**values).execute()

    def get(self, conversation_id: str) -> ConversationRecord:
        """Return a stored conversation with its messages.

        Raises:
            ConfigurationError: No conversation has that id.
        """
        models = self.database.models
        self.database.ensure_schema()
        with self.database.errors("read a conversation"):
            row = models.Conversation.get_or_none(models.Conversation.conversation_id == conversation_id)
            if row is None:
                message = (
                    f"no conversation {conversation_id!r} in the ledger database {self.database!r}; "
                    "list the stored ones with `costkit conversations list`"
                )
                raise ConfigurationError(message)
            messages = list(
                models.ConversationMessage.select()
                .where(models.ConversationMessage.conversation_id == conversation_id)
                .order_by(models.ConversationMessage.position)
            )
        return _record(row, messages)

    def list(self, *, user_id: str | None = None, limit: int = 100) -> list[ConversationRecord]:
        """Return the most recently updated conversations, newest first, without their messages."""
        models = self.database.models
        self.database.ensure_schema()
        with self.database.errors("list conversations"):
            query = models.Conversation.select().order_by(models.Conversation.updated_at.desc()).limit(limit)
            if user_id is not None:
                query = query.where(models.Conversation.user_id == user_id)
            return [_record(row, []) for row in query]

    def counts(self, conversation_ids: Sequence[str]) -> dict[str, tuple[int, Decimal]]:
        """Return (message count, total cost) per conversation id."""
        from peewee import fn

        models = self.database.models
        table = models.ConversationMessage
        if not conversation_ids:
            return {}
        with self.database.errors("count conversation messages"):
            query = (
                table.select(table.conversation_id, fn.COUNT(table.id).alias("n"), fn.SUM(table.cost).alias("cost"))
                .where(table.conversation_id.in_(list(conversation_ids)))
                .group_by(table.conversation_id)
            )
            from costkit.db.schema import money_from_units

            return {row.conversation_id: (row.n, money_from_units(row.cost)) for row in query}


def _record(row: Any, messages: list[Any]) -> ConversationRecord:
    return ConversationRecord(
        id=row.conversation_id,
        title=row.title,
        user_id=row.user_id,
        project_id=row.project_id,
        organization_id=row.organization_id,
        provider=row.provider,
        model=row.model,
        system_prompt=row.system_prompt,
        metadata=row.metadata or {},
        created_at=_datetime(row.created_at),
        updated_at=_datetime(row.updated_at),
        messages=tuple(
            StoredMessage(
                position=m.position,
                role=m.role,
                content=m.content,
                request_id=m.request_id,
                provider=m.provider,
                model=m.model,
                input_tokens=m.input_tokens,
                output_tokens=m.output_tokens,
                cost=m.cost,
                created_at=_datetime(m.created_at),
            )
            for m in messages
        ),
    )
