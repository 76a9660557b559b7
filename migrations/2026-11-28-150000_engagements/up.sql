-- Calls and text messages staff make to a contact, logged by hand: the
-- Engagement section of the contact's Activity tab.
CREATE TABLE engagements (
    id BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    kind TEXT NOT NULL CHECK (kind IN ('call', 'sms')),
    -- The number used, as stored on the contact when it was logged.
    number TEXT NOT NULL CHECK (number ~ '^\+[0-9]{8,20}$'),
    outcome TEXT NOT NULL CHECK (outcome IN ('answered', 'no_answer', 'busy', 'voicemail', 'failed', 'sent')),
    duration_seconds INTEGER CHECK (duration_seconds BETWEEN 0 AND 86400),
    body TEXT NOT NULL DEFAULT '' CHECK (length(body) <= 1600),
    note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (kind = 'call' OR duration_seconds IS NULL),
    CHECK (kind = 'sms' OR body = '')
);

CREATE INDEX engagements_contact_idx ON engagements (contact_id, created_at DESC, id DESC);
