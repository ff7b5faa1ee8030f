-- Appservice transactions already handled, so a replay does nothing twice.
CREATE TABLE appservice_txn (
    txn_id TEXT PRIMARY KEY,
    handled_at BIGINT NOT NULL
);
CREATE INDEX appservice_txn_handled_at ON appservice_txn (handled_at);

-- Matrix events already acted on, so the same event in another transaction is not redone.
CREATE TABLE handled_matrix_event (
    event_id TEXT PRIMARY KEY,
    handled_at BIGINT NOT NULL
);
CREATE INDEX handled_matrix_event_handled_at ON handled_matrix_event (handled_at);

-- Each Matrix user's direct chat with the bot, where commands need no prefix.
CREATE TABLE management_room (
    user_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX management_room_room_id ON management_room (room_id);
