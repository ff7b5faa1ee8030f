//! The database: one pool for SQLite or Postgres, migrations, and one repository per table
//! family. Queries are written once in SQL both backends understand (`$1` placeholders,
//! `ON CONFLICT`), and `with_pool!` runs them on whichever pool is configured.

pub mod api_devices;
mod connect;
pub mod ghosts;
pub mod lid_phones;
pub mod logins;
pub mod management_rooms;
pub mod message_map;
pub mod outbox;
pub mod poll_secrets;
pub mod portals;
pub mod reactions;
pub mod read_marks;
pub mod transactions;

use sqlx::{PgPool, SqlitePool};

pub use connect::{DbError, connect};

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, whichever backend it is.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Db {
    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}
