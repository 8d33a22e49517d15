"""The zdte recording format: a journal of one long Arrow table while recording, Parquet
laid out for its reader once finalized.

A recording is ONE file. While a recorder runs it is an Arrow IPC *stream* (appended and
flushed every ``flush_seconds``, so a killed recorder leaves every flushed batch readable);
a clean close converts it in place to Parquet (temp file + ``os.replace``, so a finalized
file is never half written). Readers tell the two apart by their magic bytes.

The journal (and the whole of a format-1 Parquet file) is one long table: every row has the
same columns (:data:`SCHEMA`); ``kind`` says which ones are meaningful:

============  ======================================================================
kind          meaning of the columns (unused ones are 0 / NaN / empty)
============  ======================================================================
SPOT          ts_ns, sym, price
QUOTE         ts_ns, sym, contract, bid, ask, bid_size, ask_size
TRADE         ts_ns, sym, contract, price, size, exchange
CLOCK         one per recorded EventBatch: ts_ns = batch end_ns, aux = start_ns
DEFINITION    ts_ns = writer clock, sym, payload = ChainDefinition as JSON
STATUS        ts_ns, sym (-1 = None), aux = count, payload = JSON {kind, feed, message}
RESET         ts_ns (a SessionReset was recorded)
SYMBOL        sym = code, payload = underlying name (utf-8); written before first use
NOTE          payload = free-form note (utf-8)
TRUTH         sym, payload = name NUL .npy bytes (simulator truth, never fed to the engine)
============  ======================================================================

Rows are in write order; within one (sym, kind) they are in time order, so the reader
groups with one stable sort on ``sym * 16 + kind`` and never loops per row.

A format-2 Parquet file (:data:`FORMAT_VERSION`) holds the same rows grouped: every row group
holds one (sym, kind) in time order (:data:`SCHEMA_V2`, no ``sym``/``kind`` columns: the
row-group index ``zdte.row_groups`` in the footer says which), cut at 30-minute ET blocks, and
a reader decodes only the kind's own columns (:data:`KIND_COLUMNS`). See
:mod:`zdte_tui.store.layout`.
Schema-level metadata (``zdte.*`` keys, utf-8 JSON values) is described in
``docs/recording-format.md``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from zdte_tui.market.events import ChainDefinition, FeedStatus, VolContext

FORMAT_NAME = "zdte-recording"
FORMAT_VERSION = 2  # 2: Parquet grouped by (sym, kind) and time (1: one long table in write order)

KIND_SPOT = 0
KIND_QUOTE = 1
KIND_TRADE = 2
KIND_CLOCK = 3
KIND_DEFINITION = 4
KIND_STATUS = 5
KIND_RESET = 6
KIND_SYMBOL = 7
KIND_NOTE = 8
KIND_TRUTH = 9
KIND_VOL = 10   # a VolContext event (JSON payload)
KIND_NAMES = {KIND_SPOT: "spot", KIND_QUOTE: "quote", KIND_TRADE: "trade", KIND_CLOCK: "batch bound",
              KIND_DEFINITION: "definition", KIND_STATUS: "status", KIND_RESET: "reset", KIND_SYMBOL: "symbol",
              KIND_NOTE: "note", KIND_TRUTH: "truth", KIND_VOL: "vol context"}
N_KINDS = 16  # group key = sym * N_KINDS + kind
NO_SYMBOL = -1

SCHEMA = pa.schema([
    pa.field("ts_ns", pa.int64(), nullable=False),
    pa.field("kind", pa.int8(), nullable=False),
    pa.field("sym", pa.int16(), nullable=False),
    pa.field("contract", pa.int32(), nullable=False),
    pa.field("price", pa.float64(), nullable=False),
    pa.field("bid", pa.float64(), nullable=False),
    pa.field("ask", pa.float64(), nullable=False),
    pa.field("bid_size", pa.int32(), nullable=False),
    pa.field("ask_size", pa.int32(), nullable=False),
    pa.field("size", pa.int32(), nullable=False),
    pa.field("exchange", pa.int16(), nullable=False),
    pa.field("aux", pa.int64(), nullable=False),
    pa.field("payload", pa.binary(), nullable=False),
])
COLUMN_DTYPES: dict[str, np.dtype] = {
    f.name: np.dtype(f.type.to_pandas_dtype()) for f in SCHEMA if f.name != "payload"
}
COLUMN_FILL: dict[str, object] = {
    "ts_ns": 0, "kind": 0, "sym": NO_SYMBOL, "contract": -1, "price": np.nan, "bid": np.nan,
    "ask": np.nan, "bid_size": 0, "ask_size": 0, "size": 0, "exchange": 0, "aux": 0,
}

# Format 2: the finalized Parquet file. Row groups hold one (sym, kind) each; a kind's own columns
# are filled, the others are null (and never read).
SCHEMA_V2 = pa.schema([pa.field(f.name, f.type, nullable=True) for f in SCHEMA
                       if f.name not in ("kind", "sym")])
KIND_COLUMNS: dict[int, tuple[str, ...]] = {
    KIND_SPOT: ("ts_ns", "price"),
    KIND_QUOTE: ("ts_ns", "contract", "bid", "ask", "bid_size", "ask_size"),
    KIND_TRADE: ("ts_ns", "contract", "price", "size", "exchange"),
    KIND_CLOCK: ("ts_ns", "aux"),
    KIND_DEFINITION: ("ts_ns", "payload"),
    KIND_STATUS: ("ts_ns", "aux", "payload"),
    KIND_RESET: ("ts_ns",),
    KIND_SYMBOL: ("payload",),
    KIND_NOTE: ("payload",),
    KIND_TRUTH: ("payload",),
    KIND_VOL: ("ts_ns", "payload"),
}

PARQUET_MAGIC = b"PAR1"
IPC_STREAM_MAGIC = b"\xff\xff\xff\xff"  # continuation marker opening every IPC message

META_PREFIX = "zdte."
TRUTH_NAME_SEPARATOR = b"\x00"


class RecordingError(Exception):
    """A recording cannot be read or written; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True)
