"""Pure normalisation helpers shared by the snapshot source models (FORMATS.md §6).

Every parser here takes one raw JSON value and either returns the normalised Python value (``None`` meaning "the
source did not give it") or raises ``ValueError`` with a message that reads well after a field name, e.g.
``"play_count: " + str(exc)`` → ``"play_count: must be a non-negative integer, got '-5'"``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from reelrank.models.canonical import BIGINT_MAX, CanonicalHashtag

# Strings some scrapers write for "no value" (FORMATS §1.4, §6.1).
_MISSING_WORDS = frozenset({"", "undefined", "null"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# FORMATS §6.3: an epoch this large can only be milliseconds (10**12 s is the year 33658).
_EPOCH_MS_THRESHOLD = 10**12
_ISO_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)
_HASH_SIGNS = "#\uff03"  # '#' and the full-width '＃' Japanese keyboards produce
_LEADING_HASH_OR_SPACE = re.compile(r"^[\s#]+")
_LEADING_HASH_SIGNS_OR_SPACE = re.compile(r"^[\s#\uff03]+")
# CanonicalHashtag.tag allows 200 characters; TikTok itself caps hashtags far below that.
_MAX_TAG_LENGTH = 200


def _show(value: object) -> str:
    """``repr`` of a rejected value, shortened so a reason never carries a whole caption."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_count(value: object) -> int | None:
    """Parse a platform count (views, likes, comments, shares, saves, followers, duration).

    Parameters
    ----------
    value
        A raw JSON value: an ``int``, a string of ASCII decimal digits (surrounding whitespace is ignored), or a
        "missing" marker: ``None``, ``""``, ``"undefined"`` or ``"null"`` (case-insensitive).

    Returns
    -------
    int | None
        The count, or ``None`` when the source did not give one (missing is not zero).

    Raises
    ------
    ValueError
        For booleans, negatives, any non-integer number (``3.5`` and also integral floats/decimals such as
        ``12.0`` or ``1E+3``: counts are JSON integers in every source, so a fraction or exponent means the value
        went through a binary float, which above 2**53 has already lost digits), non-digit strings, and values
        above PostgreSQL's BIGINT maximum.
    """
    if value is None:
        return None
    if isinstance(value, bool):  # bool is an int subclass: True must not become 1
        raise ValueError(f"must be a non-negative integer, got a boolean ({value!r})")
    if isinstance(value, int):
        count = value
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in _MISSING_WORDS:
            return None
        # isascii() as well: str.isdigit() accepts '²' and other scripts' digits, which int() may not parse.
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"must be a non-negative integer, got {_show(value)}")
        if len(text.lstrip("0")) > len(str(BIGINT_MAX)):
            raise ValueError(f"must be at most {BIGINT_MAX}, got {_show(value)}")
        count = int(text)
    elif isinstance(value, float | Decimal):
        raise ValueError(f"must be a non-negative integer, got {_show(value)} (a number with a fraction or exponent)")
    else:
        raise ValueError(f"must be a non-negative integer, got {type(value).__name__} {_show(value)}")
    if count < 0:
        raise ValueError(f"must be a non-negative integer, got {_show(value)}")
    if count > BIGINT_MAX:
        raise ValueError(f"must be at most {BIGINT_MAX}, got {_show(value)}")
    return count


def _from_epoch(value: int | Decimal, original: object) -> datetime:
    if value < 0:
        raise ValueError(f"must be a non-negative epoch timestamp, got {_show(original)}")
    try:
        if value >= _EPOCH_MS_THRESHOLD:
            return _EPOCH + timedelta(milliseconds=float(value) if isinstance(value, Decimal) else value)
        return _EPOCH + timedelta(seconds=float(value) if isinstance(value, Decimal) else value)
    except OverflowError:
        raise ValueError(f"is outside the supported date range, got {_show(original)}") from None


