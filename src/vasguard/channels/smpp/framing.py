"""Cutting the TCP byte stream into SMPP PDUs by their command_length prefix.

The 16-octet header is read with ``struct`` rather than the codec library: the session
needs command_id and sequence_number even for a PDU the library refuses, to answer it
with a generic_nack of the same sequence number. A command_length outside
16..``max_length`` means the stream can no longer be cut reliably: the reader raises
``FrameError`` and the session nacks and drops the connection instead of buffering
gigabytes or desynchronising.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

HEADER_LENGTH = 16
DEFAULT_MAX_LENGTH = 65_536 + 1_024
"""Room for a 64 KiB message_payload and the mandatory fields; anything longer is not a
PDU this ESME will ever be sent."""

_HEADER = struct.Struct("!IIII")


@dataclass(frozen=True, slots=True)
class Header:
    length: int
    command_id: int
    status: int
    sequence: int

    @classmethod
    def unpack(cls, data: bytes) -> Header:
        return cls(*_HEADER.unpack_from(data))

    def pack(self) -> bytes:
        return _HEADER.pack(self.length, self.command_id, self.status, self.sequence)


@dataclass(frozen=True, slots=True)
class Frame:
    """One whole PDU as it came off the wire, header included."""

    header: Header
    data: bytes


class FrameError(Exception):
    """The peer's command_length cannot be right; the connection must be dropped."""

    def __init__(self, header: Header, max_length: int) -> None:
        self.header = header
        super().__init__(
            f"command_length {header.length} outside {HEADER_LENGTH}..{max_length} "
            f"(command_id 0x{header.command_id:08X}, sequence {header.sequence})"
        )


async def read_frame(reader: asyncio.StreamReader, max_length: int = DEFAULT_MAX_LENGTH) -> Frame:
    """Read exactly one PDU. ``asyncio.IncompleteReadError`` means the peer closed."""
    head = await reader.readexactly(HEADER_LENGTH)
    header = Header.unpack(head)
    if not HEADER_LENGTH <= header.length <= max_length:
        raise FrameError(header, max_length)
    if header.length == HEADER_LENGTH:
        return Frame(header, head)
    return Frame(header, head + await reader.readexactly(header.length - HEADER_LENGTH))
