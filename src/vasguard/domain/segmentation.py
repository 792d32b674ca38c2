"""SMS encoding and concatenation (3GPP TS 23.038 / 23.040): how many parts a text costs,
where it is cut, and the user data bytes of each part.

Decisions:

* A text is GSM-7 when every character is in the default alphabet or its extension table
  (extension characters cost two septets); otherwise UCS-2, counted in UTF-16 code units
  (characters outside the BMP cost two units). ESC itself is not a character of the text.
* Parts are cut between characters, so an escape pair or a surrogate pair is never split;
  ``"".join(parts) == text`` always holds. An empty text is one empty part.
* Concatenated parts carry the 8-bit-reference UDH ``05 00 03 ref count seq``; a
  single-part message has no UDH.
* GSM-7 user data is by default one septet value per octet (unpacked), which is what
  SMPP ``data_coding=0`` carries on most SMSCs; ``pack=True`` gives 23.040 packing with the
  fill bits after the UDH and 23.038 CR padding when seven bits would be left over.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["gsm7", "ucs2"]

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67
MAX_PARTS = 255

_ESC = 0x1B
_CR = 0x0D
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_SEPTETS: dict[str, tuple[int, ...]] = {
    ch: (value,) for value, ch in enumerate(_BASIC) if value != _ESC
} | {ch: (_ESC, value) for ch, value in _EXTENSION.items()}
_GSM_CHARS = frozenset(_SEPTETS)
_SEPTET_COST = {ch: len(septets) for ch, septets in _SEPTETS.items()}
_FROM_EXTENSION = {value: ch for ch, value in _EXTENSION.items()}
_CONCAT_8BIT = 0x00
_CONCAT_16BIT = 0x08


@dataclass(frozen=True, slots=True)
class Segmented:
    """A text as it goes over the air: its encoding and its parts in order."""

    encoding: Encoding
    parts: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.parts)


def choose_encoding(text: str) -> Encoding:
    """GSM-7 when every character has a septet form, else UCS-2."""
    return "gsm7" if _GSM_CHARS.issuperset(text) else "ucs2"


def _costs(text: str, encoding: Encoding) -> list[int]:
    """What each character costs: septets in GSM-7, UTF-16 code units in UCS-2."""
    if encoding == "gsm7":
        return [_SEPTET_COST[ch] for ch in text]
    return [2 if ch > "\uffff" else 1 for ch in text]


def _uniform(text: str, encoding: Encoding) -> bool:
    if encoding == "gsm7":
        return _EXTENSION.keys().isdisjoint(text)
    return max(text, default="") <= "\uffff"


def _text_cost(text: str, encoding: Encoding) -> int:
    if _uniform(text, encoding):
        return len(text)
    return sum(_costs(text, encoding))


def split(text: str, *, avoid_breaking_lines: bool = False) -> Segmented:
    """Cut a text into SMS parts.

    With ``avoid_breaking_lines`` a part ends after a newline instead of mid-line whenever
    the cut line would fit whole in the next part (a listing keeps its items whole).
    """
    encoding = choose_encoding(text)
    single, limit = (GSM7_SINGLE, GSM7_PART) if encoding == "gsm7" else (UCS2_SINGLE, UCS2_PART)
    if len(text) <= single // 2 or _text_cost(text, encoding) <= single:
        return Segmented(encoding, (text,))
    uniform = _uniform(text, encoding)  # every character costs one: cut by counting
    costs = [] if uniform else _costs(text, encoding)
    parts: list[str] = []
    start = 0
    while start < len(text):
        if uniform:
            end = min(start + limit, len(text))
        else:
            end, used = start, 0
            while end < len(text) and used + costs[end] <= limit:
                used += costs[end]
                end += 1
        if avoid_breaking_lines and end < len(text) and text[end] != "\n":
            end = _line_break_before(text, start, end, encoding, limit)
        parts.append(text[start:end])
        start = end
    return Segmented(encoding, tuple(parts))


def _line_break_before(text: str, start: int, end: int, encoding: Encoding, limit: int) -> int:
    """Move a cut at ``end`` back to just after the last newline of the part, if the line
    being cut fits whole into a part; otherwise keep the hard cut."""
    newline = text.rfind("\n", start, end)
    if newline == -1:
        return end
    line_end = text.find("\n", end)
    line = text[newline + 1 : len(text) if line_end == -1 else line_end]
    return newline + 1 if _text_cost(line, encoding) <= limit else end


def _to_septets(text: str) -> list[int]:
    return [septet for ch in text for septet in _SEPTETS[ch]]


_BASIC_TABLE = "".join(_BASIC) + "\ufffe" * 128
"""``codecs.charmap_decode`` table: an unpacked septet to its basic character; an octet
over 0x7F maps to U+FFFE, which that codec refuses."""


def _from_septets(septets: Sequence[int]) -> str:
    """Septets to text; an unknown extension code shows its basic character (23.038 6.2.1.1)."""
    chars: list[str] = []
    escaped = False
    for septet in septets:
        if septet > 0x7F:
            raise ValueError(f"not a GSM-7 septet: {septet:#x}")
        if escaped:
            chars.append(_FROM_EXTENSION.get(septet, _BASIC[septet]))
            escaped = False
        elif septet == _ESC:
            escaped = True
        else:
            chars.append(_BASIC[septet])
    if escaped:
        raise ValueError("GSM-7 data ends with a lone escape")
    return "".join(chars)


def _fill_bits(header_octets: int) -> int:
    """Bits needed after a UDH so that the first septet starts on a septet boundary."""
    return (7 - header_octets * 8 % 7) % 7


def _pack(septets: list[int], fill: int) -> bytes:
    """23.040 packing, least significant bit first, after ``fill`` zero bits. Seven
    spare bits at the end get a CR (23.038 6.1.2.3.1); a real final CR that would end on
    an octet boundary gets a second CR so the receiver cannot mistake it for padding."""
    if (fill + 7 * len(septets)) % 8 == 1 or (
        septets and septets[-1] == _CR and (fill + 7 * len(septets)) % 8 == 0
    ):
        septets = [*septets, _CR]
    out = bytearray()
    acc, bits = 0, fill
    for septet in septets:
        acc |= septet << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc)
    return bytes(out)


def _unpack(data: bytes, fill: int) -> list[int]:
    """Inverse of ``_pack``; drops the padding CR of a part that ends on an octet boundary."""
    count = (len(data) * 8 - fill) // 7
    value = int.from_bytes(data, "little") >> fill
    septets = [(value >> (7 * i)) & 0x7F for i in range(count)]
    if septets and septets[-1] == _CR and fill + 7 * count == len(data) * 8:
        septets.pop()
    return septets


def encode_parts(
    text: str, reference: int, *, pack: bool = False, avoid_breaking_lines: bool = False
) -> list[bytes]:
    """The user data of each SMS part (UDH included for concatenated messages).

    UCS-2 is UTF-16-BE; GSM-7 is one septet per octet unless ``pack``. ``reference`` is
    the 8-bit concatenation reference shared by the parts.
    """
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"an 8-bit concatenation reference is 0..255, got {reference}")
    segmented = split(text, avoid_breaking_lines=avoid_breaking_lines)
    if segmented.count > MAX_PARTS:
        raise ValueError(f"text needs {segmented.count} parts, at most {MAX_PARTS} possible")
    concatenated = segmented.count > 1
    result: list[bytes] = []
    for seq, part in enumerate(segmented.parts, start=1):
        header = (
            bytes([5, _CONCAT_8BIT, 3, reference, segmented.count, seq]) if concatenated else b""
        )
        if segmented.encoding == "ucs2":
            payload = part.encode("utf-16-be")
        elif pack:
            payload = _pack(_to_septets(part), _fill_bits(len(header)))
        else:
            payload = bytes(_to_septets(part))
        result.append(header + payload)
    return result


@dataclass(frozen=True, slots=True)
class _Part:
    reference: int
    count: int
    seq: int
    payload: bytes
    header_octets: int


def _read_part(data: bytes) -> _Part:
    """Split a concatenated part into its concatenation IE and payload (8- or 16-bit ref)."""
    if not data:
        raise ValueError("empty part in a concatenated message")
    header_octets = data[0] + 1
    if len(data) < header_octets:
        raise ValueError("UDH longer than the part")
    header = data[1:header_octets]
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + length]
        if iei == _CONCAT_8BIT and len(value) == 3:
            ref, count, seq = value
            return _Part(ref, count, seq, data[header_octets:], header_octets)
        if iei == _CONCAT_16BIT and len(value) == 4:
            ref = int.from_bytes(value[:2], "big")
            return _Part(ref, value[2], value[3], data[header_octets:], header_octets)
        pos += 2 + length
    raise ValueError("part has no concatenation information element")


def decode_parts(parts: Sequence[bytes], encoding: Encoding, *, packed: bool = False) -> str:
    """Reassemble a message from its parts' user data, in any order.

    One part means no UDH. Several parts must share one reference, announce their count
    and carry sequence numbers 1..count exactly once; otherwise ``ValueError``. Payloads
    are joined before decoding, so a sender that split a surrogate or escape pair across
    parts is still read correctly.
    """
    if not parts:
        raise ValueError("no parts to decode")
    if len(parts) == 1:
        pieces = [_Part(0, 1, 1, parts[0], 0)]
    else:
        pieces = sorted((_read_part(p) for p in parts), key=lambda p: p.seq)
        if len({p.reference for p in pieces}) != 1:
            raise ValueError("parts carry different concatenation references")
        if any(p.count != len(parts) for p in pieces):
            raise ValueError(f"parts announce a count other than the {len(parts)} given")
        if [p.seq for p in pieces] != list(range(1, len(parts) + 1)):
            raise ValueError("part sequence numbers are not 1..count")
    if encoding == "ucs2":
        return b"".join(p.payload for p in pieces).decode("utf-16-be")
    if packed:
        septets = [s for p in pieces for s in _unpack(p.payload, _fill_bits(p.header_octets))]
    else:
        unpacked = b"".join(p.payload for p in pieces)
        if _ESC not in unpacked:  # the common case (a receipt, most MOs): one C call
            with contextlib.suppress(UnicodeDecodeError):  # an octet over 0x7F: see below
                return codecs.charmap_decode(unpacked, "strict", _BASIC_TABLE)[0]
        septets = list(unpacked)
    return _from_septets(septets)


def encode_part(text: str, encoding: Encoding, reference: int, number: int, count: int) -> bytes:
    """The user data of part ``number`` of ``count`` whose text is ``text`` (one element of
    ``split(...).parts``), in the whole message's ``encoding``: a part of a UCS-2 message
    stays UCS-2 even when its own characters would fit GSM-7. GSM-7 is unpacked."""
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"an 8-bit concatenation reference is 0..255, got {reference}")
    header = bytes([5, _CONCAT_8BIT, 3, reference, count, number]) if count > 1 else b""
    if encoding == "ucs2":
        return header + text.encode("utf-16-be")
    return header + bytes(_to_septets(text))


@dataclass(frozen=True, slots=True)
class Concatenation:
    """Where a concatenated part belongs (8- or 16-bit reference), and its payload with
    the UDH removed."""

    reference: int
    count: int
    seq: int
    payload: bytes


def read_concatenation(data: bytes) -> Concatenation:
    """The concatenation information of one part's user data (UDH included);
    ``ValueError`` when it carries none."""
    part = _read_part(data)
    return Concatenation(part.reference, part.count, part.seq, part.payload)
