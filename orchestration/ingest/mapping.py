"""A shop's own exports mapped to the raw contract by a mapping file, not by code (docs/mapping.md).

A source (``sources:`` in the shop's settings) is a folder of exports (a Shopify admin export, the
GA4 BigQuery export, a Japanese cart's CSV) and a mapping: a shipped preset
(``orchestration/ingest/presets/*.yml``) or the shop's own YAML. A mapping names, per kind of file,
which files (glob), their encoding and time zone, and for each contract table which source column
or expression feeds each contract column. The expressions are a closed list (``EXPRESSIONS``).

``map_sources`` runs before ingest: each new source file becomes one contract-shaped CSV per table
in the landing folder (``<table>/<source>__<kind>__<file>.csv``), so the landing gate, quarantine
and reconciliation see it as any landing file. What a mapping cannot place goes on to the contract
and is quarantined there with its reason: a date that does not match its format stays as written
(``unparseable``), a missing required value stays empty (``missing``), and a source line that cannot
be split into fields is written as one malformed line (``malformed csv line``, with its line number
and shape; never its text, which may hold the personal data of any column of the export). A
file whose mapping is wrong (a column it does not have, a value no value map covers) is not mapped
at all: one line names the file, the column and the fix, and it is tried again on the next run.

A file is mapped once: ``landing/.mapped.json`` keeps its checksum, the rows read and the rows
written per table (source file -> landing rows; the load log and the quarantine reconcile the rest).
A file whose content changed after it was mapped is reported, never mapped again (as a landing file).
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import yaml

from orchestration.contract import CONTRACT, MAPPED_SOURCE_COLUMNS, TABLE_COLUMNS
from orchestration.ingest.files import decode_text

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
MANIFEST = ".mapped.json"
ENCODINGS = ("auto", "utf-8", "utf-8-sig", "shift_jis", "cp932")
FILE_KEYS = ("glob", "format", "encoding", "timezone", "tables")
TABLE_KEYS = ("group_by", "columns")
# The closed list of expressions: {name: the keys it takes besides its own}. A plain string is a
# column of the file (``a.b``, ``list[0]`` and ``params[key]`` reach into nested JSON / Parquet).
EXPRESSIONS = {
    "column": (),
    "constant": (),
    "concat": ("sep", "skip_empty"),
    "split": ("sep", "index"),
    "date": ("format",),
    "microseconds": (),
    "first_of": (),
    "if_set": ("then", "else"),
    "row_in_group": (),
    "lookup": ("match", "by", "take", "pick", "missing"),
}
COMMON_KEYS = ("values", "other")
OTHER = ("error", "keep", "skip")
SAMPLE_ROWS = 3
_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[([^\]]*)\]")


class MappingError(ValueError):
    """A mapping that cannot be used; the message names the key and what is allowed."""


# --------------------------------------------------------------------------------------------
# Reading and checking a mapping


def presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yml"))


def load_mapping(entry: dict, key: str, base: Path) -> dict:
    """The mapping of a source entry of the settings (``preset``, ``mapping`` file or inline
    ``files``), checked; SettingsError-style message naming ``key`` on error."""
    given = [k for k in ("preset", "mapping", "files") if k in entry]
    if len(given) != 1:
        raise MappingError(
            f"{key}: give exactly one of preset ({', '.join(presets())}), mapping (a YAML file) or files"
        )
    if "preset" in entry:
        name = entry["preset"]
        if name not in presets():
            raise MappingError(f"{key}.preset: unknown preset {name!r}; shipped: {', '.join(presets())}")
        path = PRESETS_DIR / f"{name}.yml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    elif "mapping" in entry:
        path = Path(str(entry["mapping"])).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise MappingError(f"{key}.mapping: file {path} does not exist")
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise MappingError(f"{key}.mapping: {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    else:
        doc = {"files": entry["files"]}
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict) or not doc["files"]:
        raise MappingError(f"{key}: the mapping must have files: a mapping of kinds of file to their tables")
    unknown = [k for k in doc if k != "files"]
    if unknown:
        raise MappingError(f"{key}: unknown key {unknown[0]!r} in the mapping; it has only files:")
    for option in ("encoding", "timezone"):  # the shop's override of the preset's
        if option in entry:
            for spec in doc["files"].values():
                if isinstance(spec, dict):
                    spec[option] = entry[option]
    check_mapping(doc, key)
    return doc


def check_mapping(doc: dict, key: str) -> None:
    kinds = doc["files"]
    for kind, spec in kinds.items():
        where = f"{key}.files.{kind}"
        if not isinstance(spec, dict):
            raise MappingError(f"{where}: must be a mapping with glob and tables")
        unknown = [k for k in spec if k not in FILE_KEYS]
        if unknown:
            raise MappingError(f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(FILE_KEYS)}")
        if not isinstance(spec.get("glob"), str) or not spec["glob"].strip():
            raise MappingError(f"{where}.glob: the file names to read, e.g. 'orders_export*.csv'")
        if spec.get("format", "csv") not in ("csv", "jsonl", "parquet"):
            raise MappingError(f"{where}.format: must be csv, jsonl or parquet, not {spec['format']!r}")
        if spec.get("encoding", "auto") not in ENCODINGS:
            raise MappingError(f"{where}.encoding: must be one of {', '.join(ENCODINGS)}, not {spec['encoding']!r}")
        if "timezone" in spec:
            try:
                ZoneInfo(str(spec["timezone"]))
            except Exception:  # noqa: BLE001 - any invalid zone name
                raise MappingError(
                    f"{where}.timezone: unknown time zone {spec['timezone']!r}; use an IANA name such as Asia/Tokyo"
                ) from None
        tables = spec.get("tables")
        if not isinstance(tables, dict) or not tables:
            raise MappingError(f"{where}.tables: a mapping of contract tables ({', '.join(TABLE_COLUMNS)})")
        for table, tspec in tables.items():
            twhere = f"{where}.tables.{table}"
            if table not in TABLE_COLUMNS:
                raise MappingError(f"{twhere}: not a contract table; one of {', '.join(TABLE_COLUMNS)}")
            if not isinstance(tspec, dict) or not isinstance(tspec.get("columns"), dict):
                raise MappingError(f"{twhere}.columns: a mapping of contract columns to source columns or expressions")
            unknown = [k for k in tspec if k not in TABLE_KEYS]
            if unknown:
                raise MappingError(f"{twhere}.{unknown[0]}: unknown key; allowed: {', '.join(TABLE_KEYS)}")
            if "group_by" in tspec:
                _check_expr(tspec["group_by"], f"{twhere}.group_by", kinds)
            for column, expr in tspec["columns"].items():
                if column not in TABLE_COLUMNS[table]:
                    raise MappingError(
                        f"{twhere}.columns.{column}: not a column of {table}; one of {', '.join(TABLE_COLUMNS[table])}"
                    )
                _check_expr(expr, f"{twhere}.columns.{column}", kinds)
            required = [c["name"] for c in CONTRACT[table]["columns"] if c.get("required")]
            missing = [c for c in required if c not in tspec["columns"]]
            if missing:
                raise MappingError(
                    f"{twhere}.columns: the required column {missing[0]} is not mapped; "
                    "map it to a source column or an expression (docs/mapping.md)"
                )


def _check_expr(expr: Any, where: str, kinds: dict) -> None:
    if isinstance(expr, str):
        if not expr.strip():
            raise MappingError(f"{where}: an empty column name")
        return
    if not isinstance(expr, dict):
        raise MappingError(f"{where}: a source column name or one expression ({', '.join(EXPRESSIONS)})")
    names = [k for k in expr if k in EXPRESSIONS]
    if len(names) != 1:
        raise MappingError(f"{where}: give exactly one expression of: {', '.join(EXPRESSIONS)}")
    name = names[0]
    allowed = (name, *EXPRESSIONS[name], *COMMON_KEYS)
    unknown = [k for k in expr if k not in allowed]
    if unknown:
        raise MappingError(f"{where}.{unknown[0]}: unknown key for {name}; allowed: {', '.join(allowed)}")
    arg = expr[name]
    if name in ("concat", "first_of"):
        if not isinstance(arg, list) or not arg:
            raise MappingError(f"{where}.{name}: a list of columns or expressions")
        for i, part in enumerate(arg):
            _check_expr(part, f"{where}.{name}[{i}]", kinds)
    elif name == "constant":
        if isinstance(arg, dict | list):
            raise MappingError(f"{where}.constant: one value")
    elif name == "if_set":
        _check_expr(arg, f"{where}.if_set", kinds)
        for part in ("then", "else"):
            if part in expr:
                _check_expr(expr[part], f"{where}.{part}", kinds)
        if "then" not in expr:
            raise MappingError(f"{where}.then: what the column is when {arg!r} is set")
    elif name == "lookup":
        if arg not in kinds:
            raise MappingError(
                f"{where}.lookup: {arg!r} is not a kind of file of this source; one of {', '.join(kinds)}"
            )
        for part in ("match", "by", "take"):
            if part not in expr:
                raise MappingError(f"{where}.{part}: lookup needs match (this file), by and take (the other file)")
            _check_expr(expr[part], f"{where}.{part}", kinds)
        if expr.get("pick", "first") not in ("first", "min", "max"):
            raise MappingError(f"{where}.pick: first, min or max, not {expr['pick']!r}")
        if expr.get("missing", "error") not in ("error", "empty"):
            raise MappingError(
                f"{where}.missing: what a value the other export does not have gives: error (the file is not "
                f"mapped) or empty, not {expr['missing']!r}"
            )
    elif name == "split":
        _check_expr(arg, f"{where}.split", kinds)
        if not isinstance(expr.get("index", 0), int):
            raise MappingError(f"{where}.index: a whole number (0 is the first part)")
    else:
        _check_expr(arg, f"{where}.{name}", kinds)
        if name == "date" and "format" in expr:
            formats = expr["format"] if isinstance(expr["format"], list) else [expr["format"]]
            if not all(isinstance(f, str) and "%" in f for f in formats):
                raise MappingError(f"{where}.format: a strptime format such as '%Y/%m/%d %H:%M' (or a list of them)")
    if "values" in expr and not isinstance(expr["values"], dict):
        raise MappingError(f"{where}.values: a mapping of source values to contract values")
    if expr.get("other", "error") not in OTHER:
        raise MappingError(
            f"{where}.other: what a value no value map covers does: error (the file is not mapped), keep or skip the row"
        )


# --------------------------------------------------------------------------------------------
# Reading source files


@dataclass
class SourceFile:
    rows: list[dict]  # normalised column name -> value (text for CSV, nested for JSON / Parquet)
    columns: set[str]  # the columns the file has (a JSON line may leave a column out)
    fixed_columns: bool  # CSV / Parquet: a column not in ``columns`` is an error
    malformed: list[tuple[int, str]]  # (line number, what it looked like) of lines that could not be read
    encoding: str | None


def _norm(name: str) -> str:
    return name.lstrip("\ufeff").strip().lower()


def _decode(raw: bytes, encoding: str) -> tuple[str, str]:
    if encoding == "auto":
        return decode_text(raw)
    codec = "cp932" if encoding == "shift_jis" else encoding  # CP932 is Shift_JIS as Windows writes it
    return raw.decode(codec), encoding


_NOT_KEPT = " (text not kept: an export may hold personal data; see the export at that line)"


def read_source(path: Path, fmt: str, encoding: str) -> SourceFile:
    if fmt == "parquet":
        table = pq.read_table(path)
        names = [_norm(n) for n in table.column_names]
        rows = [dict(zip(names, row.values(), strict=True)) for row in table.to_pylist()]
        return SourceFile(rows, set(names), True, [], None)
    text, used = _decode(path.read_bytes(), encoding)
    if fmt == "jsonl":
        rows, columns, malformed = [], set(), []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                malformed.append((number, f"not a JSON object{_NOT_KEPT}"))
                continue
            row = {_norm(k): v for k, v in record.items()}
            columns |= set(row)
            rows.append(row)
        return SourceFile(rows, columns, False, malformed, used)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None) or []
    names = [_norm(h) for h in header]
    rows, malformed = [], []
    start = reader.line_num
    for record in reader:
        if record and len(record) != len(names):
            malformed.append((start + 1, f"{len(record)} fields for {len(names)} columns{_NOT_KEPT}"))
        elif any(v.strip() for v in record):
            rows.append(dict(zip(names, record, strict=True)))
        start = reader.line_num
    return SourceFile(rows, set(names), True, malformed, used)


# --------------------------------------------------------------------------------------------
# Evaluating expressions


class SkipRow(Exception):
    """A value map sends the row to ``other: skip`` (a GA4 event type the contract has no use for)."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value).strip()


