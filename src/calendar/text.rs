//! Content-line hygiene for iCalendar output (RFC 5545 §3.1 and §3.3.11): cleaning user text of
//! control characters before it is escaped, and folding long lines at 75 octets without splitting
//! a UTF-8 character. Escaping itself is done by the `icalendar` crate.

/// Longest content line, in octets, excluding the CRLF (RFC 5545 §3.1).
pub const MAX_LINE_OCTETS: usize = 75;

/// Normalises line breaks to `\n` (which escaping turns into `\n` text) and drops every other
/// control character: a raw CR would otherwise end the content line and let text inject
/// properties.
pub fn clean_text(input: &str) -> String {
    input
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// Folds one unfolded content line: the first physical line holds at most 75 octets, each
/// continuation a space and at most 74 more. Breaks fall on UTF-8 character boundaries and, where
/// possible, away from whitespace: some readers trim the end of a physical line or eat more than
/// the one leading space, and would lose the space of a Vietnamese phrase split there.
pub fn fold_line(line: &str) -> String {
    if line.len() <= MAX_LINE_OCTETS {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len() + 3 * (line.len() / (MAX_LINE_OCTETS - 1) + 1));
    let mut start = 0;
    let mut budget = MAX_LINE_OCTETS;
    while line.len() - start > budget {
        let end = split_point(line, start, start + budget);
        out.push_str(&line[start..end]);
        out.push_str("\r\n ");
        start = end;
        budget = MAX_LINE_OCTETS - 1;
    }
    out.push_str(&line[start..]);
    out
}

/// The byte index to break at: a character boundary in `(start, max]`, preferably with no space
/// or tab on either side and not inside an escape sequence (looking back at most 16 octets),
/// otherwise the last boundary.
fn split_point(line: &str, start: usize, max: usize) -> usize {
    let bytes = line.as_bytes();
    let is_ws = |i: usize| matches!(bytes.get(i), Some(b' ' | b'\t'));
    let mut hard = max;
    while !line.is_char_boundary(hard) {
        hard -= 1;
    }
    let lower = hard.saturating_sub(16).max(start + 1);
    let mut end = hard;
    while end >= lower {
        // Not right after a backslash either, so no escape sequence is split.
        let after_backslash = bytes[end - 1] == b'\\';
        if line.is_char_boundary(end) && !is_ws(end - 1) && !is_ws(end) && !after_backslash {
            return end;
        }
        end -= 1;
    }
    hard
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfold(folded: &str) -> String {
        folded.replace("\r\n ", "")
    }

    #[test]
    fn short_lines_are_untouched() {
        assert_eq!(fold_line("SUMMARY:Giao ban"), "SUMMARY:Giao ban");
        let exact = "X".repeat(MAX_LINE_OCTETS);
        assert_eq!(fold_line(&exact), exact);
    }

    #[test]
    fn folds_at_75_octets_on_char_boundaries() {
        let line = format!(
            "SUMMARY:{}",
            "Hội nghị giao ban trực tuyến Ủy ban nhân dân Thành phố Hà Nội, ".repeat(6)
        );
        let folded = fold_line(&line);
        let physical: Vec<&str> = folded.split("\r\n").collect();
        assert!(physical.len() > 5);
        for (i, part) in physical.iter().enumerate() {
            assert!(part.len() <= MAX_LINE_OCTETS, "{part:?}");
            if i > 0 {
                assert!(part.starts_with(' '));
                assert!(!part[1..].starts_with([' ', '\t']), "{part:?}");
            }
            // No whitespace right before a fold (the text itself ends with a space).
            if i + 1 < physical.len() {
                assert!(!part.ends_with([' ', '\t']), "{part:?}");
            }
        }
        assert_eq!(unfold(&folded), line);
    }

    #[test]
    fn folds_runs_of_spaces_and_multibyte_only_text() {
        for line in [
            format!("DESCRIPTION:{}", " ".repeat(200)),
            format!("DESCRIPTION:{}", "ệ".repeat(100)),
            format!("DESCRIPTION:{}", "𝄞".repeat(60)),
        ] {
            let folded = fold_line(&line);
            assert!(folded.split("\r\n").all(|l| l.len() <= MAX_LINE_OCTETS));
            assert_eq!(unfold(&folded), line);
        }
    }

    #[test]
    fn clean_text_removes_controls_and_normalises_breaks() {
        assert_eq!(
            clean_text("a\r\nb\rc\nd\u{0}e\u{7f}f\tg"),
            "a\nb\nc\ndef\tg"
        );
    }
}
