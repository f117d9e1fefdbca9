//! The committed tab-separated tables the evaluation reads (hand translations, the outside
//! set's queries): `#` comments and blank lines, a header, then rows of a fixed width.

/// A line of a committed table that does not parse.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{table} line {line}: {reason}")]
pub struct TableError {
    /// What the table is, for the message ("translations", "outside queries").
    pub table: &'static str,
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

/// The data rows of `text` as (line number, fields). Every row, the header included, must have
/// `width` tab-separated fields; the header must satisfy `header_ok` (else the error says it
/// expected `header`).
pub fn rows<'a>(
    table: &'static str,
    text: &'a str,
    width: usize,
    header: &str,
    header_ok: impl Fn(&[&str]) -> bool,
) -> Result<Vec<(usize, Vec<&'a str>)>, TableError> {
    let mut out = Vec::new();
    let mut seen_header = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: String| TableError {
            table,
            line: i + 1,
            reason,
        };
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != width {
            return Err(err(format!("{} fields, expected {width}", fields.len())));
        }
        if !seen_header {
            if !header_ok(&fields) {
                return Err(err(format!("expected the header {header}")));
            }
            seen_header = true;
            continue;
        }
        out.push((i + 1, fields));
    }
    Ok(out)
}
