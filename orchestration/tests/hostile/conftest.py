"""A small generated shop plus the files a hostile shop sends (written here, one function per
kind), ingested twice as two daily runs would and built once. The test modules beside this file
assert the outcome the contract (docs/raw-contract.md) gives for each: quarantine reason, loaded
rows, the file report, the landing check's severity."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.pipeline.assets import landing_to_raw
from orchestration.pipeline.resources import WarehouseResource
from orchestration.tests.conftest import dbt
from orchestration.tools.generate import generate

AS_OF = "2025-06-30"
ORDERS_HEADER = "order_id,customer_id,ordered_at,status,order_total\n"


def write(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


# ---- the bad files, by kind ---------------------------------------------------------------------


def shift_jis_products(landing: Path) -> Path:
    """What 楽天, futureshop, MakeShop and Excel export: CP932, Japanese text, a quoted line break."""
    return write(
        landing / "products" / "2025-06-15_rakuten.csv",
        "product_id,product_name,category,unit_cost\r\n"
        "HX001,ＵＶカット美容液 30ml,スキンケア,1200\r\n"
        '"HX002","薬用 育毛剤\r\n（医薬部外品）",ヘアケア,900\r\n',
        encoding="cp932",
    )


def neither_utf8_nor_cp932(landing: Path) -> Path:
    return write(
        landing / "orders" / "2025-06-16_broken.csv",
        ORDERS_HEADER.encode() + b"OHB1,C1,2025-06-16 10:00:00,completed,\x81\x20\xff\xfe100\n",
    )


def semicolon_separated(landing: Path) -> Path:
    return write(
        landing / "orders" / "2025-06-17_semicolon.csv",
        "order_id;customer_id;ordered_at;status;order_total\nOSC1;C1;2025-06-17;completed;100\n",
    )


MALFORMED_LINES = [
    "OTR9,C0000001,2025-06-18 11:00:00,completed,1200,EXTRA",
    "OTR10,C0000001,2025-06-18 12:0",
]


def malformed_lines(landing: Path) -> Path:
    """Three good lines, one with an extra field and a truncated last line (no newline)."""
    return write(
        landing / "orders" / "2025-06-18_truncated.csv",
        ORDERS_HEADER
        + "OTR1,C0000001,2025-06-18 09:00:00,completed,1000\n"
        + f"{MALFORMED_LINES[0]}\n"
        + "OTR2,C0000002,2025-06-18 09:30:00,completed,2000\n"
        + "OTR3,C0000003,2025-06-18 10:00:00,completed,3000\n"
        + MALFORMED_LINES[1],
    )


BIG_ROWS = 12_000


def big_csv_with_line_breaks(landing: Path) -> Path:
    """Over 1 MB, every product name quoted with a line break inside."""
    lines = ["product_id,product_name,category,unit_cost"]
    lines += [
        f'HB{i:05d},"Long product name {i} {"x" * 60}\nsecond line, with a comma",haircare,{i % 900 + 100}'
        for i in range(BIG_ROWS)
    ]
    path = write(landing / "products" / "2025-06-19_big.csv", "\n".join(lines) + "\n")
    assert path.stat().st_size > 1_000_000
    return path


def upper_case_parquet(landing: Path) -> Path:
    path = landing / "orders" / "2025-06-20_extra.PARQUET"
    pq.write_table(
        pa.table(
            {
                "order_id": ["OUP1", "OUP2"],
                "customer_id": ["C0000001", "C0000002"],
                "ordered_at": ["2025-06-20 10:00:00", "2025-06-20 11:00:00"],
                "status": ["completed", "completed"],
                "order_total": ["1500", "2500"],
            }
        ),
        path,
    )
    return path


def hidden_and_junk(landing: Path) -> list[Path]:
    return [
        write(landing / "orders" / "._2025-06-20.parquet", b"\x00\x05\x16\x07macOS resource fork"),
        write(landing / "orders" / ".DS_Store", b"\x00\x00\x00\x01Bud1"),
    ]


def empty_file(landing: Path) -> Path:
    return write(landing / "orders" / "2025-06-21_empty.csv", b"")


def version_and_correction(landing: Path) -> tuple[Path, Path]:
    """An order sent as pending, then corrected to completed in a later file (same ordered_at)."""
    v1 = write(
        landing / "orders" / "2025-06-22_v1.csv",
        ORDERS_HEADER + "OAR1,C0000001,2025-06-22 10:00:00,pending,5000\n",
    )
    v2 = write(
        landing / "orders" / "2025-06-23_v2.csv",
        ORDERS_HEADER + "OAR1,C0000001,2025-06-22 10:00:00,completed,5000\n",
    )
    return v1, v2


def to_be_changed(landing: Path) -> Path:
    return write(
        landing / "orders" / "2025-06-24_changed.csv",
        ORDERS_HEADER + "OCH1,C0000001,2025-06-24 10:00:00,completed,700\n",
    )


def bad_values(landing: Path) -> None:
    """Values that used to change silently or fail the build."""
    write(
        landing / "orders" / "2025-06-25_values.csv",
        ORDERS_HEADER
        + "OV1,C0000001,2025-06-25 01:00:00 UTC,completed,1000\n"  # 10:00 in Tokyo
        + "OV2,C0000002,1970-01-01 00:00:00,completed,1000\n"  # a placeholder date
        + "OV3,C0000003,9999-12-31,completed,1000\n"  # never known
        + "OV4,C0000004,2025-06-25 10:00:00,completed,3300.12345\n"  # a fifth decimal
        + "OV5,C0000005,2025-06-25 10:00:00,completed,3300.1234\n"  # kept exactly
        + "OV6,C0000006,2025-06-25 10:00:00 JST,completed,1000\n"  # text after the time
        + "OV7,C0000007,2025-06-25T10:00:00GMT,completed,99999999999999\n",
    )  # 14 digits: held
    write(
        landing / "order_items" / "2025-06-25_values.csv",
        "order_id,line_number,product_id,quantity,unit_price\n"
        + "OV5,1,P0001,4901234567890,3300\n"  # a barcode pasted into quantity
        + "OV5,2,P0002,1,3300.1234\n"  # the real line 2
        + "OV5,3,P0003,1.5,100\n"
        + "OV5,4,P0003,0x10,100\n"
        + "OV5,5,P0003,1e3,100\n"
        + "OV7,1,P0004,10000,99999999999999\n",
    )  # the largest line: 10^18 yen, no overflow
    write(
        landing / "order_items" / "2025-06-26_values.csv",
        "order_id,line_number,product_id,quantity,unit_price\n" + "OV5,1.5,P0009,1,100\n",
    )  # sorts later: must not replace line 2


@dataclass
class HostileShop:
    root: Path
    landing: Path
    db: Path
    wh: WarehouseResource
    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def _ingest_run(wh: WarehouseResource) -> dg.ExecuteInProcessResult:
    """The daily pipeline's ingest step (with its GX gate and landing check), as a run does it."""
    return dg.materialize([landing_to_raw], partition_key=AS_OF, resources={"warehouse": wh}, raise_on_error=False)


