-- Tokens of every kind. Only the argon2id PHC string of a secret is stored, never the token.
CREATE TABLE tokens (
    id           TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    permissions  TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'active',
    operator     INTEGER NOT NULL DEFAULT 0,
    token_prefix TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL,
    created_by   TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT,
    CONSTRAINT tokens_pkey PRIMARY KEY (id),
    CONSTRAINT tokens_id_format CHECK (length(id) = 16 AND id NOT GLOB '*[^0-9a-f]*'),
    CONSTRAINT tokens_kind_valid CHECK (kind IN ('database', 'management')),
    CONSTRAINT tokens_status_valid CHECK (status IN ('active', 'inactive')),
    CONSTRAINT tokens_permissions_array CHECK (json_valid(permissions) AND json_type(permissions) = 'array'),
    CONSTRAINT tokens_operator_is_management CHECK (operator IN (0, 1) AND (operator = 0 OR kind = 'management')),
    CONSTRAINT tokens_secret_hash_argon2id CHECK (secret_hash LIKE '$argon2id$%')
) STRICT;

-- At most one live operator token: this is what makes concurrent bootstraps mint exactly one.
CREATE UNIQUE INDEX tokens_one_active_operator ON tokens (operator)
    WHERE operator AND revoked_at IS NULL;

CREATE INDEX tokens_kind_id ON tokens (kind, id);
