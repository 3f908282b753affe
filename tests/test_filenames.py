"""The one sanitiser for stored file names (console/storage.py::safe_filename), every channel's."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import lines.channels  # noqa: F401  (console.storage is imported through the channels package)
from lines.console.storage import safe_filename

DEVICES = ["CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))]


def is_reserved(name: str) -> bool:
    return name.split(".", 1)[0].rstrip(" ").upper() in DEVICES


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", ["{}", "{}.txt", "{}.tar.gz", "{} .pdf"])
def test_a_reserved_device_name_is_never_the_stored_name(device: str, shape: str) -> None:
    for spelling in (device, device.lower(), device.capitalize()):
        name = safe_filename(shape.format(spelling))
        assert not is_reserved(name)
        assert spelling in name  # still recognisable: only prefixed


def test_harmless_characters_are_kept() -> None:
    assert (
        safe_filename("Счёт № 15 (копия) [2] #3 + договор & акт.pdf") == "Счёт № 15 (копия) [2] #3 + договор & акт.pdf"
    )


def test_separators_control_and_forbidden_characters_go() -> None:
    assert safe_filename('dir/sub\\a\tb<c>:d"e|f?g*h\u202e.txt') == "a_b_c__d_e_f_g_h_.txt"


def test_a_long_cyrillic_name_is_cut_to_255_bytes_on_a_character_boundary_keeping_the_extension() -> None:
    name = safe_filename("я" * 200 + ".docx")
    assert name == "я" * 125 + ".docx"
    assert len(name.encode()) == 255


def test_a_name_of_only_dots_or_blanks_gets_the_fallback() -> None:
    assert [safe_filename(n, "file") for n in ("", ".", "..", " . ", "///")] == ["file"] * 5


@given(st.text(max_size=400))
@example("con.txt")
@example("../" * 100 + "я" * 300)
@example("a." + "€" * 200)
def test_any_name_becomes_one_safe_path_component_of_at_most_255_bytes(raw: str) -> None:
    name = safe_filename(raw)
    assert name and name not in (".", "..")
    assert len(name.encode()) <= 255
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not any(ch in name for ch in '<>:"|?*')
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    assert name == name.strip().strip(".") and not name.startswith(" ")
    assert not is_reserved(name)
    assert safe_filename(name) == name  # stable: the stored name stays what it is
