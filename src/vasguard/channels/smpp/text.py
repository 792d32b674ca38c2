"""Text to SMPP user data and back, by ``data_coding`` (SMPP 3.4 5.2.19).

The alphabets themselves live in ``vasguard.domain.segmentation`` (GSM-7 with escapes,
UCS-2, the concatenation UDH); this module only says which ``data_coding`` and
``esm_class`` go with them on an SMPP link:

* MT: GSM-7 as ``data_coding`` 0, one septet per octet (what SMSCs expect on SMPP), and
  UCS-2 as 8; concatenated parts carry the UDH and need ``esm_class`` UDHI (0x40).
* MO: 0 (SMSC default, read as unpacked GSM-7), 1 (IA5/ASCII), 3 (Latin-1), 8 (UCS-2)
  and the 0xF0 message-class group with the default alphabet. Anything else is binary
  or a national alphabet the platform does not read: ``UnreadableText``, so the caller
  can refuse the MO explicitly instead of acting on mojibake.
* A NUL character (UCS-2 0x0000, Latin-1 or IA5 0x00; GSM-7's 0x00 is ``@``) is passed
  on as it came: the intake stores every channel's MO with it as U+FFFD
  (``domain.messages.NewMo.clean``), so the MO is kept, not refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vasguard.channels.smpp.pdus import ESM_CLASS_UDHI
from vasguard.domain import segmentation

GSM7 = 0x00
IA5 = 0x01
LATIN1 = 0x03
UCS2 = 0x08
_MESSAGE_CLASS_GROUP = 0xF0
_MESSAGE_CLASS_8BIT = 0x04
_ALPHABETS = {GSM7: "gsm7", IA5: "ascii", LATIN1: "latin-1", UCS2: "ucs2"}


class UnreadableText(ValueError):
    """User data that is not text in an alphabet the platform reads."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """A text's SMS parts as SMPP sends them: one data_coding and esm_class for all."""

    data_coding: int
    esm_class: int
    parts: tuple[bytes, ...]


def encode_text(text: str, reference: int, *, avoid_breaking_lines: bool = False) -> Encoded:
    """The submit_sm user data for ``text``; ``reference`` is the 8-bit concatenation
    reference the parts share (ignored for a single part, which has no UDH)."""
    encoding = segmentation.choose_encoding(text)
    parts = segmentation.encode_parts(text, reference, avoid_breaking_lines=avoid_breaking_lines)
    esm_class = ESM_CLASS_UDHI if len(parts) > 1 else 0x00
    return Encoded(GSM7 if encoding == "gsm7" else UCS2, esm_class, tuple(parts))


def _alphabet(data_coding: int) -> str:
    if data_coding in _ALPHABETS:
        return _ALPHABETS[data_coding]
    if data_coding & 0xF0 == _MESSAGE_CLASS_GROUP and not data_coding & _MESSAGE_CLASS_8BIT:
        return "gsm7"
    raise UnreadableText(f"data_coding 0x{data_coding:02X} is not a text alphabet read here")


def decode_text(data_coding: int, user_data: bytes, *, udh: bool = False) -> str:
    """The text of one SMS. With ``udh`` (esm_class UDHI) the header is skipped."""
    if udh:
        if not user_data or user_data[0] + 1 > len(user_data):
            raise UnreadableText("UDHI set but the user data holds no whole UDH")
        user_data = user_data[user_data[0] + 1 :]
    return _decode(_alphabet(data_coding), [user_data])


def decode_concatenated(data_coding: int, parts: Sequence[bytes]) -> str:
    """The text of a concatenated GSM-7 or UCS-2 message from its parts' user data (each
    with its UDH, 8- or 16-bit reference, in any order)."""
    alphabet = _alphabet(data_coding)
    if alphabet not in ("gsm7", "ucs2"):
        raise UnreadableText(f"concatenated {alphabet} messages are not read here")
    return _decode(alphabet, parts)


def _decode(alphabet: str, parts: Sequence[bytes]) -> str:
    try:
        if alphabet in ("gsm7", "ucs2"):
            return segmentation.decode_parts(parts, "gsm7" if alphabet == "gsm7" else "ucs2")
        return b"".join(parts).decode(alphabet)
    except ValueError as exc:  # an odd UCS-2 length or a lone surrogate is a UnicodeDecodeError
        raise UnreadableText(f"{alphabet} user data cannot be read: {exc}") from exc
