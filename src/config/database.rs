use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ConfigError, Docs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseType {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(rename = "type")]
    pub kind: DatabaseType,
    pub uri: String,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            kind: DatabaseType::Sqlite,
            uri: "matrix-whatsapp.db".into(),
            max_connections: 10,
        }
    }
}

pub(super) const DOCS: Docs = &[
    ("", "Where the bridge keeps its state."),
    (
        "type",
        "sqlite (a file, nothing to install; fine for a few users) or postgres (recommended\nfor larger bridges).",
    ),
    (
        "uri",
        "For sqlite: the database file, relative to this config file's folder.\nFor postgres: a URI such as postgres://user:password@localhost/matrix_whatsapp.\nCan also come from the MATRIX_WHATSAPP_DATABASE_URI environment variable.",
    ),
    (
        "max_connections",
        "The most database connections the bridge opens at once.",
    ),
];

impl DatabaseConfig {
    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        match self.kind {
            DatabaseType::Sqlite => {
                if self.uri.trim().is_empty() {
                    errors.push(ConfigError::invalid(
                        "database.uri",
                        "is empty; give the SQLite file name, like `matrix-whatsapp.db`",
                    ));
                }
                if self.uri.starts_with("postgres") {
                    errors.push(ConfigError::invalid(
                        "database.uri",
                        "is a Postgres URI but database.type is `sqlite`; set database.type to `postgres`",
                    ));
                }
            }
            DatabaseType::Postgres => {
                if !(self.uri.starts_with("postgres://") || self.uri.starts_with("postgresql://")) {
                    errors.push(ConfigError::invalid(
                        "database.uri",
                        "must be a postgres:// URI when database.type is `postgres`, like postgres://user:password@localhost/matrix_whatsapp",
                    ));
                }
            }
        }
        if self.max_connections == 0 {
            errors.push(ConfigError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
    }

    /// The SQLite file, with a relative name taken from the config file's folder.
    pub fn sqlite_path(&self, config_dir: &Path) -> PathBuf {
        let name = self
            .uri
            .strip_prefix("sqlite://")
            .or_else(|| self.uri.strip_prefix("sqlite:"))
            .unwrap_or(&self.uri);
        let name = name.split('?').next().unwrap_or(name);
        let path = Path::new(name);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            config_dir.join(path)
        }
    }
}
