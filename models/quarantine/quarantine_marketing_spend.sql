-- One row per raw marketing_spend row that broke the contract: raw values, reason, source file and row.
{{ quarantine_rows('marketing_spend', "select _source_file, _row_number, reject_reason from " ~ ref('base_shop__marketing_spend') ~ " where row_outcome = 'quarantined'") }}
