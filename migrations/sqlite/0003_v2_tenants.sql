-- InfluxDB v2 tenants: organizations and v2 users (distinct from the IdP-keyed `users`).
CREATE TABLE orgs (
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT orgs_pkey PRIMARY KEY (id),
    CONSTRAINT orgs_id_format CHECK (length(id) = 16 AND id NOT GLOB '*[^0-9a-f]*'),
    CONSTRAINT orgs_name_unique UNIQUE (name),
    CONSTRAINT orgs_name_not_empty CHECK (length(name) > 0)
) STRICT;

CREATE TABLE v2_users (
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT v2_users_pkey PRIMARY KEY (id),
    CONSTRAINT v2_users_id_format CHECK (length(id) = 16 AND id NOT GLOB '*[^0-9a-f]*'),
    CONSTRAINT v2_users_name_unique UNIQUE (name),
    CONSTRAINT v2_users_name_not_empty CHECK (length(name) > 0),
    CONSTRAINT v2_users_status_valid CHECK (status IN ('active', 'inactive'))
) STRICT;

-- `POST /api/v2/setup` succeeds once: the single row is what makes concurrent setups race safely.
CREATE TABLE setup (
    id           INTEGER NOT NULL,
    completed_at TEXT    NOT NULL,
    CONSTRAINT setup_pkey PRIMARY KEY (id),
    CONSTRAINT setup_single_row CHECK (id = 1)
) STRICT;

-- The v2 owner of a token. No foreign keys: deleting a user or org revokes its tokens in the
-- same transaction, and verification also refuses a token whose owner is gone or inactive.
ALTER TABLE tokens ADD COLUMN user_id TEXT;
ALTER TABLE tokens ADD COLUMN org_id TEXT;
CREATE INDEX tokens_user_id ON tokens (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX tokens_org_id ON tokens (org_id) WHERE org_id IS NOT NULL;
