{#- The evidence for offering a product to a customer (customer_offers): one row per customer x
    product x owned product it comes from, for what they own (`owned`: customer_id, product_id,
    weight) - customers who bought it went on to buy the product next (next_product share, 買い回り)
    or bought it with it (product_affinity customer_confidence, 併売), times the weight.
    `offered`, when given, keeps only its (customer_id, product_id) pairs: the reason of an offer
    is looked up again for the two offers, not kept for every candidate. -#}
{% macro offer_evidence(owned, next_products, affinity, offered=none) -%}
    select {{ owned }}.customer_id, {{ next_products }}.next_product_id as product_id,
           {{ owned }}.product_id as because_of, {{ owned }}.weight * {{ next_products }}.share as points,
           'next' as kind
    from {{ owned }}
    inner join {{ next_products }} on {{ owned }}.product_id = {{ next_products }}.product_id
    {%- if offered %}
    inner join {{ offered }}
        on {{ owned }}.customer_id = {{ offered }}.customer_id
        and {{ next_products }}.next_product_id = {{ offered }}.product_id
    {%- endif %}

    union all

    select {{ owned }}.customer_id, {{ affinity }}.paired_product_id as product_id,
           {{ owned }}.product_id as because_of, {{ owned }}.weight * {{ affinity }}.customer_confidence as points,
           'together' as kind
    from {{ owned }}
    inner join {{ affinity }} on {{ owned }}.product_id = {{ affinity }}.product_id
    {%- if offered %}
    inner join {{ offered }}
        on {{ owned }}.customer_id = {{ offered }}.customer_id
        and {{ affinity }}.paired_product_id = {{ offered }}.product_id
    {%- endif %}
{%- endmacro %}