def parse_timestamp(value: object) -> datetime | None:
    """Parse a posted/collected time into a timezone-aware UTC ``datetime``.

    Parameters
    ----------
    value
        An ISO-8601 string with ``Z`` or an offset, with or without fractional seconds (a string without an offset
        is taken as UTC, which is what every scraper writes); an epoch as an ``int``, a digit string or a JSON
        number with a fraction, in seconds, or in milliseconds when it is ``>= 10**12``; a ``datetime``; or a
        missing marker (``None``, ``""``, ``"undefined"``, ``"null"``).

    Returns
    -------
    datetime | None
        The instant in UTC, or ``None`` when missing.

    Raises
    ------
    ValueError
        For booleans, negative epochs, unparseable strings and instants outside ``datetime``'s range.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be an ISO-8601 time or an epoch, got a boolean ({value!r})")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int):
        return _from_epoch(value, value)
    elif isinstance(value, float | Decimal):
        number = Decimal(value) if isinstance(value, float) else value
        if not number.is_finite():
            raise ValueError(f"must be an ISO-8601 time or an epoch, got {_show(value)}")
        return _from_epoch(number, value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in _MISSING_WORDS:
            return None
        if text.isascii() and text.isdigit():
            if len(text) > 20:
                raise ValueError(f"is outside the supported date range, got {_show(value)}")
            return _from_epoch(int(text), value)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"must be an ISO-8601 time or an epoch, got {_show(value)}") from None
    else:
        raise ValueError(f"must be an ISO-8601 time or an epoch, got {type(value).__name__} {_show(value)}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_iso_duration(text: str) -> int:
    """Parse an ISO-8601 duration as YouTube's ``contentDetails.duration`` writes it.

    Parameters
    ----------
    text
        E.g. ``"PT34S"``, ``"PT1M2S"``, ``"PT1H19M18S"``, ``"P1DT2H"``, ``"P0D"`` (live broadcasts), ``"P1W"``.

    Returns
    -------
    int
        Whole seconds.

    Raises
    ------
    ValueError
        If ``text`` is not such a duration. Years and months are refused: their length in seconds is ambiguous
        and YouTube never uses them; fractional seconds are refused as well.
    """
    if not isinstance(text, str):
        raise ValueError(f"must be an ISO-8601 duration such as 'PT1M2S', got {_show(text)}")
    match = _ISO_DURATION.fullmatch(text.strip())
    if match is None or not any(match.groupdict().values()):
        raise ValueError(f"must be an ISO-8601 duration such as 'PT1M2S', got {_show(text)}")
    parts = {name: int(number) for name, number in match.groupdict().items() if number is not None}
    return int(
        timedelta(
            weeks=parts.get("weeks", 0),
            days=parts.get("days", 0),
            hours=parts.get("hours", 0),
            minutes=parts.get("minutes", 0),
            seconds=parts.get("seconds", 0),
        ).total_seconds()
    )


def parse_platform_id(value: object) -> str | None:
    """Parse a platform id (video, user, sound) into text.

    Parameters
    ----------
    value
        A string (trimmed) or a JSON integer. The TikTok Research API writes 19-digit ids as JSON numbers above
        2**53; they arrive here as exact Python ints and become their decimal text.

    Returns
    -------
    str | None
        The id, or ``None`` when missing or blank.

    Raises
    ------
    ValueError
        For booleans, negative integers and numbers with a fraction or exponent (the mark of an id that went
        through a binary float and lost its last digits).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be a string or integer id, got a boolean ({value!r})")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must be a non-negative integer id, got {_show(value)}")
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, float | Decimal):
        raise ValueError(f"must be a string or integer id, got {_show(value)} (a float has lost the id's digits)")
    raise ValueError(f"must be a string or integer id, got {type(value).__name__} {_show(value)}")


def parse_flag(value: object) -> bool | None:
    """Parse a boolean flag that scrapers write inconsistently (``true``, ``"True"``, ``"false"``, ``1``, ``null``).

    Parameters
    ----------
    value
        A raw JSON value.

    Returns
    -------
    bool | None
        The flag, or ``None`` for anything that is not recognisably true or false. Flags such as Apify's
        ``musicOriginal`` are known to be unreliable (FORMATS §2.3), so an odd value is dropped rather than made a
        reason to reject the whole video.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower())
    return None


def parse_text(value: object) -> str | None:
    """Parse an optional text field (caption, URL, name): blank becomes ``None``.

    Raises
    ------
    ValueError
        If the value is neither a string nor ``None``.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__} {_show(value)}")
    return value if value.strip() else None


