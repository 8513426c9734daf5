-- int_audience_membership over the whole lookback window (int_reconstructed_features), the same
-- rules (macro audience_membership): read only by int_reconstructed_entries, when a warehouse's
-- contact log is empty. A view: nothing is computed unless the log is filled (decision 135).
-- depends_on: {{ ref('activation_audience_rules') }}
-- depends_on: {{ ref('activation_audiences') }}
{{ config(materialized='view') }}
{{ audience_membership(ref('int_reconstructed_features')) }}
