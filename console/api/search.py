"""`GET /api/v1/search`: one box over messages, subjects, contacts and conversation numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from lines.console.api.errors import ApiError
from lines.console.api.route_table import MAX_ID, Call, Out, Query, Route
from lines.console.keys import sessions_key
from lines.console.search.query import MAX_QUERY_CHARS, QueryError, search


class SearchQuery(Query):
    q: str = Field(max_length=MAX_QUERY_CHARS * 4)  # the exact limit is checked after trimming, with a clearer error
    before: int | None = Field(default=None, gt=0, le=MAX_ID)
    limit: int = Field(default=20, ge=1, le=50)


class SearchContact(Out):
    id: int
    name: str
    email: str | None
    phone: str | None


class ConversationHit(Out):
    conversation_id: int
    match: str  # number, subject or contact
    snippet: str  # escaped HTML; only the matched words are in <mark>
    subject: str
    status: str
    channel: str
    inbox: str
    contact: SearchContact
    last_message_at: datetime
    url: str


class MessageHit(Out):
    message_id: int
    conversation_id: int
    snippet: str  # escaped HTML; only the matched words are in <mark>
    direction: str
    author_kind: str
    author_name: str
    created_at: datetime
    subject: str
    channel: str
    inbox: str
    contact: SearchContact
    url: str


class SearchOut(Out):
    query: str
    conversations: list[ConversationHit]
    messages: list[MessageHit]
    next_before: int | None


async def search_all(call: Call) -> dict[str, Any]:
    """Matching conversations (first page) and messages, newest first, in conversations the caller may see.

    Words match in other forms (Russian and English); the next page of messages is `before=next_before`.
    """
    query = call.query(SearchQuery)
    async with call.app[sessions_key]() as session:
        try:
            return await search(session, call.ctx.scope, query.q, query.before, query.limit)
        except QueryError as err:
            raise ApiError(422, "validation_error", str(err)) from err


ROUTES = [
    Route(
        "GET",
        "/api/v1/search",
        search_all,
        "Search messages, subjects, contacts and conversation numbers",
        SearchOut,
        query=SearchQuery,
        errors=(422,),
        tag="search",
    ),
]
