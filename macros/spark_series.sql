{#- Number series on Spark (dbt.date_spine builds time spines on it): dbt's default cross-joins eleven
    two-row unions, which Spark runs as a cartesian product of 2^11 partitions, one task each (24-107 s for
    the demo's 1,461 days on local[2]). `sequence` makes the same rows, 1 to upper_bound, in one. -#}
{% macro spark__generate_series(upper_bound) %}
    select explode(sequence(1, {{ upper_bound }})) as generated_number
{% endmacro %}
