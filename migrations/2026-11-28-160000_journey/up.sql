-- The web journey: page views sent by the script a company adds to its own
-- website, from the origins administrators allow, linked to a contact once
-- the visitor sends an enquiry.

CREATE TABLE web_origins (
    id BIGSERIAL PRIMARY KEY,
    -- scheme://host[:port], lower-case, as browsers send it in Origin.
    origin TEXT NOT NULL UNIQUE CHECK (origin ~ '^https?://[a-z0-9.-]+(:[0-9]{1,5})?$'),
    added_by BIGINT REFERENCES staff (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A browser's first-party visitor id, and the contact it turned out to be.
CREATE TABLE web_visitors (
    visitor_id TEXT PRIMARY KEY CHECK (visitor_id ~ '^[A-Za-z0-9_-]{16,64}$'),
    contact_id BIGINT REFERENCES contacts (id) ON DELETE SET NULL,
    linked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE page_views (
    id BIGSERIAL PRIMARY KEY,
    visitor_id TEXT NOT NULL CHECK (visitor_id ~ '^[A-Za-z0-9_-]{16,64}$'),
    contact_id BIGINT REFERENCES contacts (id) ON DELETE CASCADE,
    origin TEXT NOT NULL,
    url TEXT NOT NULL CHECK (length(url) <= 2048),
    title TEXT NOT NULL DEFAULT '' CHECK (length(title) <= 300),
    referrer TEXT NOT NULL DEFAULT '' CHECK (length(referrer) <= 2048),
    viewed_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A contact's Journey, newest first; a visitor's views not yet linked.
CREATE INDEX page_views_contact_idx ON page_views (contact_id, viewed_at DESC, id DESC) WHERE contact_id IS NOT NULL;
CREATE INDEX page_views_visitor_idx ON page_views (visitor_id) WHERE contact_id IS NULL;

ALTER TABLE enquiries ADD COLUMN visitor_id TEXT CHECK (visitor_id ~ '^[A-Za-z0-9_-]{16,64}$');
