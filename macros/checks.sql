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