def _param_value(entry: Any) -> Any:
    """The value of a ``{key, value}`` entry (GA4 event_params: the first typed value set)."""
    value = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(value, dict):
        return next((v for v in value.values() if v is not None), None)
    return value


def resolve(row: dict, ref: str) -> tuple[bool, Any]:
    """(whether the file has the column, its value): ``ref`` is a column name, or a path into
    nested values: ``device.category``, ``items[0].item_id``, ``event_params[ga_session_id]``."""
    key = _norm(ref)
    if key in row:
        return True, row[key]
    head = re.match(r"[^.\[\]]+", ref.strip())
    if head is None or _norm(head[0]) not in row:
        return False, None
    value = row[_norm(head[0])]
    for step in _PATH_STEP.finditer(ref.strip()[head.end() :]):
        name, index = step[1], step[2]
        if value is None:
            break
        if name is not None:
            value = value.get(name) if isinstance(value, dict) else None
        elif index.isdigit():
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        elif isinstance(value, list):
            value = next((_param_value(e) for e in value if isinstance(e, dict) and e.get("key") == index), None)
        else:
            value = value.get(index) if isinstance(value, dict) else None
    return True, value


def roots(expr: Any) -> list[str]:
    """The source columns an expression reads in its own file (not through a lookup)."""
    if isinstance(expr, str):
        return [expr.strip()]
    name = next(k for k in expr if k in EXPRESSIONS)
    if name == "constant":
        return []
    if name == "lookup":
        return roots(expr["match"])
    parts = expr[name] if name in ("concat", "first_of") else [expr[name]]
    parts = [*parts, *(expr[k] for k in ("then", "else") if k in expr)]
    return [r for p in parts for r in roots(p)]


