-- One row per raw products row that broke the contract: raw values, reason, source file and row.
{{ quarantine_rows('products', "select _source_file, _row_number, reject_reason from " ~ ref('base_shop__products') ~ " where row_outcome = 'quarantined'") }}
