//! WhatsApp addresses in the bridge's terms: a person (by phone number or by LID) and a
//! chat (a person or a group), parsed from and written as JIDs.

use std::fmt;

use super::phone::PhoneNumber;

const PN_SERVER: &str = "s.whatsapp.net";
const LID_SERVER: &str = "lid";
const GROUP_SERVER: &str = "g.us";

/// A WhatsApp account, as a message names its sender.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WaUser {
    /// International digits, no `+`.
    Phone(String),
    /// A LID: WhatsApp's opaque account number.
    Lid(String),
}

/// A WhatsApp chat.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WaChat {
    Direct(WaUser),
    /// A group, by the user part of its JID.
    Group(String),
}

/// `user[:device][_agent]@server` → (user, server), or None for what is not a JID.
fn split(jid: &str) -> Option<(&str, &str)> {
    let (user, server) = jid.split_once('@')?;
    let user = user.split([':', '_']).next()?;
    (!user.is_empty() && user.chars().all(|c| c.is_ascii_digit() || c == '-'))
        .then_some((user, server))
}

impl WaUser {
    /// A person's JID (any device); None for groups and what is not a person.
    pub fn parse(jid: &str) -> Option<Self> {
        match split(jid)? {
            (user, PN_SERVER) if user.chars().all(|c| c.is_ascii_digit()) => {
                Some(Self::Phone(user.to_owned()))
            }
            (user, LID_SERVER) if user.chars().all(|c| c.is_ascii_digit()) => {
                Some(Self::Lid(user.to_owned()))
            }
            _ => None,
        }
    }

    pub fn from_phone(phone: &PhoneNumber) -> Self {
        Self::Phone(phone.digits().to_owned())
    }

    /// The same person by phone number when `alt` gives it.
    pub fn prefer_phone(self, alt: Option<WaUser>) -> Self {
        match (self, alt) {
            (Self::Lid(_), Some(phone @ Self::Phone(_))) => phone,
            (user, _) => user,
        }
    }

    pub fn jid(&self) -> String {
        match self {
            Self::Phone(digits) => format!("{digits}@{PN_SERVER}"),
            Self::Lid(lid) => format!("{lid}@{LID_SERVER}"),
        }
    }
}

impl fmt::Display for WaUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Phone(digits) => write!(f, "+{digits}"),
            Self::Lid(lid) => write!(f, "WhatsApp user {lid}"),
        }
    }
}

impl WaChat {
    pub fn parse(jid: &str) -> Option<Self> {
        match split(jid)? {
            (id, GROUP_SERVER) => Some(Self::Group(id.to_owned())),
            _ => WaUser::parse(jid).map(Self::Direct),
        }
    }

    pub fn is_group(&self) -> bool {
        matches!(self, Self::Group(_))
    }

    /// The chat's JID, which also keys its portal.
    pub fn jid(&self) -> String {
        match self {
            Self::Direct(user) => user.jid(),
            Self::Group(id) => format!("{id}@{GROUP_SERVER}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jids_of_people_and_groups() {
        assert_eq!(
            WaUser::parse("15551234567:3@s.whatsapp.net"),
            Some(WaUser::Phone("15551234567".into()))
        );
        assert_eq!(
            WaUser::parse("987_1:2@lid"),
            Some(WaUser::Lid("987".into()))
        );
        assert_eq!(WaUser::parse("120363000@g.us"), None);
        assert_eq!(
            WaChat::parse("120363000000000001@g.us"),
            Some(WaChat::Group("120363000000000001".into()))
        );
        assert_eq!(
            WaChat::parse("15551234567@s.whatsapp.net").map(|chat| chat.jid()),
            Some("15551234567@s.whatsapp.net".into())
        );
        for nonsense in [
            "",
            "@",
            "abc@s.whatsapp.net",
            "1555",
            "status@broadcast",
            "x@g.us",
        ] {
            assert_eq!(WaChat::parse(nonsense), None, "{nonsense}");
        }
    }

    #[test]
    fn a_lid_gives_way_to_the_phone_number() {
        let lid = WaUser::Lid("987".into());
        let phone = WaUser::Phone("15551234567".into());
        assert_eq!(lid.clone().prefer_phone(Some(phone.clone())), phone);
        assert_eq!(lid.clone().prefer_phone(None), lid);
        assert_eq!(phone.clone().prefer_phone(Some(lid)), phone);
    }
}
