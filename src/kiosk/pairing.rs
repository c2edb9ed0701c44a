//! Pairing codes of kiosks: eight characters from an alphabet without look-alikes (no 0/O, 1/I/L),
//! shown as `ABCD-EFGH`, typed in any case with or without the dash or spaces. About 40 bits: with
//! a short life, one use, and the login backoff on failures, guessing one is out of reach. Only
//! the SHA-256 of the normalised code is stored. Pure, apart from the random source.

/// The characters of a code.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const LEN: usize = 8;

/// A new random code, normalised (no dash).
pub fn new_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `ABCDEFGH` → `ABCD-EFGH`, for people.
pub fn display(code: &str) -> String {
    let (a, b) = code.split_at(code.len().min(LEN / 2));
    format!("{a}-{b}")
}

/// What a person typed, as a code: upper case, dashes and spaces dropped; `None` when it cannot
/// be a code (wrong length or a character outside the alphabet).
pub fn normalise(typed: &str) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// What is stored of a code.
pub fn hash(code: &str) -> String {
    crate::auth::password::token_hash(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_however_typed() {
        for _ in 0..50 {
            let c = new_code();
            assert_eq!(c.len(), LEN);
            assert_eq!(normalise(&c).as_deref(), Some(c.as_str()));
            assert_eq!(normalise(&display(&c)).as_deref(), Some(c.as_str()));
            assert_eq!(
                normalise(&format!(" {} ", display(&c).to_lowercase())).as_deref(),
                Some(c.as_str())
            );
        }
        assert_eq!(display("ABCDEFGH"), "ABCD-EFGH");
    }

    #[test]
    fn non_codes_are_refused() {
        for bad in [
            "",
            "ABCD-EFG",
            "ABCD-EFGHJ",
            "ABCD-EFG0",
            "ABCD-EFGI",
            "ABCD_EFGH",
            "ÀBCD-EFGH",
        ] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
        assert_eq!(normalise(&"A".repeat(100)), None);
    }
}
