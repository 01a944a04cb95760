{#- The relation a generic dbt test reads, narrowed by its `where` config (dbt's own macro, plus two words).

    In a test's `where`, `rows_since_last_build(loaded_at)` stands for the rows loaded since the last build
    (`loaded_at >= <the newest loaded_at the table held before this build>`), and
    `keys_since_last_build(order_line_id, loaded_at)` for every row sharing an order_line_id with one of them.
    `metricsctl build` reads those bounds before dbt runs and hands them over in the environment variable
    METRICSCTL_SINCE_LAST_BUILD (metricsctl/since_last_build.py). Without a bound (a full refresh, a first
    build, a model that is not incremental on this target, `dbt test` run by hand) each stands for every row:
    the test checks the whole table. The bound becomes a literal, so the filter applies while the table is
    scanned. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '_since_last_build' in where -%}
        {%- set ns = namespace(where=where, bad=false) -%}
        {%- set bounds = {} -%}
        {%- if execute -%}
            {%- set bounds = fromjson(env_var('METRICSCTL_SINCE_LAST_BUILD', '{}')).get(model.attached_node, {}) -%}
        {%- endif -%}
        {%- for found in modules.re.finditer('\\b(rows|keys)_since_last_build\\s*\\(([^()]*)\\)', where) -%}
            {%- set args = found.group(2).split(',') | map('trim') | list -%}
            {%- set wanted = 1 if found.group(1) == 'rows' else 2 -%}
            {%- set ns.bad = args | length != wanted -%}
            {%- for arg in args if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', arg) -%}
                {%- set ns.bad = true -%}
            {%- endfor -%}
            {%- if ns.bad -%}
                {{ exceptions.raise_compiler_error("`" ~ found.group(0) ~ "` in the where of " ~ model.name
                    ~ ": name the column(s), e.g. rows_since_last_build(loaded_at) or "
                    ~ "keys_since_last_build(order_line_id, loaded_at)") }}
            {%- endif -%}
            {%- set bound = bounds.get(args[-1]) -%}
            {%- if not bound -%}
                {%- set condition = '(1 = 1)' -%}
            {%- else -%}
                {%- if bound[0] not in ('timestamp', 'date', 'integer')
                       or not modules.re.match('^[0-9][0-9 :.\\-]*$', bound[1]) -%}
                    {{ exceptions.raise_compiler_error("METRICSCTL_SINCE_LAST_BUILD holds a bound that is no "
                        ~ "timestamp, date or number: " ~ bound) }}
                {%- endif -%}
                {%- set literal = bound[1] if bound[0] == 'integer' else "cast('" ~ bound[1] ~ "' as " ~ bound[0] ~ ")" -%}
                {%- set since = adapter.quote(args[-1]) ~ ' >= ' ~ literal -%}
                {%- if wanted == 1 -%}
                    {%- set condition = '(' ~ since ~ ')' -%}
                {%- else -%}
                    {%- set key = adapter.quote(args[0]) -%}
                    {%- set condition = '(' ~ key ~ ' in (select ' ~ key ~ ' from ' ~ relation ~ ' where ' ~ since ~ '))' -%}
                {%- endif -%}
            {%- endif -%}
            {%- set ns.where = ns.where.replace(found.group(0), condition) -%}
        {%- endfor -%}
        {%- set where = ns.where -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- Said by an incremental model's run whose rewritten rows no bound read before the build can tell (a run
    that rebuilds rows chosen by comparing the table with its sources, such as fct_headcount_daily): every row
    it deleted or inserted has `column` >= `first_value` (a date, 'YYYY-MM-DD'). `metricsctl build` hears it
    while dbt runs and the model's tests that ask for `rows_since_last_build(<column>)` check those rows
    (metricsctl/since_last_build.py); without it (a full refresh, a first build, `dbt build` by hand) they
    check the whole table. The model declares it in its config: meta={'metricsctl': {'rewritten_column': ...}}.
-#}
{% macro announce_rewritten(column, first_value) -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', first_value | string) -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": the first day a run rewrote is no date: " ~ first_value) }}
    {%- endif -%}
    {%- do log('metricsctl_rewritten ' ~ tojson({'unique_id': model.unique_id, 'column': column,
                                                 'value': first_value | string})) -%}
{%- endmacro %}
