-- One row per raw events row that broke the contract: raw values, reason, source file and row.
{{ quarantine_rows('events', "select _source_file, _row_number, reject_reason from " ~ ref('base_shop__events') ~ " where row_outcome = 'quarantined'") }}
