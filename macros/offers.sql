{#- The evidence for offering a product (customer_offers): one row per `key` x product x owned
    product it comes from, for what is owned (`owned`: `key`, product_id, weight) - customers who
    bought the owned product went on to buy the product next (next_product share, 買い回り) or
    bought it with it (product_affinity customer_confidence, 併売), times the weight. customer_offers
    calls it once, on every (owned product, weight) pair (key: weight): scores and reasons are both
    built from those pieces. -#}
{% macro offer_evidence(owned, next_products, affinity, key='customer_id') -%}
    select {{ owned }}.{{ key }}, {{ next_products }}.next_product_id as product_id,
           {{ owned }}.product_id as because_of, {{ owned }}.weight * {{ next_products }}.share as points,
           'next' as kind
    from {{ owned }}
    inner join {{ next_products }} on {{ owned }}.product_id = {{ next_products }}.product_id

    union all

    select {{ owned }}.{{ key }}, {{ affinity }}.paired_product_id as product_id,
           {{ owned }}.product_id as because_of, {{ owned }}.weight * {{ affinity }}.customer_confidence as points,
           'together' as kind
    from {{ owned }}
    inner join {{ affinity }} on {{ owned }}.product_id = {{ affinity }}.product_id
{%- endmacro %}

{#- One text naming an owned product and the weight it counts with (a flag, then the length-prefixed
    id, so no two pairs share it): joined in order it keys a basket profile; followed by a product
    id it keys a piece of evidence. -#}
{% macro owned_product_key(weight, product_id) -%}
    case when {{ weight }} = 2.0 then '2' else '1' end
    || cast(length({{ product_id }}) as {{ dbt.type_string() }}) || ':' || {{ product_id }}
{%- endmacro %}
