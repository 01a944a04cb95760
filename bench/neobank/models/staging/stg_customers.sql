-- raw.customers as it lands.
select * from {{ source('raw', 'customers') }}
