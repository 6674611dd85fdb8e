"""Input checks and SQLite error translation: what a user did wrong, and what to do about it."""

from __future__ import annotations

import sqlite3

from companion.errors import CompanionError


def check_text(text, max_chars: int, what: str = "message") -> str:
    """Validate text before it reaches SQLite; bytes must be UTF-8."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CompanionError(
                f"the {what} is not valid UTF-8 text (bad byte 0x{text[exc.start]:02x} at offset "
                f"{exc.start}): save the file as UTF-8 and try again"
            ) from None
    if not isinstance(text, str):
        raise CompanionError(f"the {what} must be text, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # Lone surrogates: what Python makes of undecodable bytes in argv or a file read with
        # errors="surrogateescape".
        raise CompanionError(
            f"the {what} contains bytes that are not valid UTF-8 (at character {exc.start}): "
            f"save or type it as UTF-8 and try again"
        ) from None
    if not text.strip():
        raise CompanionError(f"the {what} is empty: type something to say")
    if "\x00" in text:
        raise CompanionError(f"the {what} contains a NUL character: remove it and try again")
    if len(text) > max_chars:
        raise CompanionError(
            f"the {what} is {len(text):,} characters long, more than the {max_chars:,} the "
            f"memory keeps per message: shorten it or split it into several messages"
        )
    return text


def translate_error(exc: sqlite3.Error, where: str) -> CompanionError:
    """A CompanionError for an SQLite failure, saying what the user can do about it."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    kept = "Everything stored before is kept."
    if primary == 13 or "disk is full" in text:  # SQLITE_FULL
        msg = (f"the conversation database {where} cannot grow: the disk is full (or the "
               f"database reached its size limit). Free some space and try again. {kept}")
    elif primary in (8, 3) or "readonly" in text:  # SQLITE_READONLY, SQLITE_PERM
        msg = (f"cannot write the conversation database {where}: the location is read-only. "
               f"Fix its permissions or choose another location with --db PATH. {kept}")
    elif primary == 14 or "unable to open" in text:  # SQLITE_CANTOPEN
        msg = (f"cannot open the conversation database {where}: the folder is missing or not "
               f"writable. Fix its permissions or choose another location with --db PATH.")
    elif primary in (5, 6) or "locked" in text:  # SQLITE_BUSY, SQLITE_LOCKED
        msg = (f"the conversation database {where} stayed busy in another program: close other "
               f"companion windows or wait a moment and try again. {kept}")
    elif primary in (26, 11) or "not a database" in text or "malformed" in text:
        msg = (f"{where} is not a conversation database or it is damaged: move it aside (keep "
               f"it for recovery) or choose another file with --db PATH")
    elif primary == 10:  # SQLITE_IOERR
        msg = (f"the disk failed while writing the conversation database {where} ({text}): "
               f"check the disk and free space, then try again. {kept}")
    else:
        msg = f"the conversation database {where} failed: {text}"
    error = CompanionError(msg)
    error.__cause__ = exc
    return error
