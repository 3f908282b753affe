"""The parser against a corpus of real-world shapes (tests/channels/email/corpus): no servers needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lines.channels.email.parse import (
    ParsedEmail,
    fold_quoted,
    make_message_id,
    parse_email,
    verified_conversation,
)
from lines.console.storage import safe_filename

CORPUS = Path(__file__).parent / "corpus"
RUSSIAN = "Здравствуйте! Прошу выставить счёт на оплату."


def parsed(name: str) -> ParsedEmail:
    return parse_email((CORPUS / name).read_bytes())


def test_koi8_r_quoted_printable_body_and_rfc_2047_headers_are_decoded() -> None:
    mail = parsed("koi8r_quoted_printable.eml")
    assert (mail.text, mail.subject, mail.sender_name) == (RUSSIAN, "Счёт на оплату", "Ёлкин Пётр")


def test_windows_1251_base64_body_is_decoded() -> None:
    mail = parsed("cp1251_base64.eml")
    assert (mail.text, mail.subject) == (RUSSIAN, "Счёт")


def test_an_undeclared_charset_is_guessed() -> None:
    assert parsed("undeclared_charset.eml").text.startswith("Добрый день. Подскажите, пожалуйста")


def test_a_missing_closing_boundary_keeps_the_text_and_the_attachment() -> None:
    mail = parsed("broken_boundary.eml")
    assert mail.text == "The body survives a missing closing boundary."
    assert [(f.filename, f.data) for f in mail.files] == [("data.bin", b"\x00\x01\x02\x03\x04\x05")]


def test_a_missing_start_boundary_shows_the_raw_body_as_text_and_flags_the_repair() -> None:
    mail = parsed("missing_start_boundary.eml")
    assert mail.text == "Добрый день! Посылка так и не пришла, номер заказа 4417."
    assert mail.files == []
    assert mail.repaired is not None and "StartBoundaryNotFoundDefect" in mail.repaired


def test_a_well_formed_mail_is_not_flagged_as_repaired() -> None:
    assert parsed("gmail_reply.eml").repaired is None


@pytest.mark.parametrize("header", [b"<>", b"", b"<no-domain>", b"<a b@c>"])
def test_an_empty_or_malformed_message_id_counts_as_missing_and_the_rest_is_read(header: bytes) -> None:
    raw = (CORPUS / "empty_message_id.eml").read_bytes().replace(b"Message-ID: <>", b"Message-ID: " + header)
    mail = parse_email(raw)
    assert mail.unreadable is None
    assert mail.message_id.startswith("sha256:")
    assert (mail.sender_address, mail.subject, mail.text) == (
        "petr@example.org",
        "Empty id",
        "My client writes an empty Message-ID.",
    )


def test_a_missing_message_id_gets_a_stable_one_from_the_content() -> None:
    first, second = parsed("no_message_id.eml"), parsed("no_message_id.eml")
    assert first.message_id.startswith("sha256:") and first.message_id == second.message_id


def test_a_huge_header_does_not_stop_parsing() -> None:
    assert parsed("huge_header.eml").text == "A header of 100 KB before me."


def test_html_only_mail_gets_a_plain_text_version_without_scripts() -> None:
    mail = parsed("html_with_script.eml")
    assert mail.text == "Hello team\n\nSecond line\nclick"
    assert mail.html is not None  # kept raw here; the inbox stores it sanitised (see test_corpus)


def test_a_delivery_status_report_is_a_bounce_of_our_message() -> None:
    mail = parsed("bounce_dsn.eml")
    assert mail.auto == "bounce"
    assert mail.bounce_of == ["lines.7.9.0123456789abcdef@lines.test"]
    assert "550 5.1.1" in mail.bounce_error
    assert (mail.bounce_status, mail.bounce_recipients) == ("5.1.1", ["gone@example.org"])


@pytest.mark.parametrize(("name", "auto"), [("auto_reply.eml", "auto_reply"), ("list_bulk.eml", "bulk")])
def test_auto_replies_and_bulk_mail_are_flagged(name: str, auto: str) -> None:
    assert parsed(name).auto == auto


@pytest.mark.parametrize(
    ("name", "new", "quoted_start"),
    [
        ("outlook_reply.eml", "Thanks, received.\n\nJohn", "From: Anna Ivanova via Support"),
        ("gmail_reply.eml", "Great, thank you!", "On Mon, Nov 23, 2026"),
        ("thunderbird_reply_ru.eml", "Спасибо, всё получил.", "23.11.2026 10:00, Anna Ivanova via Support пишет:"),
    ],
)
def test_the_new_part_of_a_reply_is_shown_and_the_history_kept(name: str, new: str, quoted_start: str) -> None:
    mail = parsed(name)
    assert mail.text == new
    assert mail.quoted.startswith(quoted_start)


def test_references_and_in_reply_to_are_read_in_order() -> None:
    assert parsed("gmail_reply.eml").references == ["first@gmail.example", "lines.4.11.bbbbbbbbbbbbbbbb@lines.test"]


def test_hostile_file_names_are_made_safe_and_rfc_2231_names_decoded() -> None:
    originals = [f.filename for f in parsed("hostile_filenames.eml").files]
    assert originals == ["../../etc/passwd", "C:\\Windows\\evil<>|.exe", "счёт.pdf"]
    names = [safe_filename(name) for name in originals]
    assert names == ["passwd", "evil___.exe", "счёт.pdf"]
    assert all("/" not in n and "\\" not in n for n in names)


def test_inline_cid_images_are_attachments_with_their_content_id() -> None:
    [image] = parsed("inline_cid.eml").files
    assert (image.filename, image.content_id, image.inline) == ("shot.png", "shot1@example.org", True)


def test_an_attached_message_is_kept_whole_as_an_eml_file() -> None:
    mail = parsed("attached_message.eml")
    assert mail.text == "Forwarding the original."
    [attached] = mail.files
    assert (attached.filename, attached.content_type) == ("complaint.eml", "message/rfc822")
    assert b"It broke again." in attached.data


def test_bytes_that_are_no_email_at_all_still_come_back_with_an_id() -> None:
    mail = parse_email(b"\x00\xff\xfe garbage without headers")
    assert mail.message_id.startswith("sha256:")


def test_a_signed_message_id_names_its_conversation_and_a_forged_one_does_not() -> None:
    ours = make_message_id(b"secret", 42, 7, "lines.test")
    assert verified_conversation(b"secret", ["x@y", ours]) == 42
    assert verified_conversation(b"other-secret", [ours]) is None
    assert verified_conversation(b"secret", [ours.replace("lines.42.", "lines.43.")]) is None


def test_a_reply_without_quotes_is_all_new() -> None:
    assert fold_quoted("Just text.\nFrom: my heart") == ("Just text.\nFrom: my heart", "")


def test_safe_name_strips_paths_and_control_characters() -> None:
    assert safe_filename("..\\..\\boot.ini", "x") == "boot.ini"
    assert safe_filename("a\x00b.txt", "x") == "a_b.txt"
    assert safe_filename("...", "fallback") == "fallback"
