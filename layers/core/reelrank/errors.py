"""Domain errors: what reelrank raises on purpose, so callers can tell them from bugs and driver failures."""

from __future__ import annotations


class ReelrankError(Exception):
    """Base class of every error reelrank raises on purpose."""


class SnapshotFormatError(ReelrankError):
    """A snapshot file cannot be read as records at all (as opposed to one bad record, which is only rejected).

    Examples: malformed JSON or gzip, an API error body or a "snapshot not ready" body delivered instead of data,
    a file whose source cannot be recognised.
    """


class InvalidWeightsError(ReelrankError):
    """Impact weights that cannot be stored (negative, too many digits, missing, all zero); the message names the
    field."""


class BackfillJobNotFoundError(ReelrankError):
    """A backfill event names a job id that does not exist."""


class NotFoundError(ReelrankError):
    """The API was asked for an entity that does not exist (a 404); the message names it."""


class InvalidParameterError(ReelrankError):
    """A request parameter the route's declaration cannot express as invalid (a 400): a tampered or foreign cursor,
    an unknown parameter, ``impact_min`` above ``impact_max``."""

    def __init__(self, parameter: str, message: str, allowed: list[str] | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.allowed = allowed