def lookups(expr: Any) -> list[dict]:
    """The lookups an expression makes (their ``by`` and ``take`` read the other kind of export)."""
    if not isinstance(expr, dict):
        return []
    found = [expr] if "lookup" in expr else []
    for key, value in expr.items():
        if key in ("values", "by", "take"):
            continue
        for part in value if isinstance(value, list) else [value]:
            found += lookups(part)
    return found


def _has_column(columns: set[str], ref: str) -> bool:
    return _norm(ref) in columns or _norm(re.split(r"[.\[]", ref.strip())[0]) in columns


@dataclass
class Context:
    """What evaluating one file's rows needs, and what it finds out."""

    tz: ZoneInfo
    lookup_rows: Any  # kind -> list of rows (the other kinds of file of the source)
    where: str  # settings key of the table being mapped, for messages
    group_rank: dict = field(default_factory=dict)  # (id(row), ref) -> position in its group
    unmapped: dict = field(default_factory=lambda: defaultdict(Counter))  # (column key, source) -> values
    unmatched: Counter = field(default_factory=Counter)  # (column key, source, kind) -> rows a lookup missed
    _indexes: dict = field(default_factory=dict)


def _strip_tz_suffix(value: str) -> str:
    return re.sub(r" ?(UTC|GMT|Z)$", "+0000", value)


