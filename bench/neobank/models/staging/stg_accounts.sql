-- raw.accounts as it lands.
select * from {{ source('raw', 'accounts') }}
