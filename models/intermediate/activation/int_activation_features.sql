-- One row per known customer x feature_date, for as_of_date and the var activation_membership_days
-- days before it (1: today and yesterday, which the entry rule compares; decision 135): the per-customer features the audience
-- rules (seed activation_audience_rules) are written against, each as of that day, from the data
-- alone (no stored state), so a rerun or a backfill gives the same rows. Known customer: a
-- registered customer (guests have no customer_id). The rules for tier, CPM and churn band are the
-- macros the marts use (macros/customer_rules.sql). P(alive) and the churn score of an earlier day
-- use the parameters fitted as of as_of_date (the `full` fit; null without one) on the fit's inputs:
-- repeat days are purchase days that are not only 定期 deliveries (int_clv_inputs). It reads only staging and
-- intermediate models: purchases (int_orders_enriched), abandoned carts
-- (int_abandoned_cart_products) and 定期 subscriptions (int_subscriptions) are the models the marts
-- fct_orders, abandoned_carts and fct_subscriptions are built from (decision 107).
-- Earlier days' entries are read from the contact log, never recomputed (decision 135); the whole
-- lookback window is computed only by int_reconstructed_features, for a warehouse without a log.
-- The SQL is the macro activation_features (macros/activation_membership.sql).
-- A view (decision 86): int_audience_membership reads it once, in one pass.
{{ config(materialized='view') }}
{{ activation_features(add_days(as_of_date(), - var('activation_membership_days'))) }}
