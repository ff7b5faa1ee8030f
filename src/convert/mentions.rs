//! Mentions: WhatsApp writes `@<number>` in the text and lists the JID; Matrix links the
//! user (a pill) and lists them in `m.mentions`. The bridge resolves who is who (ghosts,
//! the owner); this module only rewrites text with what it was given.

use ruma::OwnedUserId;

/// One person who may be mentioned, as both sides name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// The JID WhatsApp lists (`15551234567@s.whatsapp.net`, `123@lid`).
    pub jid: String,
    /// The Matrix user standing for them: their ghost, or the owner for themselves.
    pub user: OwnedUserId,
    /// The name the Matrix body shows.
    pub name: String,
}

impl Mention {
    /// What WhatsApp writes in the text: `@` and the JID's user part.
    pub fn token(&self) -> String {
        let user = self.jid.split('@').next().unwrap_or_default();
        format!("@{user}")
    }
}

/// The people a message may mention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions(pub Vec<Mention>);

impl Mentions {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn by_user(&self, user: &str) -> Option<&Mention> {
        self.0.iter().find(|mention| mention.user.as_str() == user)
    }

    /// The mention a `@digits` token at the start of `text` stands for, and its length.
    pub(super) fn at_start(&self, text: &str) -> Option<(&Mention, usize)> {
        let digits = text
            .strip_prefix('@')?
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        if digits == 0 {
            return None;
        }
        let token = &text[..=digits];
        self.0
            .iter()
            .find(|mention| mention.token() == token)
            .map(|mention| (mention, token.len()))
    }

    /// The text with each known `@digits` token replaced by `name_of(mention)`; the others
    /// through `rest` unchanged (so HTML escaping can apply to them).
    pub(super) fn rewrite(
        &self,
        text: &str,
        mut name_of: impl FnMut(&Mention) -> String,
        mut rest: impl FnMut(&str) -> String,
    ) -> String {
        let mut out = String::with_capacity(text.len());
        let mut plain_from = 0;
        let mut at = 0;
        while let Some(offset) = text[at..].find('@') {
            let start = at + offset;
            match self.at_start(&text[start..]) {
                Some((mention, length)) => {
                    out.push_str(&rest(&text[plain_from..start]));
                    out.push_str(&name_of(mention));
                    at = start + length;
                    plain_from = at;
                }
                None => at = start + 1,
            }
        }
        out.push_str(&rest(&text[plain_from..]));
        out
    }
}

/// The Matrix users that `https://matrix.to/#/@user:server` links in HTML point at.
pub fn pill_target(href: &str) -> Option<String> {
    let rest = href.strip_prefix("https://matrix.to/#/")?;
    let user = rest.split(['?', '/']).next()?;
    let user = percent_decode(user);
    user.starts_with('@').then_some(user)
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mentions() -> Mentions {
        Mentions(vec![Mention {
            jid: "15550002001@s.whatsapp.net".into(),
            user: "@whatsapp_15550002001:example.com"
                .try_into()
                .expect("user"),
            name: "Alice".into(),
        }])
    }

    #[test]
    fn known_tokens_are_rewritten_and_others_kept() {
        let mentions = mentions();
        let text = "hi @15550002001, not @1555000200 nor @155500020011 or @x";
        let out = mentions.rewrite(text, |m| format!("[{}]", m.name), str::to_owned);
        assert_eq!(out, "hi [Alice], not @1555000200 nor @155500020011 or @x");
    }

    #[test]
    fn pills_name_their_user() {
        assert_eq!(
            pill_target("https://matrix.to/#/@whatsapp_1:example.com").as_deref(),
            Some("@whatsapp_1:example.com")
        );
        assert_eq!(
            pill_target("https://matrix.to/#/%40alice%3Aexample.com").as_deref(),
            Some("@alice:example.com")
        );
        assert_eq!(pill_target("https://matrix.to/#/!room:example.com"), None);
        assert_eq!(pill_target("https://example.com/#/@a:b"), None);
    }
}
