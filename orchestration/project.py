"""The project's own files, which no shop edits: where the project lives and the defaults of its
``dbt_project.yml`` (the vars a shop may tune, and the raw contract). The floor every module stands
on; it reads no shop's settings."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_YML = PROJECT_DIR / "dbt_project.yml"


@cache
def project_vars() -> dict[str, Any]:
    """The vars of dbt_project.yml: the project's defaults (and the raw contract)."""
    return yaml.safe_load(DBT_PROJECT_YML.read_text(encoding="utf-8"))["vars"]
