-- Enquiries: what visitors send through the public support form, the
-- conversation with staff, and the status that decides who may do what with
-- the contact (Open, Handling, Missed, Closed).

CREATE TABLE enquiries (
    id BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts (id),
    channel TEXT NOT NULL DEFAULT 'web_form' CHECK (channel IN ('web_form')),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'handling', 'missed', 'closed')),
    -- What the visitor typed, kept as typed for the record.
    visitor_name TEXT NOT NULL CHECK (length(visitor_name) <= 201),
    visitor_email TEXT CHECK (length(visitor_email) <= 254),
    visitor_phone TEXT CHECK (length(visitor_phone) <= 32),
    -- The visitor's private link: only its SHA-256 is stored.
    token_hash BYTEA NOT NULL UNIQUE,
    handler_id BIGINT REFERENCES staff (id),
    -- Other live contacts that matched the visitor's email or phone.
    possible_duplicates BIGINT[] NOT NULL DEFAULT '{}',
    resolution TEXT NOT NULL DEFAULT '' CHECK (length(resolution) <= 2000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When it last became Open (created or reopened): Missed counts from here.
    opened_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    taken_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    closed_by BIGINT REFERENCES staff (id),
    last_message_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((status = 'handling') = (handler_id IS NOT NULL))
);

-- Each tab of the Enquiries page, oldest first.
CREATE INDEX enquiries_status_idx ON enquiries (status, opened_at, id);
CREATE INDEX enquiries_handler_idx ON enquiries (handler_id, opened_at, id) WHERE status = 'handling';
-- A contact's Enquiry History, newest first.
CREATE INDEX enquiries_contact_idx ON enquiries (contact_id, created_at DESC, id DESC);

CREATE TABLE enquiry_messages (
    id BIGSERIAL PRIMARY KEY,
    enquiry_id BIGINT NOT NULL REFERENCES enquiries (id) ON DELETE CASCADE,
    -- NULL: the visitor wrote it.
    staff_id BIGINT REFERENCES staff (id),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX enquiry_messages_enquiry_idx ON enquiry_messages (enquiry_id, id);

-- What happened to an enquiry besides messages: taken, transferred, closed,
-- reopened, missed. Shown in the conversation as it happened.
CREATE TABLE enquiry_events (
    id BIGSERIAL PRIMARY KEY,
    enquiry_id BIGINT NOT NULL REFERENCES enquiries (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('taken', 'transferred', 'closed', 'reopened', 'missed')),
    staff_id BIGINT REFERENCES staff (id),
    -- Transferred: to whom.
    to_staff BIGINT REFERENCES staff (id),
    note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX enquiry_events_enquiry_idx ON enquiry_events (enquiry_id, id);

-- The support form's rate limit per client address, across instances.
CREATE TABLE support_submissions (
    id BIGSERIAL PRIMARY KEY,
    client TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX support_submissions_client_idx ON support_submissions (client, created_at);

-- How long an Open enquiry waits for someone to take it before it is Missed.
ALTER TABLE settings ADD COLUMN missed_after_minutes INTEGER NOT NULL DEFAULT 15
    CHECK (missed_after_minutes BETWEEN 1 AND 1440);
