-- raw.upgrades as it lands.
select * from {{ source('raw', 'upgrades') }}
