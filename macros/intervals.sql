{#- 95% Wilson score interval of a share p of n (Wilson 1927): proper at p = 0 and p = 1, where
    the normal approximation collapses to a point. Null when n is 0. -#}
{% macro wilson_bound(p, n, sign) -%}
    (({{ p }} + 3.8416 / (2 * {{ n }})
      {{ sign }} 1.96 * sqrt({{ p }} * (1 - {{ p }}) / {{ n }} + 3.8416 / (4 * {{ n }} * {{ n }})))
     / (1 + 3.8416 / {{ n }}))
{%- endmacro %}

{#- 95% interval of the difference p1 - p2 of two independent shares: Newcombe's hybrid score
    method (Newcombe 1998, method 10) from the Wilson intervals of each share. Null while either
    side is empty. -#}
{% macro newcombe_low(p1, n1, p2, n2) -%}
    ({{ p1 }} - {{ p2 }} - sqrt(power({{ p1 }} - {{ wilson_bound(p1, 'nullif(' ~ n1 ~ ', 0)', '-') }}, 2)
                              + power({{ wilson_bound(p2, 'nullif(' ~ n2 ~ ', 0)', '+') }} - {{ p2 }}, 2)))
{%- endmacro %}

{% macro newcombe_high(p1, n1, p2, n2) -%}
    ({{ p1 }} - {{ p2 }} + sqrt(power({{ wilson_bound(p1, 'nullif(' ~ n1 ~ ', 0)', '+') }} - {{ p1 }}, 2)
                              + power({{ p2 }} - {{ wilson_bound(p2, 'nullif(' ~ n2 ~ ', 0)', '-') }}, 2)))
{%- endmacro %}
