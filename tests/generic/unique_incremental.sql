{#- `unique` for an incremental model, checked where it can have changed (decision 153): no two rows
    (where `row_filter` holds) share `column_name`. `stamp_column` is later for every row a later run
    writes; after a run whose test passed, the next checks only the keys of rows stamped after the
    newest stamp that run saw, against every row (macros/test_scopes.sql). Every row is checked on a
    first run, after a failure, on --full-refresh and on Spark. -#}
{% test unique_incremental(model, column_name, stamp_column, row_filter='1 = 1') %}
{%- set since = tested_through(model, column_name) %}
select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
    and {{ row_filter }}
    {%- if since is not none %}
    -- the keys of the rows written since the last passing run
    and {{ column_name }} in (select {{ column_name }} from {{ model }} where {{ stamp_column }} > {{ since }})
    {%- endif %}
group by {{ column_name }}
having count(*) > 1
{% endtest %}