@pytest.fixture(scope="session")
def hostile(tmp_path_factory) -> HostileShop:
    root = tmp_path_factory.mktemp("hostile")
    landing = root / "landing"
    generate(
        landing,
        customers=150,
        start=date(2025, 5, 1),
        end=date(2025, 6, 14),
        seed=13,
        bad_share=0.0,
    )
    wh = WarehouseResource(
        database=str(root / "warehouse.duckdb"),
        landing=str(landing),
        publish=str(root / "published"),
        gx=str(root / "gx"),
    )
    shop = HostileShop(root, landing, Path(wh.database), wh)
    shop.files = {
        "sjis": shift_jis_products(landing),
        "encoding": neither_utf8_nor_cp932(landing),
        "semicolon": semicolon_separated(landing),
        "malformed": malformed_lines(landing),
        "big": big_csv_with_line_breaks(landing),
        "upper": upper_case_parquet(landing),
        "empty": empty_file(landing),
        "changed": to_be_changed(landing),
    }
    shop.files["v1"], shop.files["v2"] = version_and_correction(landing)
    hidden_and_junk(landing)
    bad_values(landing)
    shop.runs.append(_ingest_run(wh))
    # the next day: a loaded file is changed in place, the old version is moved into archive/
    write(
        shop.files["changed"],
        ORDERS_HEADER
        + "OCH1,C0000001,2025-06-24 10:00:00,completed,700\n"
        + "OCH2,C0000002,2025-06-24 11:00:00,completed,800\n",
    )
    archive = landing / "orders" / "archive"
    archive.mkdir()
    shutil.move(shop.files["v1"], archive / shop.files["v1"].name)
    shop.runs.append(_ingest_run(wh))
    dbt(shop.db, ["build"], {"as_of_date": AS_OF})
    return shop