class RecordingMetadata:
    """Schema-level facts about a recording (``zdte.*`` keys of the Arrow schema metadata).

    ``definitions`` (the settled-OI snapshot) is only in the metadata of a finalized file;
    the reader always rebuilds definitions from the DEFINITION rows, which both forms hold.
    """

    source: str
    simulated: bool
    session_date: dt.date | None
    symbols: tuple[str, ...]
    zdte_version: str
    format_version: int
    notes: tuple[str, ...] = ()
    finalized: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    # Format 2 only: ``row_groups`` (the row-group index, one [sym, kind, rows, first_ts, last_ts]
    # per row group in file order), ``skipped`` (rows the finalizer dropped, one message each),
    # ``skipped_rows`` and ``resets`` (SessionResets applied when finalizing).
    layout: dict[str, object] = field(default_factory=dict)

    def to_arrow(self, definitions: list[ChainDefinition] | None = None) -> dict[bytes, bytes]:
        """Encode as Arrow key/value metadata (JSON values, sorted keys: deterministic)."""
        values: dict[str, object] = {
            "format": FORMAT_NAME,
            "format_version": self.format_version,
            "source": self.source,
            "simulated": self.simulated,
            "session_date": self.session_date.isoformat() if self.session_date else None,
            "symbols": list(self.symbols),
            "zdte_version": self.zdte_version,
            "notes": list(self.notes),
            "finalized": self.finalized,
        }
        for key, value in self.extra.items():
            values[f"extra.{key}"] = value
        if definitions is not None:
            values["definitions"] = [definition_to_dict(d) for d in definitions]
        for layout_key, layout_value in self.layout.items():
            values[layout_key] = layout_value
        out = {
            (META_PREFIX + k).encode(): json.dumps(v, sort_keys=True, separators=(",", ":")).encode()
            for k, v in sorted(values.items())
        }
        out[CHECKSUM_KEY] = str(metadata_crc(out)).encode()
        return out

    @classmethod
    def from_arrow(cls, raw: dict[bytes, bytes] | None, path: str | Path) -> RecordingMetadata:
        """Decode ``zdte.*`` schema metadata; raises :class:`RecordingError` if it is not ours."""
        raw = raw or {}
        stored = raw.get(CHECKSUM_KEY)
        if stored is not None and stored != str(metadata_crc(raw)).encode():
            raise RecordingError(path, "recording metadata fails its checksum (the file is damaged)")
        values: dict[str, object] = {}
        for k, v in raw.items():
            key = k.decode("utf-8", "replace")
            if key.startswith(META_PREFIX):
                try:
                    values[key[len(META_PREFIX):]] = json.loads(v)
                except ValueError as exc:
                    raise RecordingError(path, f"metadata key {key!r} is not valid JSON ({exc})") from None
        if values.get("format") != FORMAT_NAME:
            raise RecordingError(path, "not a zdte recording (no 'zdte.format' metadata)")
        version = int(str(values.get("format_version", 0)))
        if version > FORMAT_VERSION:
            raise RecordingError(
                path, f"recording format version {version} is newer than this zdte reads ({FORMAT_VERSION})")
        session = values.get("session_date")
        return cls(
            source=str(values.get("source", "")),
            simulated=bool(values.get("simulated", False)),
            session_date=dt.date.fromisoformat(session) if isinstance(session, str) else None,
            symbols=tuple(values.get("symbols", ())),  # type: ignore[arg-type]
            zdte_version=str(values.get("zdte_version", "")),
            format_version=version,
            notes=tuple(values.get("notes", ())),  # type: ignore[arg-type]
            finalized=bool(values.get("finalized", False)),
            extra={k[len("extra."):]: str(v) for k, v in values.items() if k.startswith("extra.")},
            layout={k: values[k] for k in LAYOUT_KEYS if k in values},
        )


