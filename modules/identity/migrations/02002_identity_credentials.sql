-- Password credentials, hashed with bcrypt from pgcrypto.

-- +goose Up
CREATE TABLE identity.credentials (
    person_id     uuid PRIMARY KEY REFERENCES identity.persons (id) ON DELETE CASCADE,
    password_hash text NOT NULL CHECK (password_hash LIKE '$2a$%'),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0)
);

-- +goose StatementBegin
CREATE FUNCTION identity.set_password(p_person uuid, p_password text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF length(p_password) < 12 THEN
        RAISE EXCEPTION 'password too short' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO identity.credentials AS c (person_id, password_hash)
    VALUES (p_person, public.crypt(p_password, public.gen_salt('bf', 10)))
    ON CONFLICT (person_id) DO UPDATE
        SET password_hash = EXCLUDED.password_hash, changed_at = now(), failed_logins = 0;
END
$$;

-- Returns the person when the password matches an active account, else NULL.
CREATE FUNCTION identity.verify_password(p_email citext, p_password text) RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_id uuid;
BEGIN
    SELECT p.id INTO v_id
      FROM identity.persons p
      JOIN identity.credentials c ON c.person_id = p.id
     WHERE p.email = p_email
       AND p.status = 'active'
       AND c.password_hash = public.crypt(p_password, c.password_hash);
    RETURN v_id;
END
$$;
-- +goose StatementEnd

GRANT SELECT, INSERT, UPDATE, DELETE ON identity.credentials TO identity_owner;
GRANT EXECUTE ON FUNCTION identity.set_password(uuid, text),
    identity.verify_password(citext, text) TO identity_owner;

-- +goose Down
DROP FUNCTION identity.verify_password(citext, text);
DROP FUNCTION identity.set_password(uuid, text);
DROP TABLE identity.credentials;