def _date(value: str, formats: list[str], tz: ZoneInfo) -> str:
    if not value:
        return ""
    for fmt in formats or [None]:
        try:
            if fmt is None:
                parsed = datetime.fromisoformat(_strip_tz_suffix(value).replace("+0000", "+00:00"))
            else:
                parsed = datetime.strptime(_strip_tz_suffix(value) if "%z" in fmt else value, fmt)
        except ValueError:
            continue
        if fmt is not None and not any(d in fmt for d in ("%H", "%I", "%M", "%S", "%z")):
            return parsed.date().isoformat()
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return parsed.isoformat()
    return value  # as written: the contract quarantines it as unparseable, with the value


def _microseconds(value: str) -> str:
    if not re.fullmatch(r"[0-9]{1,19}", value):
        return value
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _comparable(value: str) -> Any:
    try:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        return value


def evaluate(expr: Any, row: dict, ctx: Context, where: str) -> str:
    """The text ``expr`` gives for ``row`` ('' for empty); raises SkipRow."""
    if isinstance(expr, str):
        return _text(resolve(row, expr)[1])
    name = next(k for k in expr if k in EXPRESSIONS)
    arg = expr[name]
    if name == "column":
        value = evaluate(arg, row, ctx, where)
    elif name == "constant":
        value = _text(arg)
    elif name == "concat":
        parts = [evaluate(p, row, ctx, where) for p in arg]
        if expr.get("skip_empty"):
            parts = [p for p in parts if p]
            value = str(expr.get("sep", "")).join(parts)
        else:
            value = "" if not all(parts) else str(expr.get("sep", "")).join(parts)
    elif name == "split":
        whole = evaluate(arg, row, ctx, where)
        pieces = whole.split(str(expr.get("sep", " "))) if whole else []
        index = expr.get("index", 0)
        value = pieces[index].strip() if -len(pieces) <= index < len(pieces) else ""
    elif name == "date":
        formats = expr.get("format") or []
        value = _date(evaluate(arg, row, ctx, where), formats if isinstance(formats, list) else [formats], ctx.tz)
    elif name == "microseconds":
        value = _microseconds(evaluate(arg, row, ctx, where))
    elif name == "first_of":
        value = next((v for v in (evaluate(p, row, ctx, where) for p in arg) if v), "")
    elif name == "if_set":
        if evaluate(arg, row, ctx, where):
            value = evaluate(expr["then"], row, ctx, where)
        else:
            value = evaluate(expr["else"], row, ctx, where) if "else" in expr else ""
    elif name == "row_in_group":
        value = str(ctx.group_rank.get((id(row), json.dumps(arg, sort_keys=True)), ""))
    else:  # lookup
        value = _lookup(expr, evaluate(expr["match"], row, ctx, where), ctx, where)
    if "values" in expr:
        value = _map_value(expr, value, ctx, where)
    return value


