{#- Seeds land in `raw`, everything else in the target's schema: no `main_raw` prefixes. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
