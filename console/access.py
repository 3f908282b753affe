"""Who may see what: one rule for lists, single reads, writes and pushed events.

Operators and leads see conversations of their teams, those assigned to them, and those with no
team yet (a shared general inbox); admins see everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, false, not_, or_, true

from lines.console.models import Contact, Conversation, Operator, Role


@dataclass(frozen=True, slots=True)
class Scope:
    operator_id: int
    role: str
    team_ids: frozenset[int]

    @classmethod
    def of(cls, operator: Operator) -> Scope:
        """Needs `operator.teams` loaded."""
        return cls(operator.id, operator.role, frozenset(t.id for t in operator.teams))

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_lead(self) -> bool:
        return self.role in (Role.LEAD, Role.ADMIN)

    def can_see(self, team_id: int | None, assignee_id: int | None) -> bool:
        if self.is_admin or assignee_id == self.operator_id or team_id is None:
            return True
        return team_id in self.team_ids

    def can_see_conversation(self, conversation: Conversation) -> bool:
        return self.can_see(conversation.team_id, conversation.assignee_id)

    def conversation_filter(self) -> ColumnElement[bool]:
        if self.is_admin:
            return true()
        return or_(
            Conversation.assignee_id == self.operator_id,
            Conversation.team_id.is_(None),
            Conversation.team_id.in_(self.team_ids) if self.team_ids else false(),
        )

    def contact_filter(self) -> ColumnElement[bool]:
        """Contacts this operator may see: one of their conversations is visible, or they have none yet."""
        if self.is_admin:
            return true()
        mine = exists().where(Conversation.contact_id == Contact.id, self.conversation_filter()).correlate(Contact)
        none = not_(exists().where(Conversation.contact_id == Contact.id).correlate(Contact))
        return or_(mine, none)


def in_team(operator: Operator, team_id: int | None) -> bool:
    """Whether `operator` may hold a conversation of `team_id`: the assignee is always a member of the
    conversation's team (admins belong to every team; a conversation without a team is anyone's).
    Needs `operator.teams` loaded."""
    return team_id is None or operator.role == Role.ADMIN or team_id in {t.id for t in operator.teams}


def view_filter(scope: Scope, view: str) -> ColumnElement[bool]:
    """One inbox view (mine, unassigned, team, all) on top of `Scope.conversation_filter()`."""
    if view == "mine":
        return Conversation.assignee_id == scope.operator_id
    if view == "unassigned":
        return Conversation.assignee_id.is_(None)
    if view == "team":
        return Conversation.team_id.in_(scope.team_ids) if scope.team_ids else false()
    return true()
