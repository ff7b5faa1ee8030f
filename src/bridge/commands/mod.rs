//! Bot commands: the list of what exists, who may use it, and the answers.

mod parse;

use crate::config::PermissionLevel;

pub use parse::{CommandLine, PrefixRule, parse};

/// Which command a spec stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    Help,
    Version,
    Login,
    Cancel,
    Logout,
    ListLogins,
    Reconnect,
    StartChat,
    Sync,
    Search,
    MoreHistory,
}

#[derive(Debug)]
pub struct CommandSpec {
    pub kind: CommandKind,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub summary: &'static str,
    pub min_level: PermissionLevel,
}

/// Every command the bot answers. `help` lists exactly these.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        kind: CommandKind::Help,
        name: "help",
        aliases: &["h", "?"],
        summary: "Show this list of commands.",
        min_level: PermissionLevel::Commands,
    },
    CommandSpec {
        kind: CommandKind::Version,
        name: "version",
        aliases: &[],
        summary: "Show the bridge's name and version.",
        min_level: PermissionLevel::Commands,
    },
    CommandSpec {
        kind: CommandKind::Login,
        name: "login",
        aliases: &[],
        summary: "Link your WhatsApp account: `login qr` to scan a QR code, `login phone [+number]` to enter a code on your phone.",
        min_level: PermissionLevel::User,
    },
    CommandSpec {
        kind: CommandKind::Cancel,
        name: "cancel",
        aliases: &[],
        summary: "Stop the login in progress.",
        min_level: PermissionLevel::User,
    },
    CommandSpec {
        kind: CommandKind::Logout,
        name: "logout",
        aliases: &[],
        summary: "Unlink the bridge from your WhatsApp account.",
        min_level: PermissionLevel::User,
    },
    CommandSpec {
        kind: CommandKind::ListLogins,
        name: "list-logins",
        aliases: &["ping"],
        summary: "Show your linked WhatsApp accounts and whether they are connected.",
        min_level: PermissionLevel::User,
    },
    CommandSpec {
        kind: CommandKind::Reconnect,
        name: "reconnect",
        aliases: &[],
        summary: "Connect your linked WhatsApp accounts again (after a ban, a refusal or a takeover).",
        min_level: PermissionLevel::User,
    },
    CommandSpec {
        kind: CommandKind::StartChat,
        name: "start-chat",
        aliases: &["pm"],
        summary: "Open your WhatsApp chat with a number: `start-chat +15551234567`.",
        min_level: PermissionLevel::User,
    },
    CommandSpec {
        kind: CommandKind::Sync,
        name: "sync",
        aliases: &[],
        summary: "`sync groups`: a portal for every WhatsApp group you are in, each brought up to date; `sync contacts`: your contacts' names and pictures read again.",
        min_level: PermissionLevel::User,
    },
    CommandSpec {
        kind: CommandKind::MoreHistory,
        name: "more-history",
        aliases: &["backfill"],
        summary: "In a chat's room: move the chat to a new room holding its full history, older messages from the phone included.",
        min_level: PermissionLevel::User,
    },
    CommandSpec {
        kind: CommandKind::Search,
        name: "search",
        aliases: &[],
        summary: "Find your WhatsApp contacts by name or number: `search alice`.",
        min_level: PermissionLevel::User,
    },
];

/// What the bot should do with a command from a user of `level`.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    Run(CommandKind),
    Unknown { suggestion: Option<&'static str> },
    NotAllowed,
}

pub fn resolve(name: &str, level: PermissionLevel) -> Resolution {
    let found = COMMANDS
        .iter()
        .find(|spec| spec.name == name || spec.aliases.contains(&name));
    match found {
        Some(spec) if level >= spec.min_level => Resolution::Run(spec.kind),
        Some(_) => Resolution::NotAllowed,
        None => Resolution::Unknown {
            suggestion: COMMANDS
                .iter()
                .filter(|spec| level >= spec.min_level)
                .map(|spec| (strsim::jaro_winkler(name, spec.name), spec.name))
                .filter(|(score, _)| *score >= 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, name)| name),
        },
    }
}

/// The `help` text for a user of `level`, in Markdown.
pub fn help_text(prefix: &str, level: PermissionLevel) -> String {
    let mut text =
        String::from("**Commands** (in this direct chat the prefix may be left out):\n\n");
    for spec in COMMANDS.iter().filter(|spec| level >= spec.min_level) {
        text.push_str(&format!("* `{prefix} {}` — {}\n", spec.name, spec.summary));
    }
    text
}

pub fn version_text() -> String {
    format!("matrix-whatsapp {}", env!("CARGO_PKG_VERSION"))
}

pub fn unknown_text(name: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(close) => format!(
            "Unknown command `{name}`. Did you mean `{close}`? Send `help` for the list of commands."
        ),
        None => format!("Unknown command `{name}`. Send `help` for the list of commands."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve() {
        assert_eq!(
            resolve("help", PermissionLevel::User),
            Resolution::Run(CommandKind::Help)
        );
        assert_eq!(
            resolve("?", PermissionLevel::User),
            Resolution::Run(CommandKind::Help)
        );
        assert_eq!(
            resolve("version", PermissionLevel::Commands),
            Resolution::Run(CommandKind::Version)
        );
    }

    #[test]
    fn unknown_commands_get_the_closest_name() {
        assert_eq!(
            resolve("hepl", PermissionLevel::User),
            Resolution::Unknown {
                suggestion: Some("help")
            }
        );
        assert_eq!(
            resolve("versoin", PermissionLevel::User),
            Resolution::Unknown {
                suggestion: Some("version")
            }
        );
        assert_eq!(
            resolve("zzzz", PermissionLevel::User),
            Resolution::Unknown { suggestion: None }
        );
    }

    #[test]
    fn levels_gate_commands() {
        assert_eq!(
            resolve("help", PermissionLevel::Relay),
            Resolution::NotAllowed
        );
    }

    #[test]
    fn help_lists_every_command_the_user_may_run() {
        let help = help_text("!wa", PermissionLevel::User);
        for spec in COMMANDS {
            assert!(help.contains(&format!("`!wa {}`", spec.name)), "{help}");
        }
    }
}