def _map_value(expr: dict, value: str, ctx: Context, where: str) -> str:
    if value == "":
        return ""
    values = {_text(k): v for k, v in expr["values"].items()}
    folded = {k.casefold(): v for k, v in values.items()}
    if value in values or value.casefold() in folded:
        target = values[value] if value in values else folded[value.casefold()]
        return _text(target)
    other = expr.get("other", "error")
    if other == "keep":
        return value
    if other == "skip":
        raise SkipRow
    source = next(iter(roots(expr)), "?")
    ctx.unmapped[(where, source)][value] += 1
    return ""


def _lookup(expr: dict, key: str, ctx: Context, where: str) -> str:
    if not key:
        return ""
    spec = json.dumps({k: expr[k] for k in ("lookup", "by", "take", "pick") if k in expr}, sort_keys=True)
    index = ctx._indexes.get(spec)
    if index is None:
        index = {}
        pick = expr.get("pick", "first")
        for other in ctx.lookup_rows(expr["lookup"]):
            by = evaluate(expr["by"], other, ctx, where).casefold()
            take = evaluate(expr["take"], other, ctx, where)
            if not by or not take:
                continue
            if by not in index or (
                pick == "min"
                and _comparable(take) < _comparable(index[by])
                or pick == "max"
                and _comparable(take) > _comparable(index[by])
            ):
                index[by] = take
        ctx._indexes[spec] = index
    found = index.get(key.casefold(), "")
    if not found and expr.get("missing", "error") == "error":
        ctx.unmatched[(where, next(iter(roots(expr["match"])), "?"), expr["lookup"])] += 1
    return found


# --------------------------------------------------------------------------------------------
# Mapping one file


@dataclass
class TableResult:
    rows: list[dict] = field(default_factory=list)  # contract rows as they land (text)
    skipped: int = 0  # rows a value map sends to ``other: skip``
    filled: Counter = field(default_factory=Counter)  # contract column -> rows with a value


@dataclass
class FileResult:
    source: str
    kind: str
    path: Path
    rel: str
    rows_read: int = 0
    encoding: str | None = None
    malformed: list[tuple[int, str]] = field(default_factory=list)
    tables: dict[str, TableResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    unmapped: dict = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)  # JSON columns no line of the file has


def _group_key(tspec: dict, row: dict, ctx: Context, where: str) -> str:
    return evaluate(tspec["group_by"], row, ctx, where) if "group_by" in tspec else ""


