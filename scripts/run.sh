#!/usr/bin/env bash
# The README's run command: set up, make sample data (if data/landing is empty), ingest, build,
# check, and print where to look. Arguments go to `python -m orchestration.cli run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m orchestration.cli run "$@"
