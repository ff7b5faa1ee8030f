use std::path::PathBuf;

/// Everything that can be wrong with a config file. Each variant names the key (a dotted
/// path such as `appservice.as_token`) and says what is allowed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file is not valid YAML: {0}")]
    Syntax(String),
    #[error("config key `{key}` is unknown{}", suggestion_text(.suggestion))]
    UnknownKey {
        key: String,
        suggestion: Option<String>,
    },
    #[error("config key `{key}` has the wrong form: {problem}")]
    WrongType { key: String, problem: String },
    #[error("config key `{key}`: {problem}")]
    Invalid { key: String, problem: String },
    #[error("{}", join_errors(.0))]
    Several(Vec<ConfigError>),
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean `{name}`?"),
        None => String::from("; see config.example.yaml for the valid keys"),
    }
}

fn join_errors(errors: &[ConfigError]) -> String {
    let lines: Vec<String> = errors.iter().map(|err| format!("- {err}")).collect();
    format!(
        "the config has {} problems:\n{}",
        errors.len(),
        lines.join("\n")
    )
}

impl ConfigError {
    pub fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// One error stays itself; several become one list, so the admin fixes them in one go.
    pub fn from_list(mut errors: Vec<ConfigError>) -> Option<Self> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Self::Several(errors)),
        }
    }
}
