-- Tokens of every kind. Only the argon2id PHC string of a secret is stored, never the token.
CREATE TABLE tokens (
    id           TEXT        NOT NULL,
    kind         TEXT        NOT NULL,
    description  TEXT        NOT NULL,
    permissions  JSONB       NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'active',
    operator     BOOLEAN     NOT NULL DEFAULT FALSE,
    token_prefix TEXT        NOT NULL,
    secret_hash  TEXT        NOT NULL,
    created_by   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    CONSTRAINT tokens_pkey PRIMARY KEY (id),
    CONSTRAINT tokens_id_format CHECK (id ~ '^[0-9a-f]{16}$'),
    CONSTRAINT tokens_kind_valid CHECK (kind IN ('database', 'management')),
    CONSTRAINT tokens_status_valid CHECK (status IN ('active', 'inactive')),
    CONSTRAINT tokens_permissions_array CHECK (jsonb_typeof(permissions) = 'array'),
    CONSTRAINT tokens_operator_is_management CHECK (NOT operator OR kind = 'management'),
    CONSTRAINT tokens_secret_hash_argon2id CHECK (secret_hash LIKE '$argon2id$%')
);

-- At most one live operator token: this is what makes concurrent bootstraps mint exactly one.
CREATE UNIQUE INDEX tokens_one_active_operator ON tokens (operator)
    WHERE operator AND revoked_at IS NULL;

CREATE INDEX tokens_kind_id ON tokens (kind, id);
