//! What the appservice has already handled: transactions by ID and events by event ID.

use super::{Db, with_pool};

impl Db {
    pub async fn txn_handled(&self, txn_id: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM appservice_txn WHERE txn_id = $1")
                .bind(txn_id)
                .fetch_one(pool)
                .await
                .map(|count| count > 0)
        })
    }

    pub async fn record_txn(&self, txn_id: &str, now_ms: i64) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO appservice_txn (txn_id, handled_at) VALUES ($1, $2) ON CONFLICT (txn_id) DO NOTHING",
            )
            .bind(txn_id)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    pub async fn matrix_event_handled(&self, event_id: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM handled_matrix_event WHERE event_id = $1",
            )
            .bind(event_id)
            .fetch_one(pool)
            .await
            .map(|count| count > 0)
        })
    }

    pub async fn record_matrix_event(
        &self,
        event_id: &str,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO handled_matrix_event (event_id, handled_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(event_id)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// Forgets records older than `before_ms`: the homeserver never replays that far back.
    pub async fn prune_handled(&self, before_ms: i64) -> Result<u64, sqlx::Error> {
        with_pool!(self, |pool| {
            let txns = sqlx::query("DELETE FROM appservice_txn WHERE handled_at < $1")
                .bind(before_ms)
                .execute(pool)
                .await?
                .rows_affected();
            let events = sqlx::query("DELETE FROM handled_matrix_event WHERE handled_at < $1")
                .bind(before_ms)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(txns + events)
        })
    }
}
