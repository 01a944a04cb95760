{#- Records of rewritten days: a model with one DATE column `first_day`, to which each run of a table adds the
    first day it rewrote; metric_values recomputes from the earliest recorded day and empties the record
    (`rewritten_record` on a semantic model, README "metric_values is incremental"). Nothing is recorded where
    tables are rebuilt whole (keyed_incremental() is 'table'): there metric_values is too. A run selected without
    its record (`dbt build --select fct_headcount_daily` on a new warehouse) creates it as its model would. -#}

{#- Add `first_day` ('YYYY-MM-DD') to the record `record`. -#}
{% macro record_rewritten(record, first_day) -%}
    {%- if keyed_incremental() == 'incremental' -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', first_day | string) -%}
            {{ exceptions.raise_compiler_error(model.name ~ ": the first day a run rewrote is no date: " ~ first_day) }}
        {%- endif -%}
        create table if not exists {{ ref(record) }} (first_day date);
        insert into {{ ref(record) }} (first_day) values (cast('{{ first_day }}' as date));
    {%- endif -%}
{%- endmacro %}

{#- The pre-hook of a table rebuilt whole by each run, `rows` its query: add to `record` the earliest `day` of the
    rows the run adds, removes or changes (compared on `key` and `columns`) against the table as it stands, or
    1900-01-01 when there is no table yet. Nothing is added when no row changes. -#}
{% macro record_changed_rows(record, rows, key, day, columns) -%}
    {%- if keyed_incremental() == 'incremental' -%}
        {%- if load_relation(this) is none -%}
            {{ record_rewritten(record, '1900-01-01') }}
        {%- else -%}
        create table if not exists {{ ref(record) }} (first_day date);
        insert into {{ ref(record) }} (first_day)
        select min(first_day)
        from (
            select
                case
                    when old.{{ key }} is null then new.{{ day }}
                    when new.{{ key }} is null or new.{{ day }} is null or old.{{ day }} < new.{{ day }}
                        then old.{{ day }}
                    else new.{{ day }}
                end as first_day
            from {{ this }} as old
            full outer join ({{ rows }}) as new on new.{{ key }} = old.{{ key }}
            where old.{{ key }} is null or new.{{ key }} is null
                or new.{{ day }} is distinct from old.{{ day }}
                {%- for name in columns %}
                or new.{{ name }} is distinct from old.{{ name }}
                {%- endfor %}
        ) as changed
        having min(first_day) is not null;
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
