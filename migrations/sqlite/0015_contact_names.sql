-- The name a contact has in a bridge user's phone address book (WhatsApp's app state),
-- for display names when `bridge.displayname_sources` lists contact_name.
CREATE TABLE contact_name (
    identifier TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
