"""Opaque keyset cursors: the last row's (sort value, id), bound to the list they came from and signed.

A cursor is ``base64url(json([scope, value, id])) + "." + base64url(hmac)``. ``scope`` is a digest of the list, its
sort, its parent and its filters, so a cursor handed to another list (or the same list with other filters) is
refused as foreign, and the HMAC refuses any edit. Either is a 400 naming ``cursor``. The value is re-typed from the
sort's kind (an integer, a decimal, a timestamp, a text) before it reaches a query, where it is a bound parameter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from reelrank.db.rankings import Keyset, SortKind
from reelrank.errors import InvalidParameterError

# Integrity, not secrecy: a forged cursor could only position a keyset scan, and every value is re-typed and bound.
# Deployments may set their own key (CURSOR_SIGNING_KEY); the default keeps local runs and tests deterministic.
DEFAULT_KEY = b"reelrank-cursor-v1"
_MAC_BYTES = 12
_MAX_CURSOR_LENGTH = 1024


def scope_of(*parts: Any) -> str:
    """A short digest naming one list: route, sort, parent and filters (``None`` parts included)."""
    text = json.dumps([str(p) if p is not None else None for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(scope: str, keyset: Keyset, key: bytes = DEFAULT_KEY) -> str:
    """The cursor continuing after ``keyset`` in the list named by ``scope``."""
    payload = json.dumps([scope, _encode_value(keyset.value), keyset.id], separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def _bad(message: str) -> InvalidParameterError:
    return InvalidParameterError("cursor", f"cursor: {message}; pass the next_cursor of a page of this same list")


def _typed(value: Any, kind: SortKind, nullable: bool) -> Any:
    if value is None and nullable:
        return None
    try:
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "dec" and isinstance(value, str):
            number = Decimal(value)
            if number.is_finite():
                return number
        if kind == "ts" and isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return moment
        if kind == "text" and isinstance(value, str):
            return value
    except (InvalidOperation, ValueError):
        pass
    raise _bad("its sort value does not fit this list")


def decode_cursor(
    cursor: str, scope: str, kind: SortKind, id_is_int: bool, *, nullable: bool = False, key: bytes = DEFAULT_KEY
) -> Keyset:
    """The keyset in ``cursor``, checked: signed with ``key``, made for ``scope``, values of the right types.

    Raises
    ------
    InvalidParameterError
        The cursor is malformed, tampered with, or belongs to another list, sort or filter set (``parameter`` is
        ``cursor``).
    """
    if len(cursor) > _MAX_CURSOR_LENGTH or cursor.count(".") != 1:
        raise _bad("not a cursor")
    body, mac = cursor.split(".")
    try:
        payload, signature = _unb64(body), _unb64(mac)
    except (binascii.Error, ValueError) as exc:
        raise _bad("not a cursor") from exc
    if not hmac.compare_digest(signature, _mac(key, payload)):
        raise _bad("tampered with or not issued by this API")
    try:
        decoded = json.loads(payload)
    except ValueError as exc:  # signed but unreadable: only a cursor of another version could be
        raise _bad("not a cursor") from exc
    if not isinstance(decoded, list) or len(decoded) != 3:
        raise _bad("not a cursor")
    found_scope, value, last_id = decoded
    if found_scope != scope:
        raise _bad("it belongs to another list, sort or filter")
    if id_is_int:
        if not isinstance(last_id, int) or isinstance(last_id, bool):
            raise _bad("its id does not fit this list")
    elif not isinstance(last_id, str):
        raise _bad("its id does not fit this list")
    return Keyset(_typed(value, kind, nullable), last_id)