def map_file(
    source: str,
    kind: str,
    spec: dict,
    path: Path,
    rel: str,
    read: SourceFile,
    lookup_rows,
    tz: str,
    lookup_columns=lambda kind: None,
    source_glob=lambda kind: kind,
) -> FileResult:
    """Map one source file to its contract tables (nothing is written here)."""
    result = FileResult(source, kind, path, rel, len(read.rows), read.encoding, read.malformed)
    key = f"sources.{source}.files.{kind}"
    zone = ZoneInfo(str(spec.get("timezone") or tz))
    for table, tspec in spec["tables"].items():
        exprs = dict(tspec["columns"])
        if "group_by" in tspec:
            exprs["(group_by)"] = tspec["group_by"]
        for column, expr in exprs.items():
            for found in lookups(expr):
                other = lookup_columns(found["lookup"])
                if other is None:
                    result.errors.append(
                        f"{rel}: {key}.tables.{table}.columns.{column} looks up the {found['lookup']} exports, and "
                        f"the folder has none; fix: put one there ({source_glob(found['lookup'])})"
                    )
                    continue
                for ref in [*roots(found["by"]), *roots(found["take"])]:
                    if not _has_column(other, ref):
                        result.errors.append(
                            f"{rel}: column {ref!r} is not in the {found['lookup']} exports "
                            f"({key}.tables.{table}.columns.{column}); fix: name one of their columns in the mapping"
                        )
            for ref in roots(expr):
                if _has_column(read.columns, ref):
                    continue
                if read.fixed_columns:
                    known = ", ".join(sorted(read.columns))[:300]
                    result.errors.append(
                        f"{rel}: column {ref!r} is not in the file ({key}.tables.{table}.columns.{column}); "
                        f"fix: name one of its columns ({known}) in the mapping, or export the file with that column"
                    )
                elif ref not in result.absent:
                    result.absent.append(ref)
    if result.errors:
        return result
    for table, tspec in spec["tables"].items():
        where = f"{key}.tables.{table}"
        ctx = Context(zone, lookup_rows, where)
        for column, expr in tspec["columns"].items():
            _rank_groups(expr, read.rows, ctx, f"{where}.columns.{column}")
        out = TableResult()
        groups: dict[str, list[dict]] = {}
        order: list[tuple[str, int]] = []
        for i, row in enumerate(read.rows):
            group = _group_key(tspec, row, ctx, f"{where}.group_by")
            try:
                values = {c: evaluate(e, row, ctx, f"{where}.columns.{c}") for c, e in tspec["columns"].items()}
            except SkipRow:
                out.skipped += 1
                continue
            values.update(zip(MAPPED_SOURCE_COLUMNS, (rel, str(i + 1)), strict=True))
            if group:
                if group not in groups:
                    groups[group] = values
                    order.append((group, -1))
                else:  # the first non-empty value within the group
                    kept = groups[group]
                    for c, v in values.items():
                        if not kept.get(c) and v:
                            kept[c] = v
            else:
                order.append(("", len(out.rows)))
                out.rows.append(values)
        ungrouped = out.rows
        out.rows = [groups[g] if g else ungrouped[i] for g, i in order]
        for row in out.rows:
            for column in TABLE_COLUMNS[table]:
                if row.get(column):
                    out.filled[column] += 1
        result.tables[table] = out
        for (column_key, ref), values in ctx.unmapped.items():
            result.unmapped[(column_key, ref)] = values
        for (column_key, ref, other), rows in ctx.unmatched.items():
            result.errors.append(
                f"{rel}: column {ref!r} has values on {rows} rows that no {other} export holds ({column_key}); "
                f"fix: put a newer {other} export (taken after this one) in the folder, or set missing: empty there"
            )
    for (column_key, ref), values in result.unmapped.items():
        listed = ", ".join(f"{v!r} ({n} rows)" for v, n in values.most_common(5))
        result.errors.append(
            f"{rel}: column {ref!r} has values no value map covers: {listed} ({column_key}); "
            f"fix: add them under {column_key}.values, or set other: keep / skip there"
        )
    return result


