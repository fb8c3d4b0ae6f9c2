"""Unit tests for reelrank.normalize: the value parsers behind every source model (FORMATS.md §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelrank.models.canonical import BIGINT_MAX, CanonicalHashtag
from reelrank.normalize import (
    dedupe_hashtags,
    hashtags_from_caption,
    normalize_handle,
    normalize_hashtag,
    parse_count,
    parse_flag,
    parse_iso_duration,
    parse_platform_id,
    parse_text,
    parse_timestamp,
)

# --- parse_count --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (2_311_874_906, 2_311_874_906),
        ("3875120", 3_875_120),
        ("  42\n", 42),
        ("007", 7),
        (BIGINT_MAX, BIGINT_MAX),
        (str(BIGINT_MAX), BIGINT_MAX),
    ],
)
def test_parse_count_accepts_ints_and_digit_strings(value: object, expected: int) -> None:
    # Given a count as an int or a decimal-digit string
    # When it is parsed
    count = parse_count(value)
    # Then it is that exact integer
    assert count == expected


@pytest.mark.parametrize("value", [None, "", "   ", "undefined", "null", "NULL", " Undefined "])
def test_parse_count_treats_missing_markers_as_none(value: object) -> None:
    # Given one of the "no value" spellings scrapers use
    # When it is parsed
    # Then the count is missing, not zero
    assert parse_count(value) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5", "must be a non-negative integer, got '-5'"),
        (-5, "must be a non-negative integer, got -5"),
        (True, "boolean"),
        (False, "boolean"),
        (3.5, "fraction or exponent"),
        (12.0, "fraction or exponent"),
        (Decimal("3.5"), "fraction or exponent"),
        (Decimal("12.0"), "fraction or exponent"),
        (Decimal("1E+3"), "fraction or exponent"),
        ("12.0", "got '12.0'"),
        ("1e3", "got '1e3'"),
        ("1,234", "got '1,234'"),
        ("+5", "got '+5'"),
        ("abc", "got 'abc'"),
        ("²", "got '²'"),
        ("٣", "got '٣'"),
        (BIGINT_MAX + 1, f"must be at most {BIGINT_MAX}"),
        (str(BIGINT_MAX + 1), f"must be at most {BIGINT_MAX}"),
        ("9" * 5000, f"must be at most {BIGINT_MAX}"),
        ([1], "got list"),
        ({"count": 1}, "got dict"),
    ],
)
def test_parse_count_rejects_with_a_clear_message(value: object, message: str) -> None:
    # Given a value that is not a storable count
    # When it is parsed
    # Then a ValueError explains what was wrong
    with pytest.raises(ValueError, match="must be") as excinfo:
        parse_count(value)
    assert message in str(excinfo.value)


@given(st.integers(min_value=0, max_value=BIGINT_MAX))
def test_parse_count_round_trips_every_bigint_as_int_and_as_str(count: int) -> None:
    # Given any count that fits BIGINT
    # When it is parsed as an int, as a string and as a padded string
    # Then every spelling gives the same exact integer
    assert parse_count(count) == count
    assert parse_count(str(count)) == count
    assert parse_count(f" {count}\t") == count


@given(st.integers(max_value=-1))
def test_parse_count_rejects_every_negative(count: int) -> None:
    # Given a negative count, as an int and as a string
    # When it is parsed
    # Then both are refused
    with pytest.raises(ValueError, match="non-negative"):
        parse_count(count)
    with pytest.raises(ValueError, match="non-negative"):
        parse_count(str(count))


@given(st.booleans())
def test_parse_count_rejects_booleans(flag: bool) -> None:
    # Given a boolean (an int subclass in Python)
    # When it is parsed as a count
    # Then it is refused rather than read as 0 or 1
    with pytest.raises(ValueError, match="boolean"):
        parse_count(flag)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_count_rejects_every_float(number: float) -> None:
    # Given any float, integral or not
    # When it is parsed as a count
    # Then it is refused: a float count may already have lost digits
    with pytest.raises(ValueError, match="fraction or exponent"):
        parse_count(number)


# --- parse_timestamp ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-15T14:30:00.000Z", datetime(2025, 1, 15, 14, 30, tzinfo=UTC)),
        ("2025-06-01T14:03:22Z", datetime(2025, 6, 1, 14, 3, 22, tzinfo=UTC)),
        ("2025-06-01T16:03:22+02:00", datetime(2025, 6, 1, 14, 3, 22, tzinfo=UTC)),
        ("2025-06-01T14:03:22.5-0130", datetime(2025, 6, 1, 15, 33, 22, 500000, tzinfo=UTC)),
        ("2025-06-01T14:03:22", datetime(2025, 6, 1, 14, 3, 22, tzinfo=UTC)),
        (1747693458, datetime(2025, 5, 19, 22, 24, 18, tzinfo=UTC)),
        ("1747693458", datetime(2025, 5, 19, 22, 24, 18, tzinfo=UTC)),
        (1747693458123, datetime(2025, 5, 19, 22, 24, 18, 123000, tzinfo=UTC)),
        ("1747693458123", datetime(2025, 5, 19, 22, 24, 18, 123000, tzinfo=UTC)),
        (Decimal("1747693458.25"), datetime(2025, 5, 19, 22, 24, 18, 250000, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=9))), datetime(2025, 1, 1, 3, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_gives_aware_utc(value: object, expected: datetime) -> None:
    # Given an ISO-8601 string or an epoch in seconds or milliseconds
    # When it is parsed
    moment = parse_timestamp(value)
    # Then it is the same instant, in UTC
    assert moment == expected
    assert moment is not None
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", [None, "", "null", "undefined"])
def test_parse_timestamp_treats_missing_markers_as_none(value: object) -> None:
    # Given a missing time
    # When it is parsed
    # Then it is None
    assert parse_timestamp(value) is None


@pytest.mark.parametrize("value", [True, -1, "yesterday", "2025-13-01T00:00:00Z", "9" * 19, [2025], Decimal("NaN")])
def test_parse_timestamp_rejects_garbage(value: object) -> None:
    # Given something that is not a time
    # When it is parsed
    # Then a ValueError is raised
    with pytest.raises(ValueError, match=r"must be|outside"):
        parse_timestamp(value)


# --- parse_iso_duration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT34S", 34),
        ("PT1M2S", 62),
        ("PT4M21S", 261),
        ("PT1H19M18S", 4758),
        ("P1DT2H", 93600),
        ("P0D", 0),
        ("PT0S", 0),
        ("P1W", 604800),
        ("PT10M", 600),
    ],
)
def test_parse_iso_duration_gives_seconds(text: str, seconds: int) -> None:
    # Given a YouTube contentDetails.duration
    # When it is parsed
    # Then it is whole seconds
    assert parse_iso_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "34", "PT1.5S", "P1Y", "P1M", "pt34s", "PT34S junk"])
def test_parse_iso_duration_rejects_other_text(text: str) -> None:
    # Given text that is not a supported duration (years and months are ambiguous)
    # When it is parsed
    # Then a ValueError is raised
    with pytest.raises(ValueError, match="ISO-8601 duration"):
        parse_iso_duration(text)


# --- ids, flags, text ---------------------------------------------------------------------------------------------


def test_parse_platform_id_keeps_big_json_ints_exact() -> None:
    # Given a Research API id above 2**53, as the exact int ijson/json produce
    # When it is parsed
    # Then its text has every digit
    assert parse_platform_id(7487766554433221100) == "7487766554433221100"
    assert parse_platform_id(" Qz7rVd2kLmA ") == "Qz7rVd2kLmA"
    assert parse_platform_id("") is None


@pytest.mark.parametrize("value", [7.487766554433221e18, Decimal("7.487766554433221E+18"), True, -1, {"videoId": "x"}])
def test_parse_platform_id_rejects_mangled_ids(value: object) -> None:
    # Given an id that went through a float, or is not an id at all
    # When it is parsed
    # Then it is refused instead of stored with the wrong digits
    with pytest.raises(ValueError, match="id"):
        parse_platform_id(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("True", True),
        ("false", False),
        (" False ", False),
        (1, True),
        (0, False),
        (None, None),
        ("x", None),
    ],
)
def test_parse_flag_reads_loose_booleans(value: object, expected: bool | None) -> None:
    # Given a flag as scrapers write it
    # When it is parsed
    # Then known spellings are booleans and anything else is unknown
    assert parse_flag(value) is expected


def test_parse_text_turns_blank_into_none_and_refuses_non_strings() -> None:
    # Given text fields
    # When they are parsed
    # Then blank is None, text is kept and a number is refused
    assert parse_text("") is None
    assert parse_text("  ") is None
    assert parse_text("cap tion") == "cap tion"
    with pytest.raises(ValueError, match="must be a string"):
        parse_text(5)


# --- hashtags -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#CarEdit", "caredit"),
        ("caredit", "caredit"),
        ("  #FYP ", "fyp"),
        ("#ネオン", "ネオン"),
        ("＃ネオン", "ネオン"),
        ("#Édit", "édit"),
        ("#café", "café"),
        ("#cafe", "cafe"),
        ("#cafe\u0301", "café"),
        ("#Straße", "strasse"),
        ("##double", "double"),
        ("#", None),
        ("   ", None),
        ("", None),
    ],
)
def test_normalize_hashtag(text: str, expected: str | None) -> None:
    # Given a hashtag as some source spells it
    # When it is normalised
    # Then it is the NFKC, casefolded key without '#', accents kept
    assert normalize_hashtag(text) == expected


def test_normalize_hashtag_keeps_accented_and_plain_forms_distinct() -> None:
    # Given café and cafe
    # When both are normalised
    # Then they stay two hashtags
    assert normalize_hashtag("#café") != normalize_hashtag("#cafe")


@given(st.text())
def test_normalize_hashtag_is_idempotent(text: str) -> None:
    # Given any text
    # When it is normalised twice
    once = normalize_hashtag(text)
    # Then the second pass changes nothing
    if once is not None:
        assert normalize_hashtag(once) == once


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        (
            "when the beat drops at 2am 🔥 #CarEdit #caredit #fyp #FYP #ネオン",
            ["CarEdit", "caredit", "fyp", "FYP", "ネオン"],
        ),
        ("édit #Édit #édit #AnimeEdit #animeエディット (reupload)", ["Édit", "édit", "AnimeEdit", "animeエディット"]),
        ("5 hidden cafés ☕️ #café #cafe.", ["café", "cafe"]),
        ("#fyp🔥#edit", ["fyp", "edit"]),
        ("C# and issue#12 are not tags, # alone neither", []),
        ("#snake_case_tag, #2025!", ["snake_case_tag", "2025"]),
        ("#हिंदी #cafe\u0301", ["हिंदी", "café"]),
        ("＃ネオン", ["ネオン"]),
        ("", []),
        (None, []),
    ],
)
def test_hashtags_from_caption(caption: str | None, expected: list[str]) -> None:
    # Given a caption
    # When its hashtags are parsed
    # Then every '#tag' comes out in order, display form without '#'
    assert hashtags_from_caption(caption) == expected


def test_dedupe_hashtags_keeps_first_display_form() -> None:
    # Given Bright Data's hashtag list with case duplicates
    displays = ["#CarEdit", "#caredit", "#fyp", "#FYP", "#ネオン"]
    # When it is de-duplicated
    hashtags = dedupe_hashtags(displays)
    # Then each key appears once, shown as first written
    assert hashtags == (
        CanonicalHashtag(tag="caredit", display="CarEdit"),
        CanonicalHashtag(tag="fyp", display="fyp"),
        CanonicalHashtag(tag="ネオン", display="ネオン"),
    )


def test_dedupe_hashtags_keeps_cafe_and_cafe_accented_apart_and_drops_blanks() -> None:
    # Given accented and plain forms, a blank and an absurdly long tag
    displays = ["#café", "cafe", "#", "  ", "#" + "x" * 201, "#Café"]
    # When they are de-duplicated
    hashtags = dedupe_hashtags(displays)
    # Then café and cafe are two tags and the junk is gone
    assert [(tag.tag, tag.display) for tag in hashtags] == [("café", "café"), ("cafe", "cafe")]


# --- handles ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Vela.Rhodes", "vela.rhodes"),
        (" nightdrive.edits ", "nightdrive.edits"),
        ("@", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_handle(text: str | None, expected: str | None) -> None:
    # Given a handle or mention
    # When it is normalised
    # Then it is trimmed, lower-case and without '@'
    assert normalize_handle(text) == expected
