//! Identifiers of SAML messages and assertions (saml-core §1.3.4): unique,
//! unpredictable (at least 128 bits from a CSPRNG) and valid `xs:ID` values
//! (an NCName, hence the leading underscore).

use rand::RngCore;

/// Returns a fresh identifier: `_` followed by 32 lowercase hexadecimal characters
/// (128 bits from the operating system's CSPRNG through `rand`'s thread generator).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let mut id = String::with_capacity(33);
    id.push('_');
    for byte in bytes {
        id.push(hex_digit(byte >> 4));
        id.push(hex_digit(byte & 0x0f));
    }
    id
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_have_the_documented_shape() {
        let id = new_id();
        assert_eq!(id.len(), 33);
        assert!(id.starts_with('_'));
        assert!(
            id[1..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn ids_do_not_repeat() {
        let ids: HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