def _rank_groups(expr: Any, rows: list[dict], ctx: Context, where: str) -> None:
    """Positions within their group for every ``row_in_group`` of ``expr`` (line numbers)."""
    if isinstance(expr, dict):
        name = next(k for k in expr if k in EXPRESSIONS)
        if name == "row_in_group":
            ref = json.dumps(expr[name], sort_keys=True)
            seen: Counter = Counter()
            for row in rows:
                group = evaluate(expr[name], row, ctx, where)
                seen[group] += 1
                ctx.group_rank[(id(row), ref)] = seen[group]
        for key, value in expr.items():
            if key == "values":
                continue
            if isinstance(value, dict):
                _rank_groups(value, rows, ctx, where)
            elif isinstance(value, list):
                for part in value:
                    _rank_groups(part, rows, ctx, where)


# --------------------------------------------------------------------------------------------
# A source: its files, mapped into the landing folder


@dataclass
class MappingProblem:
    """An export not mapped: ``mapping`` (the mapping does not fit it), ``failed`` (it cannot be
    read), ``changed`` (altered after it was mapped); ``tables`` are the tables it feeds."""

    tables: list[str]
    path: str
    reason: str
    kind: str = "mapping"


@dataclass
class SourceReport:
    source: str
    files: list[FileResult] = field(default_factory=list)
    already_mapped: int = 0
    problems: list[MappingProblem] = field(default_factory=list)


