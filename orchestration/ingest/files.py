"""Reading one landing file into the raw contract's shape, the same way for DuckDB and Spark.

The landing folder's files (``list_files``, ``file_is_due``), a file read as text columns
(``read_file``: CSV in UTF-8 or CP932, malformed lines kept without personal text, Parquet through
pyarrow) and put into the contract's columns (``conform``). orchestration/ingest/load.py loads the
result into DuckDB, orchestration/ingest/spark.py into Spark.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.contract import CONTRACT_COLUMNS, FILE_SUFFIXES

BOM = "\ufeff"


class UnreadableFile(ValueError):
    """The file cannot be read at all; the message says why."""


@dataclass
class MalformedLine:
    """A CSV line that could not be split into the header's fields, as the warehouse keeps it:
    ``text`` is the raw line, or only its line number and length when the file holds personal
    data; ``fields`` are the columns that can be told apart safely (see ``malformed_line``)."""

    text: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class ReadResult:
    table: pa.Table  # good rows, every column as read (text for CSV)
    malformed: list[MalformedLine]  # CSV lines that could not be split into fields
    encoding: str | None  # utf-8 / utf-8-sig / cp932 for CSV, None for Parquet


def normalise_name(name: str) -> str:
    return name.lstrip(BOM).strip().lower()


def malformed_line(names: list[str], text: str, number: int | None) -> MalformedLine:
    """What the warehouse keeps of a malformed CSV line of a file with header ``names``.

    When every column of the header is a contract column that cannot hold personal data: the raw
    text. Otherwise (a personal column, or one the contract does not name: a phone number, an
    address) the text is never kept (a line whose fields cannot be told apart may put any value in
    any position): only the line number, its length and field count, and the fields of contract
    columns that no shift can have filled with another column's value: those before the first such
    column, and, when fields are missing (a field dropped anywhere shifts later ones left), only
    those at least that many positions before it."""
    columns = [normalise_name(n) for n in names]
    unsafe = [i for i, c in enumerate(columns) if c not in CONTRACT_COLUMNS]  # personal or not the contract's
    if not unsafe:
        return MalformedLine(text)
    fields = next(csv.reader(io.StringIO(text)), [])
    missing = max(0, len(columns) - len(fields))
    safe = {columns[i]: fields[i].lstrip(BOM) for i in range(min(len(fields), len(columns))) if i + missing < unsafe[0]}
    where = f"line {number}: " if number else ""
    return MalformedLine(
        f"{where}{len(text)} characters, {len(fields)} fields for {len(columns)} columns "
        "(text not kept: the file has columns that may hold personal data)",
        safe,
    )


# CSV text is UTF-8 (with a BOM, which is dropped, or without), else CP932 (Shift_JIS as Japanese
# platforms and Excel write it), tried in this order
def _encodings(starts_with_bom: bool) -> list[str]:
    return ["utf-8-sig", "utf-8", "cp932"] if starts_with_bom else ["utf-8", "cp932"]


def _not_text(utf8_offset: int) -> UnreadableFile:
    return UnreadableFile(
        f"the text is neither UTF-8 nor CP932/Shift_JIS (first bad byte at offset {utf8_offset}); save it as UTF-8 CSV"
    )


def decode_text(raw: bytes) -> tuple[str, str]:
    """CSV text held in memory, decoded by the encodings' rule: (text, encoding)."""
    utf8_offset = 0
    for encoding in _encodings(raw.startswith(BOM.encode())):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            utf8_offset = exc.start if encoding == "utf-8" else utf8_offset
    raise _not_text(utf8_offset)


CSV_BLOCK_BYTES = 16 << 20  # bytes of a CSV file decoded or parsed at a time


def csv_encoding(path: Path) -> str:
    """A CSV file's encoding by the encodings' rule, decoding it block by block (never whole)."""
    import codecs

    with path.open("rb") as fh:
        starts_with_bom = fh.read(len(BOM.encode())) == BOM.encode()
        utf8_offset = 0
        for encoding in _encodings(starts_with_bom):
            fh.seek(0)
            decoder, offset = codecs.getincrementaldecoder(encoding)(), 0
            try:
                while block := fh.read(CSV_BLOCK_BYTES):
                    decoder.decode(block)
                    offset += len(block)
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError as exc:
                # the offset in the file: the block's start, less the bytes the decoder still held
                held = len(decoder.getstate()[0]) if encoding == "utf-8" else 0
                utf8_offset = offset - held + exc.start if encoding == "utf-8" else utf8_offset
    raise _not_text(utf8_offset)


@dataclass
class CsvRows:
    """A CSV file read block by block: ``batches`` yields its good rows (every column as text, the
    header's names) a block at a time; ``malformed`` fills with the lines that cannot be split into
    the header's fields as the batches are read."""

    names: list[str]
    encoding: str
    batches: Iterator[pa.RecordBatch]
    malformed: list[MalformedLine]


