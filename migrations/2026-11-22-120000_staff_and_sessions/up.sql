-- Staff accounts (the internal directory), their server-side sessions and the
-- sign-in attempts used for throttling.

CREATE TABLE staff (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    -- NULL: the account cannot sign in until an administrator sets a password.
    password_hash TEXT,
    role TEXT NOT NULL DEFAULT 'agent' CHECK (role IN ('admin', 'agent')),
    department TEXT NOT NULL DEFAULT '' CHECK (length(department) <= 255),
    job_title TEXT NOT NULL DEFAULT '' CHECK (length(job_title) <= 255),
    time_zone TEXT NOT NULL DEFAULT 'UTC' CHECK (length(time_zone) <= 64),
    extension TEXT CHECK (extension ~ '^[0-9]{2,8}$'),
    phone TEXT CHECK (phone ~ '^\+[0-9]{8,20}$'),
    availability TEXT NOT NULL DEFAULT 'offline'
        CHECK (availability IN ('available', 'busy', 'away', 'offline')),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    avatar_version INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX staff_email_key ON staff (lower(email));
CREATE UNIQUE INDEX staff_extension_key ON staff (extension) WHERE extension IS NOT NULL;
CREATE INDEX staff_display_name_idx ON staff (lower(display_name), id);

-- Kept apart from `staff` so that directory queries never drag image bytes along.
CREATE TABLE staff_avatars (
    staff_id BIGINT PRIMARY KEY REFERENCES staff (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')),
    data BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    -- Denormalised from the state so that signing a member out everywhere is one DELETE.
    staff_id BIGINT REFERENCES staff (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX sessions_staff_id_idx ON sessions (staff_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE login_attempts (
    id BIGSERIAL PRIMARY KEY,
    -- The lower-cased email as typed, whether or not such an account exists.
    email_key TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX login_attempts_email_idx ON login_attempts (email_key, attempted_at);
