{#- Customer rules used in more than one model, each written once (domain.md).
    Callers pass column expressions; thresholds are the vars of dbt_project.yml. -#}

{#- Text 002's four tiers (domain.md "RFM"): customer_rfm (as of as_of_date) and
    int_activation_features (as of each day of the activation window). -#}
{% macro loyalty_tier(purchases, purchases_in_window) -%}
    case
        when {{ purchases }} = 1 then 'nurture'
        when {{ purchases_in_window }} >= {{ var('loyalty_loyal_min_purchases') }} then 'loyal'
        when {{ purchases_in_window }} >= {{ var('loyalty_semi_loyal_min_purchases') }} then 'semi_loyal'
        else 'general'
    end
{%- endmacro %}

{#- CPM segment and status (domain.md "Customer portfolio management"): customer_portfolio_monthly
    and int_activation_features. -#}
{% macro cpm_segment(purchases, tenure_days, revenue) -%}
    case
        when {{ purchases }} = 1 then 'first'
        when {{ tenure_days }} < {{ var('cpm_toddler_tenure_days') }} then 'toddler'
        when {{ revenue }} < {{ var('cpm_steady_revenue') }} then 'steady'
        when {{ tenure_days }} < {{ var('cpm_trendy_tenure_days') }} then 'trendy'
        else 'loyal'
    end
{%- endmacro %}

{% macro cpm_status(lapse_days) -%}
    case when {{ lapse_days }} < {{ var('cpm_lapse_days') }} then 'active' else 'lapsed' end
{%- endmacro %}

{#- Churn-risk band from the churn score (domain.md "Predicted lifetime value and churn"; decision
    0117): the score is 1 - P(a purchase within clv_holdout_days), so the band compares that
    probability of buying with the vars: customer_predictions and int_activation_features. -#}
{% macro churn_risk_band(churn_score) -%}
    case
        when 1 - {{ churn_score }} < {{ var('clv_churn_high_below') }} then 'high'
        when 1 - {{ churn_score }} < {{ var('clv_churn_medium_below') }} then 'medium'
        else 'low'
    end
{%- endmacro %}

{#- The churn score under BG/NBD: 1 - P(alive) x (1 - ((alpha + T) / (alpha + T + h))^(r + x)), h =
    clv_holdout_days; a one-time buyer (P(alive) = 1) is scored by their tenure. The reference
    implementation is orchestration/predict/churn.py::churn_score (the Python fit scores as_of);
    this closed form scores the earlier days of the activation window with the same parameters. -#}
{% macro bgnbd_churn_score(r, alpha, a, b, x, t_x, big_t) -%}
    (1.0 - ({{ bgnbd_p_alive(r, alpha, a, b, x, t_x, big_t) }})
           * (1.0 - power(({{ alpha }} + {{ big_t }}) / ({{ alpha }} + {{ big_t }} + {{ var('clv_holdout_days') }}),
                          {{ r }} + {{ x }})))
{%- endmacro %}

{#- The churn score of a run whose BG/NBD score ranked worse than recency on the holdout (decision
    0156): 1 - P(a purchase within clv_holdout_days) on a logistic curve in log(1 + days since the
    last purchase), clv_fits' recency_logit_intercept and recency_logit_slope. The reference
    implementation is orchestration/predict/churn.py::recency_churn_score. -#}
{% macro recency_churn_score(intercept, slope, recency_days) -%}
    (1.0 - 1.0 / (1.0 + exp(-({{ intercept }} + {{ slope }} * ln(1.0 + {{ recency_days }})))))
{%- endmacro %}

{#- The churn score of the run's full fit for (x, t_x, T): recency's where the fit chose it, else
    BG/NBD's. `fit` is a relation alias with clv_fits' columns. -#}
{% macro fitted_churn_score(fit, x, t_x, big_t) -%}
    case when {{ fit }}.churn_score_model = 'recency'
        then {{ recency_churn_score(fit ~ '.recency_logit_intercept', fit ~ '.recency_logit_slope',
                                    '(' ~ big_t ~ ' - ' ~ t_x ~ ')') }}
        else {{ bgnbd_churn_score(fit ~ '.r', fit ~ '.alpha', fit ~ '.a', fit ~ '.b', x, t_x, big_t) }}
    end
{%- endmacro %}

{#- BG/NBD P(alive | x, t_x, T) (Fader, Hardie & Lee 2005, eq. 11): 1 when x = 0. The reference
    implementation is orchestration/predict/bgnbd.py::p_alive (the Python fit scores as_of);
    this closed form scores the earlier days of the activation window with the same parameters. -#}
{% macro bgnbd_p_alive(r, alpha, a, b, x, t_x, big_t) -%}
    case
        when {{ x }} = 0 then 1.0
        else 1.0 / (1.0 + ({{ a }} / ({{ b }} + {{ x }} - 1.0))
                          * power(({{ alpha }} + {{ big_t }}) / ({{ alpha }} + {{ t_x }}), {{ r }} + {{ x }}))
    end
{%- endmacro %}

{#- A stable bucket 0..9999 of a text (md5, first 7 hex digits): the same on DuckDB, Spark and in
    Python (orchestration/activation/exports.py::holdout_bucket). -#}
{% macro stable_bucket(text_expr) -%}
    ({{ hex_to_bigint('substr(' ~ dbt.hash(text_expr) ~ ', 1, 7)') }} % 10000)
{%- endmacro %}

{#- Whether a customer in `audience` is held out of it (never exported, the lift's control): the
    stable bucket of customer and audience below var activation_holdout_share. -#}
{% macro audience_holdout(customer_id, audience) -%}
    {{ stable_bucket(customer_id ~ " || '|' || " ~ audience) }} < {{ var('activation_holdout_share') }} * 10000
{%- endmacro %}

{#- Whether a customer in `audience` today enters it: they were in no audience the day before
    (`yesterdays_audience` is null) or in another one. -#}
{% macro audience_entry(yesterdays_audience, audience) -%}
    ({{ yesterdays_audience }} is null or {{ yesterdays_audience }} != {{ audience }})
{%- endmacro %}

{#- The channel a customer may be contacted on (domain.md "Consent and privacy"): LINE when they
    consented to it, else e-mail, else null. Unknown (null) consent is consent only when var
    activation_unknown_consent_is_consent is true. -#}
{% macro consent_channel(line_opt_in, email_opt_in) -%}
    {%- set unknown = unknown_consent_is_consent() -%}
    case
        when coalesce({{ line_opt_in }}, {{ unknown }}) = true then 'line'
        when coalesce({{ email_opt_in }}, {{ unknown }}) = true then 'email'
    end
{%- endmacro %}

{#- The SQL literal of var activation_unknown_consent_is_consent: `true` only when the var is the
    boolean true. Consent is never coerced from text: a quoted "false" (a non-empty string, truthy
    in Jinja) or "true", 1 or "yes" read as false. The Python side is orchestration/privacy/consent.py. -#}
{% macro unknown_consent_is_consent() -%}
    {{- 'true' if var('activation_unknown_consent_is_consent') is sameas true else 'false' -}}
{%- endmacro %}
