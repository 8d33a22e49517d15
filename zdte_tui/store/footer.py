"""A second copy of a Parquet recording's footer near the start of the file, so that a truncated or
damaged recording can still be read row group by row group.

A Parquet file is ``PAR1 | column chunks | footer | len | PAR1``; the footer (Thrift compact
``FileMetaData``) is the only map of where each row group's pages are, so a file cut anywhere
loses every row. The finalizer therefore writes::

    PAR1 | ZDTEFTR1 u32 size u32 crc32 footer-copy zero-padding | column chunks | footer | len | PAR1

where ``footer-copy`` is byte-for-byte the footer at the end. The block sits where readers never
look (column chunk offsets point past it), so the file stays plain Parquet for every other tool.
Inserting the block moves the column chunks, so every absolute offset in the footer is shifted by
the block's size: :func:`shift_offsets` does that with a tiny Thrift compact codec (only the
offset fields change; unknown fields round-trip byte for byte).

:func:`read_block` returns the copy (``None`` when the file has no block or it is damaged).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

BLOCK_MAGIC = b"ZDTEFTR1"
HEADER = struct.Struct("<8sII")  # magic, footer length, crc32 of the footer
PARQUET_MAGIC = b"PAR1"
BLOCK_ALIGN = 4096

# Thrift compact type ids
_BOOL_TRUE, _BOOL_FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)

# Absolute file offsets in parquet.thrift, by struct: FileMetaData.row_groups(4) -> RowGroup
# {file_offset(5), columns(1) -> ColumnChunk {file_offset(2), offset_index_offset(4),
# column_index_offset(6), meta_data(3) -> ColumnMetaData {data_page_offset(9), index_page_offset(10),
# dictionary_page_offset(11), bloom_filter_offset(14)}}}
_ROW_GROUP_OFFSETS = {5}
_CHUNK_OFFSETS = {2, 4, 6}
_META_OFFSETS = {9, 10, 11, 14}


class ThriftError(ValueError):
    """The bytes are not the Thrift compact encoding this module expects."""


# --------------------------------------------------------------------------- Thrift compact codec
class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ThriftError("unexpected end of Thrift data")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise ThriftError("varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ThriftError("Thrift binary runs past the end")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def _read_value(r: _Reader, t: int, depth: int = 0) -> Any:
    if depth > 32:
        raise ThriftError("Thrift nesting too deep")
    if t in (_BOOL_TRUE, _BOOL_FALSE):  # inside a list a bool is one byte
        return r.byte() == 1
    if t == _BYTE:
        return r.byte()
    if t in (_I16, _I32, _I64):
        return r.zigzag()
    if t == _DOUBLE:
        return r.take(8)
    if t == _BINARY:
        return r.take(r.varint())
    if t in (_LIST, _SET):
        head = r.byte()
        size, et = head >> 4, head & 0x0F
        if size == 15:
            size = r.varint()
        if size > len(r.data):
            raise ThriftError("Thrift list larger than its data")
        return (et, [_read_value(r, et, depth + 1) for _ in range(size)])
    if t == _MAP:
        size = r.varint()
        if size == 0:
            return (0, 0, [])
        kv = r.byte()
        kt, vt = kv >> 4, kv & 0x0F
        return (kt, vt, [(_read_value(r, kt, depth + 1), _read_value(r, vt, depth + 1)) for _ in range(size)])
    if t == _STRUCT:
        return _read_struct(r, depth + 1)
    raise ThriftError(f"unknown Thrift type {t}")


def _read_struct(r: _Reader, depth: int = 0) -> list[tuple[int, int, Any]]:
    fields: list[tuple[int, int, Any]] = []
    last = 0
    while True:
        head = r.byte()
        if head == 0:
            return fields
        delta, t = head >> 4, head & 0x0F
        fid = last + delta if delta else r.zigzag()
        value = t == _BOOL_TRUE if t in (_BOOL_TRUE, _BOOL_FALSE) else _read_value(r, t, depth)
        fields.append((fid, t, value))
        last = fid


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _zigzag(n: int) -> bytes:
    return _varint((n << 1) ^ (n >> 63))


def _write_value(out: bytearray, t: int, v: Any) -> None:
    if t in (_BOOL_TRUE, _BOOL_FALSE):
        out.append(1 if v else 2)  # list element encoding
    elif t == _BYTE:
        out.append(v & 0xFF)
    elif t in (_I16, _I32, _I64):
        out += _zigzag(v)
    elif t == _DOUBLE:
        out += v
    elif t == _BINARY:
        out += _varint(len(v)) + v
    elif t in (_LIST, _SET):
        et, items = v
        out.append((len(items) << 4 | et) if len(items) < 15 else (0xF0 | et))
        if len(items) >= 15:
            out += _varint(len(items))
        for item in items:
            _write_value(out, et, item)
    elif t == _MAP:
        kt, vt, items = v
        out += _varint(len(items))
        if items:
            out.append(kt << 4 | vt)
            for k, val in items:
                _write_value(out, kt, k)
                _write_value(out, vt, val)
    elif t == _STRUCT:
        _write_struct(out, v)
    else:  # pragma: no cover - _read_value never produces another type
        raise ThriftError(f"unknown Thrift type {t}")


def _write_struct(out: bytearray, fields: list[tuple[int, int, Any]]) -> None:
    last = 0
    for fid, t, v in fields:
        wire_t = (_BOOL_TRUE if v else _BOOL_FALSE) if t in (_BOOL_TRUE, _BOOL_FALSE) else t
        if 0 < fid - last <= 15:
            out.append((fid - last) << 4 | wire_t)
        else:
            out.append(wire_t)
            out += _zigzag(fid)
        if t not in (_BOOL_TRUE, _BOOL_FALSE):
            _write_value(out, t, v)
        last = fid
    out.append(0)


def decode(data: bytes) -> list[tuple[int, int, Any]]:
    """A Thrift compact struct as nested ``(field id, type, value)`` lists."""
    r = _Reader(data)
    fields = _read_struct(r)
    if r.pos != len(data):
        raise ThriftError(f"{len(data) - r.pos} bytes after the end of the Thrift struct")
    return fields


def encode(fields: list[tuple[int, int, Any]]) -> bytes:
    out = bytearray()
    _write_struct(out, fields)
    return bytes(out)


# --------------------------------------------------------------------------- offsets and the block
def _shift_fields(fields: list, wanted: set[int], delta: int) -> list:
    return [(fid, t, v + delta if fid in wanted and t == _I64 else v) for fid, t, v in fields]


def shift_offsets(footer: bytes, delta: int) -> bytes:
    """``footer`` (a Thrift ``FileMetaData``) with every absolute file offset moved by ``delta``."""
    meta = decode(footer)
    out = []
    for fid, t, v in meta:
        if fid == 4 and t == _LIST:  # row_groups
            et, groups = v
            new_groups = []
            for group in groups:
                group = _shift_fields(group, _ROW_GROUP_OFFSETS, delta)
                new_group = []
                for gfid, gt, gv in group:
                    if gfid == 1 and gt == _LIST:  # columns
                        cet, chunks = gv
                        new_chunks = []
                        for chunk in chunks:
                            chunk = _shift_fields(chunk, _CHUNK_OFFSETS, delta)
                            chunk = [(cfid, ct, _shift_fields(cv, _META_OFFSETS, delta) if cfid == 3 and ct == _STRUCT
                                      else cv) for cfid, ct, cv in chunk]
                            new_chunks.append(chunk)
                        gv = (cet, new_chunks)
                    new_group.append((gfid, gt, gv))
                new_groups.append(new_group)
            v = (et, new_groups)
        out.append((fid, t, v))
    return encode(out)


def split_footer(data: bytes) -> bytes:
    """The footer bytes of a whole Parquet file (``ThriftError`` if the tail is not a Parquet tail)."""
    if len(data) < 12 or data[-4:] != PARQUET_MAGIC:
        raise ThriftError("no Parquet footer at the end of the file")
    n = int.from_bytes(data[-8:-4], "little")
    if n <= 0 or n > len(data) - 12:
        raise ThriftError("Parquet footer length out of range")
    return data[-8 - n:-8]


def with_footer_copy(parquet: bytes) -> bytes:
    """``parquet`` (a whole file from pyarrow) rewritten with the footer-copy block after ``PAR1``."""
    return b"".join(footer_copy_parts(parquet))


def footer_copy_parts(parquet: bytes | memoryview) -> list[bytes | memoryview]:
    """The pieces of :func:`with_footer_copy`'s output, in order; the column chunks are a view of
    ``parquet`` (written piece by piece, a large file is never copied whole)."""
    parquet = memoryview(parquet)
    if parquet[:4] != PARQUET_MAGIC:
        raise ThriftError("not a Parquet file")
    footer = bytes(split_footer(parquet))  # type: ignore[arg-type]
    body = parquet[4:len(parquet) - 8 - len(footer)]
    head, tail = footer_copy_frame(footer)
    return [*head, body, *tail]


def footer_copy_frame(footer: bytes) -> tuple[list[bytes], list[bytes]]:
    """What goes before and after the body (the bytes between ``PAR1`` and the footer) of a
    Parquet file whose footer is ``footer``, in :func:`with_footer_copy`'s output. Lets a
    large file be rewritten from disk piece by piece (the body is never held whole)."""
    size = BLOCK_ALIGN * (1 + (HEADER.size + len(footer) + 64) // BLOCK_ALIGN)
    while True:
        shifted = shift_offsets(footer, size)
        if HEADER.size + len(shifted) <= size:
            break
        size += BLOCK_ALIGN  # pragma: no cover - varints grew past the slack
    block = HEADER.pack(BLOCK_MAGIC, len(shifted), zlib.crc32(shifted)) + shifted
    block += b"\0" * (size - len(block))
    return [PARQUET_MAGIC, block], [shifted, len(shifted).to_bytes(4, "little"), PARQUET_MAGIC]


def read_block(head: bytes) -> tuple[bytes | None, int | None, str | None]:
    """``(footer copy, stored crc32, problem)`` from the first bytes of a file.

    ``(None, None, None)``: the file has no block (written before footer copies existed).
    A copy whose crc32 does not match is returned with a ``problem`` text.
    """
    start = len(PARQUET_MAGIC)
    if len(head) < start + HEADER.size or head[start:start + len(BLOCK_MAGIC)] != BLOCK_MAGIC:
        return None, None, None
    _, n, crc = HEADER.unpack_from(head, start)
    body = head[start + HEADER.size:start + HEADER.size + n]
    if len(body) != n:
        return None, crc, "footer copy runs past the end of the file"
    if zlib.crc32(body) != crc:
        return body, crc, "footer copy fails its crc32"
    return body, crc, None


def page_problem(chunk: bytes | memoryview) -> str | None:
    """Walk the pages of one column chunk (``PageHeader`` then page bytes, to the end) and check
    each page's crc32 without decompressing it; the first problem found, or ``None``.

    A page header that does not parse, a page running past the chunk or a crc32 mismatch is a
    problem. Pages without a crc (written without checksums) pass."""
    data = bytes(chunk)
    pos, n = 0, len(data)
    while pos < n:
        try:
            size, crc, pos = _page_header(data, pos)
        except (ThriftError, IndexError) as exc:
            return f"unreadable page header ({exc or 'cut off'})"
        if size is None or size < 0:
            return "page header without a page size"
        end = pos + size
        if end > n:
            return "a page runs past the end of its column chunk"
        if crc is not None and zlib.crc32(data[pos:end]) != crc & 0xFFFFFFFF:
            return "a page fails its crc32"
        pos = end
    return None


def _varint_at(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ThriftError("varint too long")


def _skip_value(data: bytes, pos: int, t: int, depth: int) -> int:
    """The position after one compact-protocol value of type ``t`` (nothing is built)."""
    if depth > 32:
        raise ThriftError("Thrift nesting too deep")
    if t in (_BOOL_TRUE, _BOOL_FALSE, _BYTE):
        return pos + 1
    if t in (_I16, _I32, _I64):
        return _varint_at(data, pos)[1]
    if t == _DOUBLE:
        return pos + 8
    if t == _BINARY:
        n, pos = _varint_at(data, pos)
        return pos + n
    if t in (_LIST, _SET):
        head = data[pos]
        pos += 1
        size, et = head >> 4, head & 0x0F
        if size == 15:
            size, pos = _varint_at(data, pos)
        if size > len(data):
            raise ThriftError("Thrift list larger than its data")
        for _ in range(size):
            pos = _skip_value(data, pos, et, depth + 1)
        return pos
    if t == _MAP:
        size, pos = _varint_at(data, pos)
        if size:
            kv = data[pos]
            pos += 1
            for _ in range(size):
                pos = _skip_value(data, pos, kv >> 4, depth + 1)
                pos = _skip_value(data, pos, kv & 0x0F, depth + 1)
        return pos
    if t == _STRUCT:
        while True:
            head = data[pos]
            pos += 1
            if head == 0:
                return pos
            if not head >> 4:
                pos = _varint_at(data, pos)[1]
            ft = head & 0x0F
            if ft not in (_BOOL_TRUE, _BOOL_FALSE):
                pos = _skip_value(data, pos, ft, depth + 1)
    raise ThriftError(f"unknown Thrift type {t}")


def _page_header(data: bytes, pos: int) -> tuple[int | None, int | None, int]:
    """``(compressed_page_size, crc, position after the header)`` of the ``PageHeader`` at ``pos``."""
    size = crc = None
    last = 0
    while True:
        head = data[pos]
        pos += 1
        if head == 0:
            return size, crc, pos
        delta, t = head >> 4, head & 0x0F
        if delta:
            fid = last + delta
        else:
            raw, pos = _varint_at(data, pos)
            fid = (raw >> 1) ^ -(raw & 1)
        last = fid
        if t == _I32 and fid in (3, 4):
            raw, pos = _varint_at(data, pos)
            value = (raw >> 1) ^ -(raw & 1)
            if fid == 3:
                size = value
            else:
                crc = value
        elif t not in (_BOOL_TRUE, _BOOL_FALSE):
            pos = _skip_value(data, pos, t, 1)


def parquet_tail(footer: bytes) -> bytes:
    """A minimal Parquet byte string around ``footer`` (for ``pyarrow.parquet.read_metadata``)."""
    return PARQUET_MAGIC + footer + len(footer).to_bytes(4, "little") + PARQUET_MAGIC


__all__ = ["BLOCK_MAGIC", "ThriftError", "decode", "encode", "footer_copy_frame", "footer_copy_parts", "page_problem",
           "parquet_tail",            "read_block", "shift_offsets", "split_footer", "with_footer_copy"]