def source_files(folder: Path, spec: dict) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and fnmatch.fnmatch(p.name.lower(), spec["glob"].lower())
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def map_source(
    name: str, entry: dict, landing: Path, tz: str, write: bool = True, manifest: dict | None = None
) -> SourceReport:
    """Map the new files of one source (``write``: into ``landing``; else only report)."""
    mapping = entry["spec"]
    folder = Path(entry["folder"])
    report = SourceReport(name)
    cache: dict[Path, SourceFile] = {}

    def read(path: Path, spec: dict) -> SourceFile:
        if path not in cache:
            cache[path] = read_source(path, spec.get("format", "csv"), spec.get("encoding", "auto"))
        return cache[path]

    def lookup_rows(kind: str):
        spec = mapping["files"][kind]
        for path in source_files(folder, spec):
            try:
                yield from read(path, spec).rows
            except (OSError, ValueError):
                continue

    def lookup_columns(kind: str) -> set[str] | None:
        spec = mapping["files"][kind]
        columns: set[str] = set()
        paths = source_files(folder, spec)
        for path in paths:
            try:
                columns |= read(path, spec).columns
            except (OSError, ValueError):
                continue
        return columns if paths else None

    def source_glob(kind: str) -> str:
        return mapping["files"][kind]["glob"]

    manifest = {} if manifest is None else manifest
    if not folder.is_dir():
        tables = sorted({t for s in mapping["files"].values() for t in s["tables"]})
        report.problems.append(
            MappingProblem(
                tables,
                str(folder),
                f"the folder of source {name} does not exist: create it and put the exports in it",
                "failed",
            )
        )
        return report
    for kind, spec in mapping["files"].items():
        tables = list(spec["tables"])
        for path in source_files(folder, spec):
            rel = path.relative_to(folder).as_posix()
            record_key = f"{name}/{kind}/{rel}"
            stat = path.stat()
            done = manifest.get(record_key)
            if (
                write
                and done is not None
                and (done.get("size"), done.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns)
            ):
                report.already_mapped += 1  # unchanged by size and time: not read again
                continue
            checksum = _sha256(path)
            if write and done is not None:
                if done["sha256"] != checksum:
                    report.problems.append(
                        MappingProblem(
                            tables,
                            str(path),
                            f"its checksum differs from the one mapped (sha256 {done['sha256'][:12]}...)",
                            "changed",
                        )
                    )
                else:
                    report.already_mapped += 1
                continue
            try:
                source = read(path, spec)
            except (OSError, ValueError) as exc:
                reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                fmt, encoding = spec.get("format", "csv"), spec.get("encoding", "auto")
                report.problems.append(
                    MappingProblem(
                        tables,
                        str(path),
                        f"it cannot be read as {fmt}"
                        + (f" in {encoding}" if fmt != "parquet" else "")
                        + f" ({reason}); "
                        "check the mapping's format and encoding (auto reads UTF-8, else CP932)",
                        "failed",
                    )
                )
                continue
            result = map_file(name, kind, spec, path, rel, source, lookup_rows, tz, lookup_columns, source_glob)
            report.files.append(result)
            for error in result.errors:
                report.problems.append(MappingProblem(tables, str(path), error))
            if result.errors or not write:
                continue
            outputs = {}
            for table, out in result.tables.items():
                target = landing / table / f"{_day_prefix(path.stem)}{name}__{kind}__{path.stem}.csv"
                _write_csv(target, TABLE_COLUMNS[table], out.rows, result.malformed)
                outputs[table] = {"file": target.relative_to(landing).as_posix(), "rows": len(out.rows)}
            manifest[record_key] = {
                "sha256": checksum,
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "rows_read": result.rows_read,
                "malformed_lines": len(result.malformed),
                "skipped_by_value_map": {t: o.skipped for t, o in result.tables.items()},
                "written": outputs,
                "mapped_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
    return report


def _day_prefix(stem: str) -> str:
    """``2025-06-01__`` where the export's name holds a day (GA4's ``events_20250601``), so that the
    landing file is named for it (a daily partition loads it on its day); else nothing."""
    for match in re.finditer(r"(?<![0-9])(20[0-9]{2})-?([01][0-9])-?([0-3][0-9])(?![0-9])", stem):
        try:
            return datetime(int(match[1]), int(match[2]), int(match[3])).date().isoformat() + "__"
        except ValueError:
            continue
    return ""


def _write_csv(target: Path, columns: list[str], rows: list[dict], malformed: list[tuple[int, str]]) -> None:
    """Contract columns, then where each row came from; a source line that could not be read is
    written as one field, so ingest keeps it as a malformed line (its number and shape)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*columns, *MAPPED_SOURCE_COLUMNS])
    for row in rows:
        writer.writerow([row.get(c, "") for c in [*columns, *MAPPED_SOURCE_COLUMNS]])
    for number, text in malformed:
        writer.writerow([f"line {number}: {text}"])
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(target)


def map_sources(
    landing: Path, sources: dict[str, dict], timezone: str, only: str | None = None, write: bool = True
) -> list[SourceReport]:
    """Map the new files of every source of a shop's settings (``Settings.sources``, read in the
    shop's ``business_timezone``) into ``landing``: the first step of ingest."""
    if not sources:
        return []
    manifest_path = landing / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    reports = [
        map_source(name, entry, landing, timezone, write, manifest)
        for name, entry in sources.items()
        if only is None or name == only
    ]
    if write:
        landing.mkdir(parents=True, exist_ok=True)
        tmp = manifest_path.with_name(f"{MANIFEST}.tmp")
        tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        tmp.replace(manifest_path)
    return reports


def check_report(report: SourceReport) -> str:
    """``crm map --check``: per file, the rows read and landing, each column's fill rate, the values
    no value map covers and sample rows as they would land."""
    lines = [f"source {report.source}: {len(report.files)} files"]
    for result in report.files:
        lines.append(
            f"\n{result.rel} ({result.kind}, {result.encoding or 'parquet'}): {result.rows_read} rows read"
            + (f", {len(result.malformed)} malformed lines (quarantined as such)" if result.malformed else "")
        )
        for ref in result.absent:
            lines.append(f"  note: no line has {ref!r} (empty in every row)")
        for table, out in result.tables.items():
            total = len(out.rows)
            lines.append(
                f"  {table}: {total} rows would land"
                + (f", {out.skipped} rows skipped by other: skip" if out.skipped else "")
            )
            required = {c["name"] for c in CONTRACT[table]["columns"] if c.get("required")}
            for column in TABLE_COLUMNS[table]:
                share = f"{100 * out.filled[column] / total:5.1f}%" if total else "    -"
                short = column in required and out.filled[column] < total
                lines.append(
                    f"    {column:<20} {share} filled"
                    + ("  (required: the other rows are quarantined)" if short else "")
                )
            for row in out.rows[:SAMPLE_ROWS]:
                shown = {c: row.get(c, "") for c in TABLE_COLUMNS[table] if row.get(c)}
                lines.append(f"    sample: {json.dumps(shown, ensure_ascii=False)}")
    for problem in report.problems:
        reason = problem.reason
        lines.append(f"ERROR {reason if reason.startswith(Path(problem.path).name) else f'{problem.path}: {reason}'}")
    return "\n".join(lines)
