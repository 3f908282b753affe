"""Surveys: a conversation's CSAT/NPS survey and its answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from lines.console.actions import visible_conversation
from lines.console.api.route_table import Call, Out, Route
from lines.console.customers.models import Survey
from lines.console.customers.surveys import survey_dict
from lines.console.keys import sessions_key


class SurveyOut(Out):
    survey: dict[str, Any] | None


async def get_survey(call: Call) -> dict[str, Any]:
    """The conversation's survey and its answer, if one was sent."""
    async with call.app[sessions_key]() as session:
        conversation = await visible_conversation(session, call.ctx.scope, call.ids["id"])
        survey = await session.scalar(select(Survey).where(Survey.conversation_id == conversation.id))
    return {"survey": survey_dict(survey) if survey else None}


TAG = "contacts"
ROUTES = [
    Route(
        "GET",
        "/api/v1/conversations/{id}/survey",
        get_survey,
        "The conversation's CSAT/NPS survey",
        SurveyOut,
        errors=(404,),
        tag=TAG,
    ),
]
