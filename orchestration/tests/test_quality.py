"""GX's stored validation results stay bounded: a daily job validates 14 times, and each
checkpoint run rebuilt the Data Docs index from every result ever stored (decision 104)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import great_expectations.expectations as gxe
import pandas as pd
import pytest
import yaml

from orchestration.quality import gx as quality


def _validate(root, suite="test_suite", values=(1, 2, 3)):
    frame = pd.DataFrame({"x": list(values)})
    return quality.validate(suite, frame, [gxe.ExpectColumnValuesToNotBeNull(column="x")], root)


def _runs(root, kind):
    base = root / "gx" / "uncommitted" / ("validations" if kind == "results" else "data_docs/local_site/validations")
    # GX removes a page's file and leaves its folder
    return sorted(p.name for p in base.glob("test_suite/*/*") if any(p.iterdir()))


def _copy_run(root, run_name, new_name):
    """A stored result (and its Data Docs page) as if GX had written it at another time."""
    for base in ("validations", "data_docs/local_site/validations"):
        src = next((root / "gx" / "uncommitted" / base).glob(f"test_suite/*/{run_name}"))
        shutil.copytree(src, src.parent / new_name, dirs_exist_ok=True)


def test_results_older_than_the_retention_are_removed_with_their_pages_and_the_index_is_bounded(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_KEEP_DAYS", raising=False)
    monkeypatch.setattr(quality, "_PREPARED", set())
    _validate(tmp_path)
    [first] = _runs(tmp_path, "results")
    stamp = "%Y%m%dT%H%M%S.%fZ"
    now = datetime.now(UTC)
    old = (now - timedelta(days=31)).strftime(stamp)
    recent = (now - timedelta(days=29)).strftime(stamp)
    _copy_run(tmp_path, first, old)
    _copy_run(tmp_path, first, recent)
    assert len(_runs(tmp_path, "results")) == len(_runs(tmp_path, "pages")) == 3

    # the next process's first validation prunes (default 30 days), then GX drops the orphaned page
    monkeypatch.setattr(quality, "_PREPARED", set())
    outcome = _validate(tmp_path, values=(1, None, 3))
    assert not outcome.success
    results = _runs(tmp_path, "results")
    assert old not in results and recent in results and first in results and len(results) == 3
    assert _runs(tmp_path, "pages") == results
    index = (tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").read_text()
    assert recent in index and old not in index

    config = yaml.safe_load((tmp_path / "gx" / "great_expectations.yml").read_text())
    assert (
        config["data_docs_sites"]["local_site"]["site_index_builder"]["validation_results_limit"]
        == quality.DOCS_INDEX_RESULTS
    )

    # once per process: a later validation in the same run does not walk the store again
    _copy_run(tmp_path, first, old)
    _validate(tmp_path)
    assert old in _runs(tmp_path, "results")


def test_prune_keeps_what_is_not_a_dated_result(tmp_path):
    validations = tmp_path / "gx" / "uncommitted" / "validations"
    for name in ("20250101T000000.000000Z", "20250301T000000.000000Z", "not-a-time"):
        (validations / "suite" / "__none__" / name).mkdir(parents=True)
    (validations / ".ge_store_backend_id").write_text("id")
    now = datetime(2025, 3, 15, tzinfo=UTC)
    assert quality.prune_validation_results(tmp_path, keep_days=30, now=now) == 1
    assert sorted(p.name for p in (validations / "suite" / "__none__").iterdir()) == [
        "20250301T000000.000000Z",
        "not-a-time",
    ]
    assert (validations / ".ge_store_backend_id").exists()
    assert quality.prune_validation_results(tmp_path, keep_days=30, now=now) == 0


def test_validations_in_one_block_build_the_data_docs_once_at_its_end(tmp_path, monkeypatch):
    from great_expectations.data_context.data_context.abstract_data_context import (
        AbstractDataContext,
    )

    monkeypatch.setattr(quality, "_PREPARED", set())
    real = AbstractDataContext.build_data_docs
    builds = []

    def counting(self, *args, **kwargs):
        builds.append(kwargs.get("resource_identifiers"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(AbstractDataContext, "build_data_docs", counting)
    site = tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site"
    with quality.one_docs_build(tmp_path):
        first = _validate(tmp_path, suite="suite_a")
        with quality.one_docs_build(tmp_path):  # a block inside a block: the outer end builds
            second = _validate(tmp_path, suite="suite_b", values=(None, 1))
        assert builds == [] and not (site / "index.html").exists()
    assert len(builds) == 1 and len(builds[0]) == 2
    for suite in ("suite_a", "suite_b"):
        assert list((site / "validations" / suite).glob("*/*/*.html")), suite
        assert suite in (site / "index.html").read_text()
    assert first.success and not second.success
    assert first.docs_url == second.docs_url and first.docs_url.endswith("index.html")
    # outside a block, each validation updates the docs itself
    _validate(tmp_path, suite="suite_a")
    assert len(builds) == 2


@pytest.mark.slow  # starts Chromium (scripts/ensure_browser.sh installs it for the full run)
def test_the_data_docs_read_offline_with_styles_and_the_index_filled(tmp_path):
    """Every page points at the vendored copies, never a CDN; in Chromium with every network
    request refused, the index is styled by Bootstrap and its table lists the validation."""
    _validate(tmp_path)
    site = tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site"
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not quality.REMOTE_TAG.search(text), page
        assert "static/vendor/jquery.min.js" in text, page
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.fail("/usr/bin/chromium is missing: run scripts/ensure_browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--headless=new"])
        page = browser.new_page()
        refused = []
        page.route("http*://**", lambda route: (refused.append(route.request.url), route.abort()))
        page.goto((site / "index.html").as_uri())
        page.wait_for_selector("table tbody tr[data-index]", timeout=20_000)
        rows = page.query_selector_all("table tbody tr[data-index]")
        assert any("test_suite" in r.inner_text() for r in rows)
        # Bootstrap's stylesheet applied: its .container rule sets a max width
        assert page.evaluate("getComputedStyle(document.querySelector('.container-fluid, .container')).paddingLeft")
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("-apple-system")
        browser.close()
    assert refused == [], refused
