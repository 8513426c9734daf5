-- Grain: one row per owned product x weight it is owned with (1.0, or 2.0 in a last purchase) x
-- product it leads to x kind of evidence (a few thousand rows at most: products x products x 2 x 2).
-- Rule (domain.md "Personalized offer", candidate generation): customers who bought the owned
-- product went on to buy the product next (kind `next`: int_next_products share, 買い回り) or bought
-- it with it (kind `together`: int_product_pairs customer_confidence, 併売); points = that share or
-- confidence x the weight. piece_key names the owned product, its weight and the product in one
-- text (macro owned_product_key), so an offer finds its strongest piece of evidence by one key.
with owned as (

    select product_id, weight from {{ ref('int_offer_owned_products') }}

),

next_products as (

    select product_id, next_product_id, share from {{ ref('int_next_products') }}

),

affinity as (

    select product_id, paired_product_id, customer_confidence from {{ ref('int_product_pairs') }}

),

weighted_products as (

    select distinct product_id, weight from owned

),

final as (

    select evidence.*, {{ owned_product_key('weight', 'because_of') }} || product_id as piece_key
    from ({{ offer_evidence('weighted_products', 'next_products', 'affinity', key='weight') }}) as evidence

)

select * from final
