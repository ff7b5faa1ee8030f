//! Reading a command out of a message body.

/// A command as typed: its name (lower case) and the rest of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub name: String,
    pub args: String,
}

/// Where the message was sent decides whether the prefix is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixRule {
    /// The management room: `help` and `!wa help` both work.
    Optional,
    /// Any other room: only `!wa help` is a command.
    Required,
}

/// The command in `body`, or None if the message is not addressed to the bot.
pub fn parse(body: &str, prefix: &str, rule: PrefixRule) -> Option<CommandLine> {
    let text = body.trim();
    let unprefixed = strip_prefix(text, prefix);
    let text = match (unprefixed, rule) {
        (Some(rest), _) => rest,
        (None, PrefixRule::Optional) => text,
        (None, PrefixRule::Required) => return None,
    };
    let mut parts = text.splitn(2, char::is_whitespace);
    let name = parts.next().unwrap_or_default().to_lowercase();
    if name.is_empty() {
        // The prefix alone asks for help.
        return unprefixed.map(|_| CommandLine {
            name: "help".into(),
            args: String::new(),
        });
    }
    Some(CommandLine {
        name,
        args: parts.next().unwrap_or_default().trim().to_owned(),
    })
}

fn strip_prefix<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(prefix)?;
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_whitespace() => Some(rest.trim_start()),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn line(name: &str, args: &str) -> Option<CommandLine> {
        Some(CommandLine {
            name: name.into(),
            args: args.into(),
        })
    }

    #[test]
    fn prefix_is_optional_in_the_management_room() {
        assert_eq!(parse("help", "!wa", PrefixRule::Optional), line("help", ""));
        assert_eq!(
            parse("!wa help", "!wa", PrefixRule::Optional),
            line("help", "")
        );
        assert_eq!(
            parse("  Login  phone +1 555 ", "!wa", PrefixRule::Optional),
            line("login", "phone +1 555")
        );
    }

    #[test]
    fn prefix_is_required_elsewhere() {
        assert_eq!(parse("help", "!wa", PrefixRule::Required), None);
        assert_eq!(
            parse("!wa version", "!wa", PrefixRule::Required),
            line("version", "")
        );
        assert_eq!(parse("!wahelp", "!wa", PrefixRule::Required), None);
    }

    #[test]
    fn the_prefix_alone_asks_for_help() {
        assert_eq!(parse("!wa", "!wa", PrefixRule::Required), line("help", ""));
        assert_eq!(parse("   ", "!wa", PrefixRule::Optional), None);
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panic_and_names_are_lowercase(body in "\\PC{0,200}") {
            if let Some(command) = parse(&body, "!wa", PrefixRule::Optional) {
                prop_assert_eq!(command.name.clone(), command.name.to_lowercase());
                prop_assert!(!command.name.is_empty());
                prop_assert!(!command.name.contains(char::is_whitespace));
            }
        }

        #[test]
        fn required_prefix_never_matches_unprefixed_text(body in "[a-z ]{0,50}") {
            prop_assert_eq!(parse(&body, "!wa", PrefixRule::Required), None);
        }
    }
}
