-- raw.balances as it lands.
select * from {{ source('raw', 'balances') }}
