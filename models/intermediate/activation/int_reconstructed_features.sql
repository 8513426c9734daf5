-- int_activation_features over the whole lookback window (as_of_date - activation_lookback_days ..
-- as_of_date), the same SQL (macro activation_features): read only through
-- int_reconstructed_membership by int_reconstructed_entries, when a warehouse's contact log is
-- empty. A view: nothing is computed unless the log is filled (decision 135).
{{ config(materialized='view') }}
{{ activation_features(add_days(as_of_date(), - var('activation_lookback_days'))) }}
