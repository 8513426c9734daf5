-- Every raw row is accounted for: rows read = kept + quarantined + superseded + pending, per table.
select *
from {{ ref('quarantine_reconciliation') }}
where not is_reconciled
