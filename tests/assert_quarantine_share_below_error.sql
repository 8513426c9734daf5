-- A table whose loaded rows are mostly quarantined is an error, not a warning: its marts would be
-- built on what little is left (a whole history rejected as implausible looks like an empty shop).
-- Fails (and so holds back publishing) when a table's quarantined share is above the var
-- `quarantine_error_share` (default 0.5). The run summary names the table's top reason and what to
-- change (orchestration/cli.py).
select
    table_name,
    rows_read,
    rows_quarantined,
    quarantined_share
from {{ ref('quarantine_reconciliation') }}
where rows_read > 0
    and quarantined_share > {{ var('quarantine_error_share') }}
