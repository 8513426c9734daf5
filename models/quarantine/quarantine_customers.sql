-- One row per raw customers row that broke the contract: raw values, reason, source file and row.
{{ quarantine_rows('customers', "select _source_file, _row_number, reject_reason from " ~ ref('base_shop__customers') ~ " where row_outcome = 'quarantined'") }}
