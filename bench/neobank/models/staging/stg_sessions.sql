-- raw.sessions as it lands.
select * from {{ source('raw', 'sessions') }}
