-- The org `/api/v2/setup` made is the default org: data-path requests that name no org (v1 and
-- v3 paths, and `/api/v0/authorize` without `org`) are in it, as InfluxDB's v1 layer maps them.
ALTER TABLE setup ADD COLUMN org_id TEXT;
UPDATE setup SET org_id = (
    SELECT org_id FROM tokens WHERE created_by = 'setup' AND org_id IS NOT NULL
    ORDER BY created_at LIMIT 1
);