LAYOUT_KEYS = ("row_groups", "skipped", "skipped_rows", "resets")
CHECKSUM_KEY = (META_PREFIX + "checksum").encode()
BATCH_CRC_KEY = "zdte.crc32"


def batch_crc(batch: pa.RecordBatch) -> int:
    """crc32 of an IPC record batch's serialized body (the journal stores it with each batch)."""
    return zlib.crc32(batch.serialize())


def metadata_crc(raw: dict[bytes, bytes]) -> int:
    """crc32 over the sorted ``zdte.*`` key/value pairs other than the checksum itself."""
    crc = 0
    for key in sorted(k for k in raw if k.startswith(META_PREFIX.encode()) and k != CHECKSUM_KEY):
        crc = zlib.crc32(raw[key], zlib.crc32(key + b"=", crc))
        crc = zlib.crc32(b"\n", crc)
    return crc


# ---------------------------------------------------------------- payload encodings

def definition_to_dict(d: ChainDefinition) -> dict[str, object]:
    """JSON-ready dict of a ChainDefinition; floats round-trip exactly (shortest repr)."""
    return {
        "underlying": d.underlying,
        "expiry": d.expiry.isoformat(),
        "strikes": [float(x) for x in d.strikes],
        "is_call": [bool(x) for x in d.is_call],
        "settled_oi": [int(x) for x in d.settled_oi],
        "occ_symbols": list(d.occ_symbols),
        "multiplier": int(d.multiplier),
        "prev_close": None if d.prev_close is None else float(d.prev_close),
        **({} if d.iv_time_ns is None else {"iv_time_ns": int(d.iv_time_ns)}),
        **({} if d.session_date is None else {"session_date": d.session_date.isoformat()}),
    }


def definition_from_dict(v: dict) -> ChainDefinition:
    return ChainDefinition(
        underlying=v["underlying"],
        expiry=dt.date.fromisoformat(v["expiry"]),
        strikes=np.asarray(v["strikes"], dtype=np.float64),
        is_call=np.asarray(v["is_call"], dtype=np.bool_),
        settled_oi=np.asarray(v["settled_oi"], dtype=np.int64),
        occ_symbols=tuple(v.get("occ_symbols", ())),
        multiplier=int(v.get("multiplier", 100)),
        prev_close=v.get("prev_close"),
        iv_time_ns=v.get("iv_time_ns"),
        session_date=dt.date.fromisoformat(v["session_date"]) if v.get("session_date") else None,
    )


