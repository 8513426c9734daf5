-- One row per raw subscriptions row that broke the contract: raw values, reason, source file and row.
{{ quarantine_rows('subscriptions', "select _source_file, _row_number, reject_reason from " ~ ref('base_shop__subscriptions') ~ " where row_outcome = 'quarantined'") }}
