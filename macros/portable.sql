{#- SQL that differs between warehouses, in one place. Models call these instead of engine-only syntax. -#}

{#- An 8-byte floating-point type: `double` on DuckDB and Spark, `double precision` on PostgreSQL. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{% macro postgres__type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}

{% macro snowflake__type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{% macro bigquery__type_double() -%}
    {{ return('float64') }}
{%- endmacro %}

{#- Round half away from zero, the same on every engine: through a decimal, since engines round binary
    doubles differently (2.675 is 2.67499... as a double). -#}
{% macro round_half_up(value, places) -%}
    cast(round(cast({{ value }} as decimal(18, 6)), {{ places }}) as {{ type_double() }})
{%- endmacro %}

{#- A date as text in ISO form ('2024-03-05'); `compact=true` drops the dashes ('20240305'). -#}
{% macro date_text(value, compact=false) -%}
    {%- if compact -%}
        replace(cast(cast({{ value }} as date) as {{ dbt.type_string() }}), '-', '')
    {%- else -%}
        cast(cast({{ value }} as date) as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}

{#- Days from `start` to `end` (dates). -#}
{% macro days_between(start, end) -%}
    {{ dbt.datediff('cast(' ~ start ~ ' as date)', 'cast(' ~ end ~ ' as date)', 'day') }}
{%- endmacro %}

{#- How the staging model of a large fact that deduplicates by a key is stored: an incremental table whose
    runs delete and re-insert the keys a load touched, where tables delete rows; on Spark a table rebuilt in
    full (its parquet tables take no DELETE, and insert_overwrite replaces partitions, not keys). -#}
{% macro keyed_incremental() -%}
    {{ return(adapter.dispatch('keyed_incremental')()) }}
{%- endmacro %}

{% macro default__keyed_incremental() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__keyed_incremental() -%}
    {{ return('table') }}
{%- endmacro %}

{#- In an incremental run: the rows loaded (`column`, a load time) since the latest load the model holds
    (its `loaded_at`). Rows of that latest load are read again; deleting and re-inserting their keys makes
    that harmless, and a load that lands after the run started is read by the next run. -#}
{% macro loaded_since_last_run(column='loaded_at') -%}
    cast({{ column }} as timestamp) >= (select max(loaded_at) from {{ this }})
{%- endmacro %}
