//! Text an image controls stays text, in every format a grade is written in.
//!
//! Labels, a healthcheck's output, a container's log and the bodies of `/`
//! and `/proof` are quoted in the grade's details: each is written by the
//! student's image, which may be hostile. Every quoted value is cut to
//! [`QUOTED_MAX`] characters and its control characters are shown as escapes
//! (`\u{1b}`), never written raw: a terminal would obey them, and XML 1.0
//! cannot hold most of them even escaped. Then each format gets its own
//! escaping: a Markdown cell or code span it cannot leave, no HTML; a CSV
//! cell a spreadsheet does not take for a formula (OWASP's CSV injection
//! rule); XML entities (quick-xml's).

use std::borrow::Cow;

/// The most characters of one value (a detail, a note) a grade quotes:
/// enough for a log's last lines, too few to flood a report. A longer one
/// loses its middle, as its start says what happened and its end how it
/// ended (a log's last line, a detail's conclusion).
pub const QUOTED_MAX: usize = 1000;
const KEPT_START: usize = 600;

/// `text` with its control characters but the newline shown as escapes,
/// then cut to [`QUOTED_MAX`] characters (saying how many were left out).
pub fn quoted(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    let count = shown.chars().count();
    if count <= QUOTED_MAX {
        return shown;
    }
    let left_out = count - QUOTED_MAX;
    let start: String = shown.chars().take(KEPT_START).collect();
    let end: String = shown.chars().skip(KEPT_START + left_out).collect();
    format!("{start} [... {left_out} characters left out ...] {end}")
}

/// A Markdown table cell's text: one line, `|` escaped so that the cell
/// ends where the table says, `<` `>` `&` as entities so that no HTML is
/// made, and `\` escaped so that it cannot undo either.
pub fn markdown_text(text: &str) -> String {
    let mut cell = String::with_capacity(text.len());
    for c in quoted(text).chars() {
        match c {
            '\\' => cell.push_str("\\\\"),
            '|' => cell.push_str("\\|"),
            '<' => cell.push_str("&lt;"),
            '>' => cell.push_str("&gt;"),
            '&' => cell.push_str("&amp;"),
            '\n' => cell.push(' '),
            c => cell.push(c),
        }
    }
    cell
}

/// A Markdown code span in a table cell: fenced by more backticks than any
/// run of them inside (CommonMark's rule, so none closes it early), `|`
/// escaped (GitHub's tables split on it even in code), on one line.
/// Markdown makes no HTML inside a code span.
pub fn markdown_code(text: &str) -> String {
    let code = quoted(text).replace('\n', " ").replace('|', "\\|");
    let longest_run = code.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    // A space on each side when the code starts or ends with a backtick,
    // which CommonMark strips again.
    let pad = if code.starts_with('`') || code.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{code}{pad}{fence}")
}

/// A Markdown code block of `lines`, each [`quoted`]: fenced by more
/// backticks than any run of them inside, and at least three, so no line
/// closes it early.
pub fn markdown_block(lines: impl IntoIterator<Item = String>) -> String {
    let code: Vec<String> = lines.into_iter().map(|line| quoted(&line)).collect();
    let code = code.join("\n");
    let longest_run = code.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest_run + 1).max(3));
    format!("{fence}\n{code}\n{fence}")
}

/// A CSV cell a spreadsheet shows as text: one starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a `'` before it (OWASP's rule).
/// The CSV writer quotes it as CSV needs.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    match formula {
        true => Cow::Owned(format!("'{}", quoted(text))),
        false if text.chars().count() > QUOTED_MAX || text.contains(char::is_control) => {
            Cow::Owned(quoted(text))
        }
        false => Cow::Borrowed(text),
    }
}

/// XML character data or an attribute's value: quoted, then escaped.
pub fn xml(text: &str) -> String {
    quick_xml::escape::escape(quoted(text).as_str()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "x | y `code` <script>alert(1)</script> &amp; \\| \u{1b}[31mred\u{7}\r\nnext";

    #[test]
    fn control_characters_are_shown_and_long_values_cut() {
        assert_eq!(quoted("a\u{1b}[2Jb\u{0}c\nd"), "a\\u{1b}[2Jb\\u{0}c\nd");
        let long = format!("start{}end", "é".repeat(QUOTED_MAX));
        let cut = quoted(&long);
        assert_eq!(cut.chars().filter(|&c| c == 'é').count(), QUOTED_MAX - 8);
        assert!(
            cut.starts_with("startéé") && cut.ends_with("ééend"),
            "{cut}"
        );
        assert!(cut.contains(" [... 8 characters left out ...] "), "{cut}");
    }

    #[test]
    fn a_markdown_cell_stays_one_cell_with_no_html() {
        let cell = markdown_text(HOSTILE);
        assert!(!cell.contains('\n') && !cell.contains('<'), "{cell}");
        // Every `|` escaped, and no escape undone by a backslash before it.
        let unescaped = cell
            .replace("\\\\", "")
            .replace("\\|", "")
            .matches('|')
            .count();
        assert_eq!(unescaped, 0, "{cell}");
        assert!(
            cell.contains("&lt;script&gt;") && cell.contains("&amp;amp;"),
            "{cell}"
        );
    }

    #[test]
    fn a_code_span_is_fenced_beyond_any_backticks_inside() {
        assert_eq!(markdown_code("docker run x"), "`docker run x`");
        assert_eq!(markdown_code("a `b` c"), "``a `b` c``");
        assert_eq!(markdown_code("``x``"), "``` ``x`` ```");
        let code = markdown_code(HOSTILE);
        assert!(code.starts_with("``") && !code.starts_with("```"), "{code}");
        assert!(!code.contains('\n') && code.contains("\\|"), "{code}");
    }

    #[test]
    fn a_csv_cell_is_never_a_formula() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            let cell = csv_cell(formula);
            assert!(cell.starts_with('\''), "{formula:?} -> {cell:?}");
        }
        assert_eq!(csv_cell("alice"), "alice");
        assert_eq!(csv_cell("a\u{7}b"), "a\\u{7}b");
    }

    #[test]
    fn xml_is_escaped_and_holds_no_raw_control_character() {
        let text = xml(HOSTILE);
        assert!(!text.contains('<') && !text.contains('\u{1b}') && !text.contains('\u{7}'));
        assert!(
            text.contains("&lt;script&gt;") && text.contains("\\u{1b}"),
            "{text}"
        );
    }

    #[test]
    fn a_code_block_is_fenced_beyond_any_backticks_inside() {
        let block = markdown_block(["RUN echo ```` done".to_owned(), "COPY . .".into()]);
        assert_eq!(block, "`````\nRUN echo ```` done\nCOPY . .\n`````");
        assert_eq!(
            markdown_block(["a\u{1b}[2J".to_owned()]),
            "```\na\\u{1b}[2J\n```"
        );
    }
}
