-- Users known to the cluster: synced from the [[users]] configuration at start.
CREATE TABLE users (
    id          TEXT        NOT NULL,
    first_name  TEXT        NOT NULL,
    last_name   TEXT        NOT NULL,
    email       TEXT        NOT NULL,
    groups      JSONB       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_id_not_empty CHECK (length(id) > 0),
    CONSTRAINT users_groups_array CHECK (jsonb_typeof(groups) = 'array')
);

-- Every management action and refusal, written in the same transaction as the change.
CREATE TABLE audit_log (
    id          BIGSERIAL   NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT        NOT NULL,
    action      TEXT        NOT NULL,
    target      TEXT,
    outcome     TEXT        NOT NULL,
    client      TEXT,
    request_id  TEXT,
    detail      TEXT,
    CONSTRAINT audit_log_pkey PRIMARY KEY (id),
    CONSTRAINT audit_log_outcome_valid CHECK (outcome IN ('success', 'refused'))
);

CREATE INDEX audit_log_at ON audit_log (at);
