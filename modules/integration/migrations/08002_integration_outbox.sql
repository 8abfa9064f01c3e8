-- A transactional outbox: modules write messages in their own transaction and
-- a relay publishes them, so a message is sent if and only if the change
-- committed.

-- +goose Up
CREATE TABLE integration.outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text NOT NULL CHECK (topic ~ '^[a-z]+(\.[a-z_]+)+$'),
    message_key  text,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON integration.outbox (id) WHERE published_at IS NULL;

-- +goose StatementBegin
CREATE FUNCTION integration.enqueue(p_topic text, p_payload jsonb, p_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO integration.outbox (topic, message_key, payload)
    VALUES (p_topic, p_key, p_payload)
    RETURNING id;
$$;
-- +goose StatementEnd

GRANT SELECT, INSERT, UPDATE ON integration.outbox TO integration_owner;
GRANT EXECUTE ON FUNCTION integration.enqueue(text, jsonb, text) TO integration_owner;

-- +goose Down
DROP FUNCTION integration.enqueue(text, jsonb, text);
DROP TABLE integration.outbox;
