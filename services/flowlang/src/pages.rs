//! Screen limits: a USSD reply longer than the channel's screen is split into pages, each
//! ending with a "more" option, instead of being cut by the network.

/// Splits `text` into pages of at most `limit` characters, leaving room on every page but the
/// last for `more` (the "99. More" line and its newline). Pages break at line ends where they
/// can (menus are lines), and inside a line only when one line is longer than a page.
pub fn paginate(text: &str, limit: usize, more: &str) -> Vec<String> {
    if text.chars().count() <= limit {
        return vec![text.to_string()];
    }
    let room = limit.saturating_sub(more.chars().count() + 1).max(1);
    let mut pages = Vec::new();
    let mut page = String::new();
    for line in text.split('\n') {
        let mut rest: Vec<char> = line.chars().collect();
        loop {
            let used = page.chars().count();
            let sep = usize::from(!page.is_empty());
            if used + sep + rest.len() <= room {
                if sep == 1 {
                    page.push('\n');
                }
                page.extend(rest.iter());
                break;
            }
            if page.is_empty() {
                // One line longer than a page: cut it.
                page.extend(rest.drain(..room));
            }
            pages.push(std::mem::take(&mut page));
        }
    }
    pages.push(page);
    // The last page needs no "more": if it fits with the one before, join them. (With two
    // pages that cannot happen: together they are the whole, over-long text.)
    if pages.len() > 2 {
        let n = pages.len();
        let joined_len = pages[n - 2].chars().count() + 1 + pages[n - 1].chars().count();
        if joined_len <= limit {
            let last = pages.pop().unwrap_or_default();
            if let Some(prev) = pages.last_mut() {
                prev.push('\n');
                prev.push_str(&last);
            }
        }
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    const MORE: &str = "99. More";

    #[test]
    fn short_screens_are_untouched() {
        assert_eq!(
            paginate("Welcome\n1. Register", 182, MORE),
            vec!["Welcome\n1. Register"]
        );
    }

    #[test]
    fn long_screens_break_at_lines_and_leave_room_for_more() {
        let text = (1..=20)
            .map(|i| format!("{i}. Option number {i} of the long menu"))
            .collect::<Vec<_>>()
            .join("\n");
        let pages = paginate(&text, 182, MORE);
        assert!(pages.len() > 1);
        for p in &pages[..pages.len() - 1] {
            assert!(p.chars().count() + 1 + MORE.len() <= 182, "{p:?}");
            assert!(!p.ends_with('\n'));
        }
        assert!(pages.last().unwrap().chars().count() <= 182);
        assert_eq!(pages.join("\n"), text, "nothing is lost, nothing repeated");
        assert!(
            pages
                .iter()
                .all(|p| p.lines().all(|l| l.contains("Option number"))),
            "lines are whole"
        );
    }

    #[test]
    fn a_line_longer_than_a_page_is_cut_at_characters() {
        let text = "ŋ".repeat(500);
        let pages = paginate(&text, 182, MORE);
        assert!(pages.iter().all(|p| p.chars().count() <= 182));
        assert_eq!(pages.concat(), text);
    }
}
