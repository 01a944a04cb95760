select customer_id, region, segment, cast(signup_date as date) as signup_date
from {{ ref('customers') }}
