-- raw.transactions as it lands.
select * from {{ source('raw', 'transactions') }}
