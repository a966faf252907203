//! Versioned legal notices and the usage charter (domain reference §5: legal
//! notices validated by the académie, shown in the footer of the login page
//! before login; RGPD processing of public interest, art. 6-1-e).
//!
//! `[legal]` names the notice in force (`version`, `published`) and keeps
//! the earlier ones readable (`[[legal.previous]]`, at
//! `/mentions-legales/<version>`); `[legal.charter]` is an optional usage
//! charter that the people it concerns accept at their first login, and
//! again at each new version. An acceptance is kept in the store under
//! `charter:{<person reference>}` ([`charter_key`]) as
//! [`CharterAcceptance`], for [`CHARTER_ACCEPTANCE_TTL`] (about 400 days:
//! a school year and its summer, so that a person who does not come back
//! for more than a year is asked again).
//!
//! [`Legal::load`] validates the table (versions, dates, duplicates, files
//! next to the configuration) and reports each problem with its file, line
//! and field.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sso_core::{Identity, Profile, attr};
use toml::Spanned;

use crate::config::{ConfigProblem, LoadedConfig};

/// How long an acceptance of the charter is kept (400 days).
pub const CHARTER_ACCEPTANCE_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// Longest version label (it appears in URLs and in the footer).
const MAX_VERSION_LEN: usize = 40;

/// `[legal]`: the legal notice, validated by the académie, shown in the
/// footer of every page before login.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalConfig {
    /// Who runs the service ("Académie de Rennes — DANE").
    pub operator: String,
    /// Paragraphs of the legal notice page (French).
    pub notice: Vec<String>,
    /// Contact of the data-protection officer.
    pub dpo_contact: String,
    /// Version label of the notice in force (`2026-09`), required.
    #[serde(default)]
    pub version: Option<Spanned<String>>,
    /// Its publication date, `YYYY-MM-DD`, required.
    #[serde(default)]
    pub published: Option<Spanned<String>>,
    /// Earlier versions, still readable.
    #[serde(default)]
    pub previous: Vec<PreviousNoticeConfig>,
    /// The optional usage charter.
    #[serde(default)]
    pub charter: Option<CharterConfig>,
}

/// `[[legal.previous]]`: an earlier version of the notice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousNoticeConfig {
    /// Its version label.
    pub version: Spanned<String>,
    /// Its publication date, `YYYY-MM-DD`.
    pub published: Spanned<String>,
    /// Its paragraphs (or `file`).
    #[serde(default)]
    pub notice: Vec<String>,
    /// A text file next to the configuration, paragraphs separated by a
    /// blank line (or `notice`).
    #[serde(default)]
    pub file: Option<Spanned<PathBuf>>,
}

/// `[legal.charter]`: the usage charter accepted at first login.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharterConfig {
    /// Its version label: a new one is asked again.
    pub version: Spanned<String>,
    /// Its paragraphs (or `file`).
    #[serde(default)]
    pub text: Vec<String>,
    /// A text file next to the configuration, paragraphs separated by a
    /// blank line (or `text`).
    #[serde(default)]
    pub file: Option<Spanned<PathBuf>>,
    /// The SDET profiles that must accept it (`National_ELV`...); absent:
    /// everybody.
    #[serde(default)]
    pub profiles: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One version of the legal notice, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Version label.
    pub version: String,
    /// Publication date.
    pub published: NaiveDate,
    /// The date in French ("1er septembre 2026").
    pub published_label: String,
    /// Paragraphs.
    pub paragraphs: Vec<String>,
}

/// The usage charter, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charter {
    /// Version label.
    pub version: String,
    /// Paragraphs.
    pub paragraphs: Vec<String>,
    /// The profiles that must accept it; `None`: everybody.
    pub profiles: Option<Vec<Profile>>,
}

impl Charter {
    /// Whether the person must accept it (one of their profiles is listed,
    /// or the charter concerns everybody).
    pub fn concerns(&self, identity: &Identity) -> bool {
        match &self.profiles {
            None => true,
            Some(listed) => identity
                .values(attr::PROFILE)
                .iter()
                .filter_map(|value| value.parse::<Profile>().ok())
                .any(|profile| listed.contains(&profile)),
        }
    }
}

/// Everything `[legal]` defines, validated: what the pages show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Legal {
    /// Who runs the service.
    pub operator: String,
    /// Contact of the data-protection officer.
    pub dpo_contact: String,
    /// The notice in force.
    pub current: Notice,
    /// Earlier versions, in file order.
    pub previous: Vec<Notice>,
    /// The usage charter, when configured.
    pub charter: Option<Charter>,
}