def encode_definition(d: ChainDefinition) -> bytes:
    return json.dumps(definition_to_dict(d), separators=(",", ":")).encode()


def decode_definition(payload: bytes) -> ChainDefinition:
    return definition_from_dict(json.loads(payload))


def encode_status(s: FeedStatus) -> bytes:
    return json.dumps({"kind": s.kind, "feed": s.feed, "message": s.message},
                      sort_keys=True, separators=(",", ":")).encode()


def decode_status(payload: bytes, ts_ns: int, underlying: str | None, count: int) -> FeedStatus:
    v = json.loads(payload)
    return FeedStatus(kind=v["kind"], ts_ns=int(ts_ns), underlying=underlying, feed=v.get("feed"),
                      message=v.get("message", ""), count=int(count))


def encode_vol_context(v: VolContext) -> bytes:
    return json.dumps({"term_expiry": v.term_expiry.isoformat() if v.term_expiry else None,
                       "term_atm_iv": v.term_atm_iv, "vix": v.vix, "origin": v.origin},
                      sort_keys=True, separators=(",", ":")).encode()


def decode_vol_context(payload: bytes, ts_ns: int, underlying: str) -> VolContext:
    v = json.loads(payload)
    te = v.get("term_expiry")
    return VolContext(underlying=underlying, ts_ns=int(ts_ns), term_expiry=dt.date.fromisoformat(te) if te else None,
                      term_atm_iv=v.get("term_atm_iv"), vix=v.get("vix"), origin=v.get("origin") or "")


def encode_truth_array(name: str, values: np.ndarray) -> bytes:
    """``name NUL .npy`` (numpy's own format: dtype, shape and bytes, deterministic)."""
    if "\x00" in name:
        raise ValueError("truth array names cannot contain NUL")
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(values), allow_pickle=False)
    return name.encode() + TRUTH_NAME_SEPARATOR + buf.getvalue()


def decode_truth_array(payload: bytes) -> tuple[str, np.ndarray]:
    name, _, npy = payload.partition(TRUTH_NAME_SEPARATOR)
    return name.decode(), np.lib.format.read_array(io.BytesIO(npy), allow_pickle=False)


def column_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A null-free fixed-width column as numpy without copying and without pandas.

    pyarrow's ``to_numpy`` imports pandas (+0.15-0.5 s on first use); a single null-free chunk
    is viewed straight from its Arrow data buffer (zero-copy). Several chunks are concatenated
    (one copy). Raises ``ValueError`` on nulls or a non-numeric type."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for chunk in chunks:
        if chunk.null_count or not pa.types.is_primitive(chunk.type) or pa.types.is_boolean(chunk.type):
            raise ValueError(f"column of type {chunk.type} with {chunk.null_count} nulls is not a plain array")
        dtype = np.dtype(chunk.type.to_pandas_dtype())
        parts.append(np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk),
                                   offset=chunk.offset * dtype.itemsize))
    if not parts:
        return np.empty(0, dtype=np.dtype(column.type.to_pandas_dtype()))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def binary_pylist(column: pa.ChunkedArray | pa.Array) -> list[bytes]:
    """A binary column as a list of ``bytes`` (no pandas)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out: list[bytes] = []
    for chunk in chunks:
        if chunk.null_count:
            raise ValueError("payload column has nulls")
        out.extend(chunk.to_pylist())
    return out


def sniff_format(path: str | Path) -> str:
    """``"parquet"`` or ``"ipc_stream"`` from the first bytes; raises RecordingError otherwise."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise RecordingError(p, "no such file") from None
    except IsADirectoryError:
        raise RecordingError(p, "is a directory, not a recording") from None
    except OSError as exc:
        raise RecordingError(p, f"cannot open ({exc.strerror or exc})") from None
    if not head:
        raise RecordingError(p, "empty file (the recorder stopped before its first flush?)")
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(IPC_STREAM_MAGIC):
        return "ipc_stream"
    raise RecordingError(
        p, f"not a zdte recording: unknown magic bytes {head[:4]!r} (expected Parquet 'PAR1' "
           "or an Arrow IPC stream)")
