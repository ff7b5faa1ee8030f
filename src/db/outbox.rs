//! The outbox: Matrix events a portal's owner sent, waiting to go to WhatsApp. Stored
//! before the homeserver hears that the event was taken, taken away once it was sent.

use super::{Db, with_pool};

/// One waiting event: its JSON as the homeserver sent it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRow {
    pub seq: i64,
    pub event_id: String,
    pub room_id: String,
    pub event: String,
}

impl Db {
    /// Queues an event for the device; an event already queued stays as it is.
    pub async fn queue_outgoing(
        &self,
        device_id: i32,
        event_id: &str,
        room_id: &str,
        event: &str,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO outbox (device_id, event_id, room_id, event, queued_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(device_id)
            .bind(event_id)
            .bind(room_id)
            .bind(event)
            .bind(now_ms)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The device's oldest waiting event.
    pub async fn next_outgoing(&self, device_id: i32) -> Result<Option<OutboxRow>, sqlx::Error> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, event_id, room_id, event FROM outbox \
                 WHERE device_id = $1 ORDER BY seq LIMIT 1",
            )
            .bind(device_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Takes a sent (or unsendable) event out of the outbox.
    pub async fn remove_outgoing(&self, seq: i64) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query("DELETE FROM outbox WHERE seq = $1")
                .bind(seq)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Events waiting in every outbox (a metric).
    pub async fn outgoing_waiting(&self) -> Result<i64, sqlx::Error> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
                .fetch_one(pool)
                .await?
        }))
    }
}
