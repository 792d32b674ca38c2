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


READ_SIZE = 65_536


class FrameReader:
    """Cuts PDUs out of the stream: each read takes whatever the socket holds, so a
    burst of PDUs (an SMSC's batch of deliver_sm, a window of submit_sm_resp) costs the
    event loop one wake-up instead of two reads per PDU."""

    def __init__(self, reader: asyncio.StreamReader, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        self._reader = reader
        self._max_length = max_length
        self._buffer = bytearray()

    async def frames(self) -> list[Frame]:
        """The next whole PDUs, at least one. ``asyncio.IncompleteReadError`` means the
        peer closed; ``FrameError`` comes once the PDUs before the bad header are read."""
        while not (frames := self._cut()):
            data = await self._reader.read(READ_SIZE)
            if not data:
                raise asyncio.IncompleteReadError(bytes(self._buffer), None)
            self._buffer += data
        return frames

    def _cut(self) -> list[Frame]:
        buffer, position = self._buffer, 0
        frames: list[Frame] = []
        while len(buffer) - position >= HEADER_LENGTH:
            header = Header(*_HEADER.unpack_from(buffer, position))
            if not HEADER_LENGTH <= header.length <= self._max_length:
                if frames:
                    break
                raise FrameError(header, self._max_length)
            end = position + header.length
            if end > len(buffer):
                break
            frames.append(Frame(header, bytes(buffer[position:end])))
            position = end
        del buffer[:position]
        return frames


async def read_frame(reader: asyncio.StreamReader, max_length: int = DEFAULT_MAX_LENGTH) -> Frame:
    """Read exactly one PDU (tests and tools; a link uses ``FrameReader``).
    ``asyncio.IncompleteReadError`` means the peer closed."""
    head = await reader.readexactly(HEADER_LENGTH)
    header = Header.unpack(head)
    if not HEADER_LENGTH <= header.length <= max_length:
        raise FrameError(header, max_length)
    if header.length == HEADER_LENGTH:
        return Frame(header, head)
    return Frame(header, head + await reader.readexactly(header.length - HEADER_LENGTH))
