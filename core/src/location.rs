//! Where a configuration problem is: file, line and field (architecture,
//! "Configuration": every error points at the file, line and field it comes
//! from). Shared by the registry's and the gateway's configuration errors so
//! that both read `file:line: field `name`: problem`.

use std::fmt;
use std::path::Path;

/// 1-based line of a byte offset of `text`; None past its end.
pub fn line_of(text: &str, offset: usize) -> Option<usize> {
    let before = text.get(..offset)?;
    Some(before.bytes().filter(|b| *b == b'\n').count() + 1)
}

/// A location, displayed as `file[:line][: field `name`]`.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    /// The file.
    pub file: &'a Path,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted field path, when known.
    pub field: Option<&'a str>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = self.field {
            write!(f, ": field `{field}`")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let text = "a = 1\nb = 2\n";
        assert_eq!(line_of(text, 0), Some(1));
        assert_eq!(line_of(text, 6), Some(2));
        assert_eq!(line_of(text, text.len() + 1), None);
    }

    #[test]
    fn display_omits_what_is_unknown() {
        let file = Path::new("services/ent.toml");
        let full = Location {
            file,
            line: Some(12),
            field: Some("release.attributes"),
        };
        assert_eq!(
            full.to_string(),
            "services/ent.toml:12: field `release.attributes`"
        );
        let bare = Location {
            file,
            line: None,
            field: None,
        };
        assert_eq!(bare.to_string(), "services/ent.toml");
    }
}
