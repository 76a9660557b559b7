-- External contacts (leads, prospects, customers) with their typed phones,
-- emails and social IDs, labels, custom fields and the change log.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE labels (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    colour TEXT NOT NULL DEFAULT '#64748b' CHECK (colour ~ '^#[0-9a-f]{6}$'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX labels_name_key ON labels (lower(name));

CREATE TABLE custom_fields (
    id BIGSERIAL PRIMARY KEY,
    label TEXT NOT NULL CHECK (length(btrim(label)) BETWEEN 1 AND 100),
    kind TEXT NOT NULL CHECK (kind IN ('text', 'number', 'date', 'dropdown')),
    options TEXT[] NOT NULL DEFAULT '{}',
    required BOOLEAN NOT NULL DEFAULT FALSE,
    position INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX custom_fields_label_key ON custom_fields (lower(label));

CREATE TABLE contacts (
    id BIGSERIAL PRIMARY KEY,
    first_name TEXT NOT NULL DEFAULT '' CHECK (length(first_name) <= 100),
    last_name TEXT NOT NULL CHECK (length(btrim(last_name)) BETWEEN 1 AND 100),
    contact_type TEXT NOT NULL DEFAULT 'lead'
        CHECK (contact_type IN ('lead', 'prospect', 'customer', 'others')),
    level TEXT NOT NULL DEFAULT 'primary' CHECK (level IN ('primary', 'secondary', 'tertiary')),
    company TEXT NOT NULL DEFAULT '' CHECK (length(company) <= 255),
    job_title TEXT NOT NULL DEFAULT '' CHECK (length(job_title) <= 255),
    team TEXT NOT NULL DEFAULT '' CHECK (length(team) <= 255),
    contact_group TEXT NOT NULL DEFAULT '' CHECK (length(contact_group) <= 255),
    birth_date DATE,
    language TEXT CHECK (language ~ '^[a-z]{2}$'),
    street TEXT NOT NULL DEFAULT '' CHECK (length(street) <= 255),
    city TEXT NOT NULL DEFAULT '' CHECK (length(city) <= 255),
    state TEXT NOT NULL DEFAULT '' CHECK (length(state) <= 255),
    zip_code TEXT NOT NULL DEFAULT '' CHECK (length(zip_code) <= 255),
    country TEXT CHECK (country ~ '^[A-Z]{2}$'),
    owner_id BIGINT REFERENCES staff (id),
    created_by BIGINT REFERENCES staff (id),
    updated_by BIGINT REFERENCES staff (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Bumped by every save: a form carries the version it was opened at, and
    -- a save from a stale form is refused rather than overwriting.
    version INTEGER NOT NULL DEFAULT 1,
    deleted_at TIMESTAMPTZ,
    deleted_by BIGINT REFERENCES staff (id),
    merged_into BIGINT REFERENCES contacts (id),
    -- The list's name order: "first last", lower-cased.
    sort_name TEXT GENERATED ALWAYS AS (lower(btrim(first_name || ' ' || last_name))) STORED,
    -- What the one search box looks in: names, company, emails and phone digits;
    -- kept current by the application whenever any of them changes.
    search_text TEXT NOT NULL DEFAULT ''
);

CREATE INDEX contacts_sort_name_idx ON contacts (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_company_idx ON contacts (lower(company), id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_created_idx ON contacts (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_updated_idx ON contacts (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_owner_idx ON contacts (owner_id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_deleted_idx ON contacts (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX contacts_search_trgm_idx ON contacts USING gin (search_text gin_trgm_ops) WHERE deleted_at IS NULL;

CREATE TABLE contact_phones (
    id BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('mobile', 'work', 'home', 'other')),
    number TEXT NOT NULL CHECK (number ~ '^\+[0-9]{8,20}$'),
    position INTEGER NOT NULL DEFAULT 0,
    verified BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX contact_phones_contact_idx ON contact_phones (contact_id, position);
CREATE INDEX contact_phones_number_idx ON contact_phones (number);

CREATE TABLE contact_emails (
    id BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('work', 'personal', 'other')),
    email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    position INTEGER NOT NULL DEFAULT 0,
    verified BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX contact_emails_contact_idx ON contact_emails (contact_id, position);
CREATE INDEX contact_emails_email_idx ON contact_emails (lower(email));

CREATE TABLE contact_socials (
    id BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('facebook', 'whatsapp', 'wechat', 'line', 'twitter', 'linkedin',
        'woztell_whatsapp', 'woztell_facebook', 'woztell_instagram')),
    handle TEXT NOT NULL CHECK (length(btrim(handle)) BETWEEN 1 AND 255),
    position INTEGER NOT NULL DEFAULT 0,
    verified BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX contact_socials_contact_idx ON contact_socials (contact_id, position);

CREATE TABLE contact_labels (
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    label_id BIGINT NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    PRIMARY KEY (contact_id, label_id)
);

CREATE INDEX contact_labels_label_idx ON contact_labels (label_id, contact_id);

CREATE TABLE custom_field_values (
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    field_id BIGINT NOT NULL REFERENCES custom_fields (id) ON DELETE CASCADE,
    value TEXT NOT NULL CHECK (length(value) <= 1000),
    PRIMARY KEY (contact_id, field_id)
);

-- One row per changed field, written in the same transaction as the change.
CREATE TABLE contact_changes (
    id BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    staff_id BIGINT REFERENCES staff (id),
    source TEXT NOT NULL CHECK (source IN ('form', 'import', 'merge', 'enquiry', 'bulk')),
    action TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'restore', 'merge')),
    field TEXT,
    old_value TEXT,
    new_value TEXT,
    -- The contact's version after this change: what an edit form opened at an
    -- older version missed.
    version INTEGER NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX contact_changes_contact_idx ON contact_changes (contact_id, changed_at DESC, id DESC);