def open_csv_rows(path: Path, required: list[str]) -> CsvRows:
    encoding = csv_encoding(path)
    with path.open(encoding=encoding, newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header or not any(h.strip() for h in header):
        raise UnreadableFile("the CSV file has no header row")
    names = [h.strip() for h in header]
    if required and not {n.lower() for n in names} & set(required):
        raise UnreadableFile(
            f"the header has none of the contract's required columns ({', '.join(required)}); "
            f"it reads as {names[:3]}: is the file comma-separated, with a header row?"
        )
    malformed: list[MalformedLine] = []

    def on_invalid(row) -> str:
        malformed.append(malformed_line(names, row.text, row.number))
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=names,
            skip_rows=1,
            block_size=CSV_BLOCK_BYTES,
            encoding="utf8" if encoding == "utf-8" else encoding,
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names}, strings_can_be_null=False
        ),
    )
    return CsvRows(names, encoding, iter(reader), malformed)


def _read_csv(path: Path, required: list[str]) -> ReadResult:
    rows = open_csv_rows(path, required)
    schema = pa.schema([(name, pa.string()) for name in rows.names])
    table = pa.Table.from_batches(list(rows.batches), schema=schema)
    return ReadResult(table, rows.malformed, rows.encoding)


def read_file(path: Path, required: list[str] | None = None) -> ReadResult:
    """Read a landing file (CSV with every column as text, or Parquet as typed); column names
    lower-cased and trimmed."""
    if path.suffix.lower() == ".parquet":
        try:
            result = ReadResult(pq.read_table(path), [], None)
        except (pa.ArrowException, OSError) as exc:
            raise UnreadableFile(f"not a readable Parquet file ({str(exc).splitlines()[0][:200]})") from None
    else:
        result = _read_csv(path, required or [])
    table = result.table
    result.table = table.rename_columns([normalise_name(name) for name in table.column_names])
    return result


def _to_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        # a leading byte-order mark is never data (a concatenated export has one inside the file)
        return pc.utf8_ltrim(column.cast(pa.string()), characters=BOM)
    if pa.types.is_timestamp(kind):
        # ISO text; a zone-aware timestamp keeps its instant (written in UTC with 'Z'), a naive one
        # stays naive and is read in the business time zone by staging.
        fmt = "%Y-%m-%dT%H:%M:%S" if kind.tz is None else "%Y-%m-%dT%H:%M:%SZ"  # %S has the fraction
        if kind.tz is not None:
            column = column.cast(pa.timestamp(kind.unit, "UTC"))
        return pc.strftime(column, format=fmt)
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    return column.cast(pa.string())


def conform(read: ReadResult | pa.Table, columns: list[str], rel_path: str, first_row: int = 1) -> pa.Table:
    """The raw table's shape: contract columns as text, lineage columns, and one row per malformed
    CSV line (the columns ``malformed_line`` keeps, the others null; its text or description in
    ``_malformed_line``) after the good rows. Rows are numbered from ``first_row`` (a part of a
    file read block by block)."""
    if isinstance(read, pa.Table):
        read = ReadResult(read, [], None)
    table, n_bad = read.table, len(read.malformed)
    n = table.num_rows
    arrays = {}
    for name in columns:
        good = _to_text(table.column(name)) if name in table.column_names else pa.nulls(n, pa.string())
        bad = pa.array([line.fields.get(name) for line in read.malformed], pa.string())
        arrays[name] = (
            pa.concat_arrays([a.cast(pa.string()) for a in pa.chunked_array(good).chunks] + [bad]) if n_bad else good
        )
    arrays["_malformed_line"] = pa.array([None] * n + [line.text for line in read.malformed], pa.string())
    arrays["_source_file"] = pa.array([rel_path] * (n + n_bad), pa.string())
    arrays["_row_number"] = pa.array(range(first_row, first_row + n + n_bad), pa.int64())
    return pa.table(arrays)


def list_files(folder: Path) -> list[Path]:
    """The landing files of one table: ``*.csv`` / ``*.parquet`` (any case) directly in its folder;
    sub-folders (an ``archive/``) and hidden files (``.DS_Store``, ``._*``) are not read."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FILE_SUFFIXES
    )


_DATED = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?")


def file_day(path: Path) -> date | None:
    """The day a landing file is named for (``2025-06-01...``; ``2025-06...`` is the 1st), or None."""
    match = _DATED.match(path.name)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3] or 1))
    except ValueError:
        return None


def file_is_due(path: Path, up_to: date | None) -> bool:
    """A file named by a day (2025-06-01...) or month (2025-06...) is due once that day / month has
    begun by ``up_to``; a file with any other name is always due."""
    day = file_day(path)
    return up_to is None or day is None or day <= up_to