impl Legal {
    /// The notice of `version`, in force or earlier.
    pub fn notice(&self, version: &str) -> Option<&Notice> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|notice| notice.version == version)
    }

    /// Validates `[legal]` of `loaded`, reading the files it names.
    pub fn load(loaded: &LoadedConfig) -> Result<Self, Vec<ConfigProblem>> {
        let config = &loaded.config.legal;
        let mut problems = Vec::new();
        let table_line = loaded
            .text()
            .lines()
            .position(|line| line.trim() == "[legal]")
            .map(|index| index + 1);
        let missing = |field: &str| ConfigProblem {
            file: loaded.path.clone(),
            line: table_line,
            field: Some(format!("legal.{field}")),
            message: format!("`{field}` is required (the notice in force)"),
        };
        let version = match &config.version {
            Some(version) => check_version(loaded, version, "legal.version", &mut problems),
            None => {
                problems.push(missing("version"));
                None
            }
        };
        let published = match &config.published {
            Some(date) => check_date(loaded, date, "legal.published", &mut problems),
            None => {
                problems.push(missing("published"));
                None
            }
        };
        if config.notice.iter().all(|p| p.trim().is_empty()) {
            problems.push(ConfigProblem {
                file: loaded.path.clone(),
                line: table_line,
                field: Some("legal.notice".into()),
                message: "the notice in force has no text".into(),
            });
        }
        let mut seen: Vec<String> = version.iter().cloned().collect();
        let mut previous = Vec::new();
        for (index, entry) in config.previous.iter().enumerate() {
            let field = format!("legal.previous[{index}]");
            let version = check_version(
                loaded,
                &entry.version,
                &format!("{field}.version"),
                &mut problems,
            );
            if let Some(version) = &version {
                if seen.contains(version) {
                    problems.push(loaded.problem_at(
                        &entry.version,
                        format!("{field}.version"),
                        format!("version {version:?} is given twice"),
                    ));
                }
                seen.push(version.clone());
            }
            let published = check_date(
                loaded,
                &entry.published,
                &format!("{field}.published"),
                &mut problems,
            );
            let paragraphs = text_or_file(
                loaded,
                &entry.notice,
                entry.file.as_ref(),
                &entry.version,
                &field,
                ("notice", "file"),
                &mut problems,
            );
            if let (Some(version), Some(published), Some(paragraphs)) =
                (version, published, paragraphs)
            {
                previous.push(notice(version, published, paragraphs));
            }
        }
        let charter = config
            .charter
            .as_ref()
            .and_then(|charter| load_charter(loaded, charter, &mut problems));
        match (version, published) {
            (Some(version), Some(published)) if problems.is_empty() => Ok(Self {
                operator: config.operator.clone(),
                dpo_contact: config.dpo_contact.clone(),
                current: notice(version, published, config.notice.clone()),
                previous,
                charter,
            }),
            _ => Err(problems),
        }
    }
}

