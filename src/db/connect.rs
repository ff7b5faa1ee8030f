use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Db, with_pool};
use crate::config::{DatabaseConfig, DatabaseType};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the SQLite database {path}: {source}")]
    OpenSqlite { path: String, source: sqlx::Error },
    #[error("cannot connect to the Postgres database {uri}: {source}")]
    ConnectPostgres { uri: String, source: sqlx::Error },
    #[error("cannot create the SQLite file {path}: {source}")]
    CreateFile {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the database schema is version {found}, newer than this matrix-whatsapp knows ({known}); \
         it was used by a newer release. Run that release, or restore a backup made before the upgrade"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// Opens the configured database and brings its schema up to date.
pub async fn connect(config: &DatabaseConfig, config_dir: &Path) -> Result<Db, DbError> {
    let db = match config.kind {
        DatabaseType::Sqlite => open_sqlite(config, config_dir).await?,
        DatabaseType::Postgres => Db::Postgres(
            PgPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(&config.uri)
                .await
                .map_err(|source| DbError::ConnectPostgres {
                    uri: without_password(&config.uri),
                    source,
                })?,
        ),
    };
    migrate(&db).await?;
    Ok(db)
}

async fn open_sqlite(config: &DatabaseConfig, config_dir: &Path) -> Result<Db, DbError> {
    let path = config.sqlite_path(config_dir);
    create_private_file(&path)?;
    let options = SqliteConnectOptions::from_str("sqlite:")
        .map_err(|source| DbError::OpenSqlite {
            path: path.display().to_string(),
            source,
        })?
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a message acknowledged to its source must survive a power cut too.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(config.max_connections)
        .connect_with(options)
        .await
        .map_err(|source| DbError::OpenSqlite {
            path: path.display().to_string(),
            source,
        })?;
    Ok(Db::Sqlite(pool))
}

/// The file holds session keys: owner-only from the very first byte.
fn create_private_file(path: &Path) -> Result<(), DbError> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|source| DbError::CreateFile {
            path: path.display().to_string(),
            source,
        })
}

async fn migrate(db: &Db) -> Result<(), DbError> {
    let migrator = match db {
        Db::Sqlite(_) => &SQLITE_MIGRATIONS,
        Db::Postgres(_) => &POSTGRES_MIGRATIONS,
    };
    let known = migrator
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0);
    if let Some(found) = applied_version(db).await?
        && found > known
    {
        return Err(DbError::SchemaTooNew { found, known });
    }
    with_pool!(db, |pool| migrator.run(pool).await)?;
    Ok(())
}

/// The newest applied migration, or None for a fresh database.
async fn applied_version(db: &Db) -> Result<Option<i64>, DbError> {
    let exists: bool = match db {
        Db::Sqlite(pool) => sqlx::query_scalar(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(pool)
        .await?,
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(pool)
                .await?
        }
    };
    if !exists {
        return Ok(None);
    }
    let version: Option<i64> = with_pool!(db, |pool| {
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await?
    });
    Ok(version)
}

/// For error messages: a Postgres URI without its password.
fn without_password(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(unparsable URI)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        let shown = without_password("postgres://bridge:s3cret@db.example/whatsapp");
        assert!(!shown.contains("s3cret"));
        assert!(shown.contains("db.example"));
    }
}
