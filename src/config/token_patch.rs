//! Writes the appservice tokens into an admin's config.yaml by editing only the two
//! lines concerned, so every comment and every other line stays as the admin wrote it.

use super::Config;

#[derive(Debug, thiserror::Error)]
pub enum TokenPatchError {
    #[error(
        "could not write the tokens into the config file's `appservice` section ({0}); \
         set appservice.as_token and appservice.hs_token by hand to the values in the registration file"
    )]
    NotApplied(String),
}

/// Returns `text` with `appservice.as_token` and `appservice.hs_token` set. Tokens must be
/// plain (letters and digits), which is what the bridge generates.
pub fn set_appservice_tokens(
    text: &str,
    as_token: &str,
    hs_token: &str,
) -> Result<String, TokenPatchError> {
    let plain = |token: &str| !token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric());
    if !plain(as_token) || !plain(hs_token) {
        return Err(TokenPatchError::NotApplied(
            "tokens must be letters and digits".into(),
        ));
    }
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let section = find_section(&lines, "appservice").unwrap_or_else(|| {
        lines.push("appservice:".into());
        lines.len() - 1
    });
    for (key, token) in [("as_token", as_token), ("hs_token", hs_token)] {
        set_child(&mut lines, section, key, token);
    }
    let mut patched = lines.join("\n");
    patched.push('\n');

    let parsed = Config::parse_unvalidated(&patched)
        .map_err(|err| TokenPatchError::NotApplied(err.to_string()))?;
    if parsed.appservice.as_token != as_token || parsed.appservice.hs_token != hs_token {
        return Err(TokenPatchError::NotApplied(
            "the section is not in the block form the bridge can edit".into(),
        ));
    }
    Ok(patched)
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_content(line: &str) -> bool {
    let trimmed = line.trim_start();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

fn key_of(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    let (key, _) = trimmed.split_once(':')?;
    let key = key.trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty() && !key.contains(' ')).then_some(key)
}

/// The index of the top-level `name:` line.
fn find_section(lines: &[String], name: &str) -> Option<usize> {
    lines
        .iter()
        .position(|line| is_content(line) && indentation(line) == 0 && key_of(line) == Some(name))
}

/// The lines after `section` that belong to it: up to the next top-level content line.
fn section_end(lines: &[String], section: usize) -> usize {
    lines
        .iter()
        .enumerate()
        .skip(section + 1)
        .find(|(_, line)| is_content(line) && indentation(line) == 0)
        .map_or(lines.len(), |(index, _)| index)
}

fn set_child(lines: &mut Vec<String>, section: usize, key: &str, value: &str) {
    let end = section_end(lines, section);
    let child_indent = lines[section + 1..end]
        .iter()
        .find(|line| is_content(line))
        .map_or(2, |line| indentation(line));
    let existing = (section + 1..end).find(|&index| {
        let line = &lines[index];
        is_content(line) && indentation(line) == child_indent && key_of(line) == Some(key)
    });
    let pad = " ".repeat(child_indent);
    match existing {
        Some(index) => {
            let comment = trailing_comment(&lines[index]);
            lines[index] = format!("{pad}{key}: {value}{comment}");
        }
        None => {
            // After the last content line of the section, so trailing comments stay below.
            let last = (section..end)
                .rev()
                .find(|&index| is_content(&lines[index]))
                .unwrap_or(section);
            lines.insert(last + 1, format!("{pad}{key}: {value}"));
        }
    }
}

/// Keeps a `# comment` after the value, skipping over a quoted value first.
fn trailing_comment(line: &str) -> String {
    let Some((_, value)) = line.split_once(':') else {
        return String::new();
    };
    let value_start = line.len() - value.len();
    let trimmed = value.trim_start();
    let offset = value_start + (value.len() - trimmed.len());
    let search_from = match trimmed.chars().next() {
        Some(quote @ ('"' | '\'')) => trimmed[1..]
            .find(quote)
            .map_or(line.len(), |close| offset + close + 2),
        _ => offset,
    };
    match line[search_from..].find(" #") {
        Some(position) => line[search_from + position..].to_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    const TOKEN_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn replaces_values_and_keeps_every_comment() {
        let text = "# top comment\nhomeserver:\n  domain: example.org # mine\nappservice:\n  # the id\n  id: whatsapp\n  as_token: \"old # not a comment\" # keep me\n  hs_token: old\n# trailing\nbridge:\n  command_prefix: '!wa'\n";
        let patched = set_appservice_tokens(text, TOKEN_A, TOKEN_B).expect("patched");
        assert_eq!(
            patched,
            format!(
                "# top comment\nhomeserver:\n  domain: example.org # mine\nappservice:\n  # the id\n  id: whatsapp\n  as_token: {TOKEN_A} # keep me\n  hs_token: {TOKEN_B}\n# trailing\nbridge:\n  command_prefix: '!wa'\n"
            )
        );
    }

    #[test]
    fn adds_missing_keys_and_sections() {
        let patched = set_appservice_tokens("appservice:\n    id: whatsapp\n", TOKEN_A, TOKEN_B)
            .expect("patched");
        assert_eq!(
            patched,
            format!(
                "appservice:\n    id: whatsapp\n    as_token: {TOKEN_A}\n    hs_token: {TOKEN_B}\n"
            )
        );
        let patched =
            set_appservice_tokens("homeserver:\n  domain: example.org\n", TOKEN_A, TOKEN_B)
                .expect("patched");
        let config = Config::parse_unvalidated(&patched).expect("parses");
        assert_eq!(config.homeserver.domain, "example.org");
        assert_eq!(config.appservice.as_token, TOKEN_A);
    }

    #[test]
    fn flow_style_section_is_refused_not_mangled() {
        let err = set_appservice_tokens("appservice: {id: whatsapp}\n", TOKEN_A, TOKEN_B)
            .expect_err("cannot patch flow style");
        assert!(err.to_string().contains("by hand"));
    }
}
