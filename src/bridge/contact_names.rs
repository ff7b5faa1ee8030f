//! A contact's display name from the configured template: `{name}` is the first of the
//! configured sources the contact has (business name, push name, phone), and each source
//! has its own placeholder too.

use crate::config::NameSource;
use crate::whatsapp::address::WaUser;

/// What WhatsApp told about a contact's names (empty: not known).
#[derive(Debug, Clone, Copy, Default)]
pub struct ContactNames<'a> {
    pub push_name: &'a str,
    pub business_name: &'a str,
    /// The name in the user's phone address book.
    pub contact_name: &'a str,
}

impl ContactNames<'_> {
    pub fn is_empty(&self) -> bool {
        clean(self.push_name).is_empty()
            && clean(self.business_name).is_empty()
            && clean(self.contact_name).is_empty()
    }
}

/// A name as it may be shown: trimmed, without control characters; WhatsApp's "-" means
/// no name.
fn clean(name: &str) -> String {
    let name = name.trim();
    if name == "-" {
        return String::new();
    }
    name.chars().filter(|c| !c.is_control()).collect()
}

/// The display name for `user` by `template`.
pub fn render(
    template: &str,
    sources: &[NameSource],
    user: &WaUser,
    names: &ContactNames,
) -> String {
    let phone = user.to_string();
    let push_name = clean(names.push_name);
    let business_name = clean(names.business_name);
    let contact_name = clean(names.contact_name);
    let value = |source: &NameSource| match source {
        NameSource::BusinessName => business_name.clone(),
        NameSource::PushName => push_name.clone(),
        NameSource::Phone => phone.clone(),
        NameSource::ContactName => contact_name.clone(),
    };
    let name = sources
        .iter()
        .map(value)
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| phone.clone());
    let or_phone = |name: &str| {
        if name.is_empty() {
            phone.clone()
        } else {
            name.to_owned()
        }
    };
    let rendered = template
        .replace("{name}", &name)
        .replace("{push_name}", &or_phone(&push_name))
        .replace("{business_name}", &or_phone(&business_name))
        .replace("{phone}", &phone);
    let rendered = rendered.trim();
    if rendered.is_empty() {
        phone
    } else {
        rendered.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[NameSource] = &[
        NameSource::BusinessName,
        NameSource::PushName,
        NameSource::Phone,
    ];

    fn names<'a>(push_name: &'a str, business_name: &'a str) -> ContactNames<'a> {
        ContactNames {
            push_name,
            business_name,
            contact_name: "",
        }
    }

    #[test]
    fn the_first_known_source_names_the_contact() {
        let phone = WaUser::Phone("15550002001".into());
        assert_eq!(
            render("{name}", ALL, &phone, &names(" Alice ", "")),
            "Alice"
        );
        assert_eq!(
            render("{name}", ALL, &phone, &names("Alice", "Acme")),
            "Acme"
        );
        assert_eq!(
            render("{name}", ALL, &phone, &names("-", "")),
            "+15550002001"
        );
        assert_eq!(
            render("{name}", ALL, &phone, &names("Bob\u{0}\n", "")),
            "Bob"
        );
        let push_first = [NameSource::PushName, NameSource::BusinessName];
        assert_eq!(
            render("{name}", &push_first, &phone, &names("Alice", "Acme")),
            "Alice"
        );
    }

    #[test]
    fn address_book_names_count_only_when_listed() {
        let phone = WaUser::Phone("15550002001".into());
        let known = ContactNames {
            contact_name: "Robert Smith",
            ..names("Bobby", "")
        };
        assert_eq!(render("{name}", ALL, &phone, &known), "Bobby");
        let book_first = [NameSource::ContactName, NameSource::PushName];
        assert_eq!(
            render("{name}", &book_first, &phone, &known),
            "Robert Smith"
        );
        assert_eq!(
            render("{name}", &book_first, &phone, &names("Bobby", "")),
            "Bobby"
        );
    }

    #[test]
    fn every_placeholder_renders() {
        let phone = WaUser::Phone("15550002001".into());
        assert_eq!(
            render("{name} (WA)", ALL, &phone, &names("Alice", "")),
            "Alice (WA)"
        );
        assert_eq!(
            render("{push_name} ({phone})", ALL, &phone, &names("Alice", "")),
            "Alice (+15550002001)"
        );
        assert_eq!(
            render("{business_name}", ALL, &phone, &names("Alice", "")),
            "+15550002001",
            "a missing source falls back to the number"
        );
    }
}
