"""Change jobs keep their queue form: `{"kind": ..., **fields}` and back to the same dataclass."""

from __future__ import annotations

from lines.console.changes import JOB_TYPES, Assigned, Requeue, from_payload, to_payload


def test_every_job_kind_is_named_once() -> None:
    assert len({cls.kind for cls in JOB_TYPES}) == len(JOB_TYPES)


def test_a_job_comes_back_from_its_payload_as_it_was_queued() -> None:
    job = Assigned(conversation_id=7, operator_id=3, previous_operator_id=None, by_operator_id=None)
    payload = to_payload(job)
    assert payload == {
        "kind": "assigned",
        "conversation_id": 7,
        "operator_id": 3,
        "previous_operator_id": None,
        "by_operator_id": None,
    }
    assert from_payload(payload) == job


def test_a_requeue_without_a_team_leaves_the_team_out_of_the_payload() -> None:
    assert to_payload(Requeue(conversation_id=1, reason="sla_breached:first_response")) == {
        "kind": "requeue",
        "conversation_id": 1,
        "reason": "sla_breached:first_response",
    }


def test_fields_a_newer_worker_added_are_ignored() -> None:
    assert from_payload({"kind": "requeue", "conversation_id": 1, "reason": "r", "urgency": 3}) == Requeue(1, "r")


def test_an_unknown_kind_or_a_missing_field_is_dropped() -> None:
    assert from_payload({"kind": "teleported", "conversation_id": 1}) is None
    assert from_payload({"kind": "requeue", "conversation_id": 1}) is None