def _normalize_hashtag_once(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _LEADING_HASH_OR_SPACE.sub("", folded).rstrip()


def normalize_hashtag(text: str) -> str | None:
    """Normalise a hashtag into its key.

    Parameters
    ----------
    text
        A hashtag with or without its leading ``#`` (e.g. ``"#CarEdit"``, ``"café"``, ``"＃ネオン"``).

    Returns
    -------
    str | None
        NFKC-normalised, casefolded, trimmed text without leading ``#`` (``"caredit"``); accents are kept, so
        ``café`` and ``cafe`` stay distinct. ``None`` when nothing is left.

    Notes
    -----
    ``casefold()`` can produce text that is no longer NFKC-normalised (and NFKC can create new case pairs), so the
    steps are repeated until the result is stable; that makes the function idempotent.
    """
    current = text
    for _ in range(4):
        following = _normalize_hashtag_once(current)
        if following == current:
            break
        current = following
    return current or None


def _is_tag_char(char: str) -> bool:
    # Letters, marks (Devanagari vowel signs, combining accents), digits and connector punctuation ('_').
    category = unicodedata.category(char)
    return category[0] in "LMN" or category == "Pc"


def _iter_caption_tags(caption: str) -> Iterator[str]:
    text = unicodedata.normalize("NFC", caption)
    position, length = 0, len(text)
    while position < length:
        char = text[position]
        # A '#' glued to a preceding word ("C#", "issue#12") does not start a tag.
        if char in _HASH_SIGNS and (position == 0 or not _is_tag_char(text[position - 1])):
            end = position + 1
            while end < length and _is_tag_char(text[end]):
                end += 1
            if end > position + 1:
                yield text[position + 1 : end]
            position = end
        else:
            position += 1


def hashtags_from_caption(text: str | None) -> list[str]:
    """Find the ``#tags`` of a caption, in order, as display forms without the ``#``.

    Parameters
    ----------
    text
        A caption, title or description; ``None`` gives no tags.

    Returns
    -------
    list[str]
        Tags as written (NFC-composed), e.g. ``"when it drops #CarEdit #ネオン"`` → ``["CarEdit", "ネオン"]``.
        A tag runs over Unicode letters, combining marks, digits and underscores, so it ends at spaces,
        punctuation and emoji; a ``#`` directly after a letter or digit starts no tag. Duplicates are kept:
        pass the result to :func:`dedupe_hashtags`.
    """
    if not text:
        return []
    return list(_iter_caption_tags(text))


def dedupe_hashtags(displays: Iterable[str]) -> tuple[CanonicalHashtag, ...]:
    """Normalise and de-duplicate hashtags, keeping the first display form of each.

    Parameters
    ----------
    displays
        Hashtags as a source writes them, with or without ``#`` (``["#CarEdit", "#caredit", "#fyp"]``).

    Returns
    -------
    tuple[CanonicalHashtag, ...]
        One hashtag per normalised key, in first-seen order; ``display`` is the first spelling, trimmed and
        without ``#`` (``CarEdit``). Blank tags, and tags longer than 200 characters (no platform allows those,
        so they are junk rather than a reason to reject the video), are dropped.
    """
    seen: dict[str, CanonicalHashtag] = {}
    for display in displays:
        hashtag = _hashtag_of(display)
        if hashtag is not None and hashtag.tag not in seen:
            seen[hashtag.tag] = hashtag
    return tuple(seen.values())


# Hashtags follow a steep power law (a few tags are on a large share of all videos), so a snapshot normalises the same
# few thousand spellings over and over: remember them (the models are frozen, so one object can serve every record).
@lru_cache(maxsize=65_536)
def _hashtag_of(display: str) -> CanonicalHashtag | None:
    tag = normalize_hashtag(display)
    if tag is None or len(tag) > _MAX_TAG_LENGTH:
        return None
    shown = _LEADING_HASH_SIGNS_OR_SPACE.sub("", display).rstrip()
    return CanonicalHashtag(tag=tag, display=shown or tag)


def normalize_handle(text: str | None) -> str | None:
    """Normalise a creator handle or mention: trim, drop a leading ``@``, lower-case.

    Parameters
    ----------
    text
        ``"@Vela.Rhodes"``, ``"nightdrive.edits"``, ...

    Returns
    -------
    str | None
        ``"vela.rhodes"``; ``None`` when blank.
    """
    if text is None:
        return None
    handle = text.strip().lstrip("@").strip().lower()
    return handle or None
