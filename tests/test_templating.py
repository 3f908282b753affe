"""Staff templates substitute variables and nothing else."""

from __future__ import annotations

from lines.console.templating import placeholders, render


def test_variables_are_substituted() -> None:
    text = render(
        "Hello, {{contact.name}}! Conversation #{{ conversation.number }}.",
        {
            "contact.name": "Вера",
            "conversation.number": 42,
        },
    )
    assert text == "Hello, Вера! Conversation #42."


def test_an_unknown_variable_becomes_empty() -> None:
    assert render("Hi {{contact.name}}, {{operator.name}} here", {"contact.name": "Vera"}) == "Hi Vera,  here"


def test_expressions_are_not_evaluated() -> None:
    template = "{{ contact.name | upper }} {{ 7*7 }} {% if x %}"
    assert render(template, {"contact.name": "vera"}) == template


def test_values_are_inserted_as_typed() -> None:
    assert render("{{contact.name}}", {"contact.name": "<b>{{operator.name}}</b>"}) == "<b>{{operator.name}}</b>"


def test_placeholders_lists_each_variable_once() -> None:
    assert placeholders("{{a.b}} {{c}} {{ a.b }}") == ["a.b", "c"]
