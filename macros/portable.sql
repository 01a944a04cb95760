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

{#- The staging of a source that carries only its date (no load time): an incremental table by date whose
    runs rebuild the days from the latest day it holds minus `lookback_days`, its model config's
    `meta: {metricsctl: {lookback_column: <date column>, lookback_days: N}}`. The pre-hook deletes those
    days (`lookback_delete()`), the model's query selects them again (`lookback_rebuilt(<source date>)`), both
    from one bound read before either runs; metricsctl reads the same bound before a nightly build for the
    model's checks (metricsctl/since_last_build.py). The rows equal a full refresh's as long as a load changes
    no earlier day. -#}
{% macro lookback_since() -%}
    {%- set settings = (config.get('meta') or {}).get('metricsctl') or {} -%}
    {%- set column, days = settings.get('lookback_column'), settings.get('lookback_days') -%}
    {%- if column is not string or not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', column)
           or days is not number or days != days | int or days < 0 -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": an incremental table by date needs "
            ~ "config(meta={'metricsctl': {'lookback_column': '<its date column>', 'lookback_days': <days>}})") }}
    {%- endif -%}
    {%- if not execute -%}{{ return('1900-01-01') }}{%- endif -%}
    {%- set query -%}
        select cast({{ dbt.dateadd('day', -(days | int), 'max(' ~ adapter.quote(column) ~ ')') }} as date) from {{ this }}
    {%- endset -%}
    {%- set found = run_query(query).rows[0][0] -%}
    {%- set since = '1900-01-01' if found is none else (found | string)[:10] -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', since) -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": the latest " ~ column ~ " minus " ~ days
            ~ " days is no date: " ~ since) }}
    {%- endif -%}
    {{ return(since) }}
{%- endmacro %}

{#- In an incremental run of such a model: the source rows of the days it rebuilds (`value`: their date). -#}
{% macro lookback_rebuilt(value) -%}
    {{ value }} >= cast('{{ lookback_since() }}' as date)
{%- endmacro %}

{#- The pre-hook of such a model's incremental runs: delete the days the run rebuilds. -#}
{% macro lookback_delete() -%}
    {%- set column = config.get('meta')['metricsctl']['lookback_column'] -%}
    delete from {{ this }} where {{ lookback_rebuilt(adapter.quote(column)) }}
{%- endmacro %}
