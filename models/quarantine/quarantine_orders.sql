-- One row per raw orders row that broke the contract: raw values, reason, source file and row.
{{ quarantine_rows('orders', "select _source_file, _row_number, reject_reason from " ~ ref('base_shop__orders') ~ " where row_outcome = 'quarantined'") }}