fn load_charter(
    loaded: &LoadedConfig,
    charter: &CharterConfig,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Charter> {
    let version = check_version(loaded, &charter.version, "legal.charter.version", problems);
    let paragraphs = text_or_file(
        loaded,
        &charter.text,
        charter.file.as_ref(),
        &charter.version,
        "legal.charter",
        ("text", "file"),
        problems,
    );
    let profiles = match &charter.profiles {
        None => Some(None),
        Some(list) if list.get_ref().is_empty() => {
            problems.push(loaded.problem_at(
                list,
                "legal.charter.profiles",
                "an empty list concerns nobody: remove `profiles` to ask everybody",
            ));
            None
        }
        Some(list) => {
            let mut profiles = Vec::new();
            for (index, value) in list.get_ref().iter().enumerate() {
                match value.get_ref().parse::<Profile>() {
                    Ok(profile) => profiles.push(profile),
                    Err(_) => problems.push(loaded.problem_at(
                        value,
                        format!("legal.charter.profiles[{index}]"),
                        format!(
                            "{:?} is not an SDET profile (National_ELV, National_TUT, ...)",
                            value.get_ref()
                        ),
                    )),
                }
            }
            Some(Some(profiles))
        }
    };
    Some(Charter {
        version: version?,
        paragraphs: paragraphs?,
        profiles: profiles?,
    })
}

/// A version label: 1 to 40 characters among letters, digits, `.`, `_`, `-`.
fn check_version(
    loaded: &LoadedConfig,
    version: &Spanned<String>,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<String> {
    let text = version.get_ref();
    let valid = !text.is_empty()
        && text.len() <= MAX_VERSION_LEN
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Some(text.clone())
    } else {
        problems.push(loaded.problem_at(
            version,
            field,
            format!(
                "{text:?} is not a version label (1 to {MAX_VERSION_LEN} letters, digits, `.`, `_` or `-`)"
            ),
        ));
        None
    }
}

fn check_date(
    loaded: &LoadedConfig,
    date: &Spanned<String>,
    field: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(date.get_ref(), "%Y-%m-%d") {
        Ok(parsed) => Some(parsed),
        Err(_) => {
            problems.push(loaded.problem_at(
                date,
                field,
                format!("{:?} is not a date YYYY-MM-DD", date.get_ref()),
            ));
            None
        }
    }
}

/// The paragraphs given inline or in a file (exactly one of them).
fn text_or_file(
    loaded: &LoadedConfig,
    inline: &[String],
    file: Option<&Spanned<PathBuf>>,
    anchor: &Spanned<String>,
    field: &str,
    (inline_name, file_name): (&str, &str),
    problems: &mut Vec<ConfigProblem>,
) -> Option<Vec<String>> {
    let inline: Vec<String> = inline
        .iter()
        .filter(|p| !p.trim().is_empty())
        .cloned()
        .collect();
    match (inline.is_empty(), file) {
        (false, None) => Some(inline),
        (true, Some(file)) => {
            let path = loaded.resolve(file.get_ref());
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let paragraphs = paragraphs(&text);
                    if paragraphs.is_empty() {
                        problems.push(loaded.problem_at(
                            file,
                            format!("{field}.{file_name}"),
                            format!("{} has no text", path.display()),
                        ));
                        None
                    } else {
                        Some(paragraphs)
                    }
                }
                Err(err) => {
                    problems.push(loaded.problem_at(
                        file,
                        format!("{field}.{file_name}"),
                        format!("cannot read {}: {err}", path.display()),
                    ));
                    None
                }
            }
        }
        (false, Some(file)) => {
            problems.push(loaded.problem_at(
                file,
                format!("{field}.{file_name}"),
                format!("give either `{inline_name}` or `{file_name}`, not both"),
            ));
            None
        }
        (true, None) => {
            problems.push(loaded.problem_at(
                anchor,
                format!("{field}.{inline_name}"),
                format!("no text: give `{inline_name}` (paragraphs) or `{file_name}`"),
            ));
            None
        }
    }
}

/// Paragraphs of a text file: blocks separated by blank lines, each block's
/// lines joined by a space.
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|block| block.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|paragraph| !paragraph.is_empty())
        .collect()
}

fn notice(version: String, published: NaiveDate, paragraphs: Vec<String>) -> Notice {
    Notice {
        version,
        published_label: french_date(published),
        published,
        paragraphs,
    }
}

/// A date in French: "1er septembre 2026", "15 janvier 2026".
pub fn french_date(date: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let month = MONTHS
        .get(date.month0() as usize)
        .copied()
        .unwrap_or_default();
    let day = match date.day() {
        1 => "1er".to_owned(),
        other => other.to_string(),
    };
    format!("{day} {month} {}", date.year())
}

/// The store key of a person's acceptance of the charter; `reference` is
/// [`crate::events::person_reference`] of the person's key.
pub fn charter_key(reference: &str) -> String {
    format!("charter:{{{reference}}}")
}

/// What the store keeps when a person accepts the charter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharterAcceptance {
    /// The version accepted.
    pub version: String,
    /// When, RFC 3339 (UTC).
    pub accepted_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_in_french() {
        let first = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        assert_eq!(french_date(first), "1er septembre 2026");
        let other = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        assert_eq!(french_date(other), "15 janvier 2026");
    }

    #[test]
    fn file_paragraphs_are_separated_by_blank_lines() {
        assert_eq!(
            paragraphs("Un\nparagraphe.\n\n\nDeux.\n"),
            vec!["Un paragraphe.".to_owned(), "Deux.".to_owned()]
        );
    }

    #[test]
    fn the_charter_concerns_the_listed_profiles_only() {
        let charter = Charter {
            version: "1".into(),
            paragraphs: vec!["Texte.".into()],
            profiles: Some(vec![Profile::Elv]),
        };
        let mut pupil = Identity::new("educonnect", "p", 0);
        pupil.push(attr::PROFILE, "National_ELV");
        let mut parent = Identity::new("educonnect", "t", 0);
        parent.push(attr::PROFILE, "National_TUT");
        assert!(charter.concerns(&pupil));
        assert!(!charter.concerns(&parent));
        let everybody = Charter {
            profiles: None,
            ..charter
        };
        assert!(everybody.concerns(&parent));
    }

    #[test]
    fn the_acceptance_key_is_a_hash_tag_of_the_reference() {
        assert_eq!(charter_key("abc"), "charter:{abc}");
    }
}
