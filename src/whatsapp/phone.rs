//! Phone numbers as WhatsApp identifies accounts: international form, digits only.

use std::fmt;

/// A phone number in international form: country code and number, 7 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("no phone number given; send it in international form, like +15551234567")]
    Empty,
    #[error(
        "`{0}` is not a phone number: use only digits, spaces and dashes, with a leading +, like +15551234567"
    )]
    NotDigits(String),
    #[error(
        "`{0}` starts with 0: write it in international form, starting with the country code, like +44 7700 900123"
    )]
    LeadingZero(String),
    #[error(
        "`{0}` is too short: an international number has at least 7 digits with its country code"
    )]
    TooShort(String),
    #[error("`{0}` is too long: an international number has at most 15 digits")]
    TooLong(String),
}

impl PhoneNumber {
    /// Reads what a person typed: `+1 555-123 4567`, `+44 (7700) 900.123`, `15551234567`.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let without_plus = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let mut digits = String::with_capacity(without_plus.len());
        for c in without_plus.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(PhoneError::NotDigits(trimmed.to_owned())),
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::NotDigits(trimmed.to_owned()));
        }
        if digits.starts_with('0') {
            return Err(PhoneError::LeadingZero(trimmed.to_owned()));
        }
        match digits.len() {
            0..=6 => Err(PhoneError::TooShort(trimmed.to_owned())),
            7..=15 => Ok(Self(digits)),
            _ => Err(PhoneError::TooLong(trimmed.to_owned())),
        }
    }

    /// The digits alone, as in a WhatsApp JID user part.
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_what_people_type() {
        for input in [
            "+15551234567",
            "15551234567",
            " +1 555-123-4567 ",
            "+44 (7700) 900.123",
        ] {
            let phone = PhoneNumber::parse(input).unwrap_or_else(|err| panic!("{input}: {err}"));
            assert!(phone.digits().chars().all(|c| c.is_ascii_digit()));
        }
        assert_eq!(
            PhoneNumber::parse("+1 555 123 4567").map(|p| p.to_string()),
            Ok("+15551234567".into())
        );
    }

    #[test]
    fn refuses_with_a_reason() {
        assert_eq!(PhoneNumber::parse("  "), Err(PhoneError::Empty));
        assert!(matches!(
            PhoneNumber::parse("+1 555 CALL NOW"),
            Err(PhoneError::NotDigits(_))
        ));
        assert!(matches!(
            PhoneNumber::parse("07700 900123"),
            Err(PhoneError::LeadingZero(_))
        ));
        assert!(matches!(
            PhoneNumber::parse("0044 7700 900123"),
            Err(PhoneError::LeadingZero(_))
        ));
        assert!(matches!(
            PhoneNumber::parse("+123456"),
            Err(PhoneError::TooShort(_))
        ));
        assert!(matches!(
            PhoneNumber::parse("+1234567890123456"),
            Err(PhoneError::TooLong(_))
        ));
        assert!(matches!(
            PhoneNumber::parse("++15551234567"),
            Err(PhoneError::NotDigits(_))
        ));
        assert!(matches!(
            PhoneNumber::parse("+"),
            Err(PhoneError::NotDigits(_))
        ));
        let message = PhoneNumber::parse("07700 900123")
            .expect_err("leading zero")
            .to_string();
        assert!(message.contains("international form"), "{message}");
    }

    proptest! {
        /// Any text either parses into 7–15 digits without a leading 0, or is refused.
        #[test]
        fn parse_never_panics_and_keeps_its_promise(input in "\\PC{0,40}") {
            if let Ok(phone) = PhoneNumber::parse(&input) {
                let digits = phone.digits();
                prop_assert!((7..=15).contains(&digits.len()));
                prop_assert!(digits.chars().all(|c| c.is_ascii_digit()));
                prop_assert!(!digits.starts_with('0'));
            }
        }

        /// Formatting characters never change which number it is.
        #[test]
        fn formatting_is_ignored(number in "[1-9][0-9]{6,14}", seps in proptest::collection::vec(prop::sample::select(vec![" ", "-", "."]), 0..5)) {
            let mut typed = String::from("+");
            for (i, c) in number.chars().enumerate() {
                typed.push(c);
                if let Some(sep) = seps.get(i) {
                    typed.push_str(sep);
                }
            }
            prop_assert_eq!(PhoneNumber::parse(&typed).map(|p| p.digits().to_owned()), Ok(number));
        }
    }
}
