//! The operator's side of the AAF directory (`sso-gateway aaf ...`): import
//! options from the configuration, and the texts the commands print (a
//! summary per category, the rejected records with file and line, the
//! directory's status). Operators' output is in English.

use std::fmt::Write as _;

use sso_directory::import::{ImportOptions, ImportReport, Progress};
use sso_directory::model::Person;
use sso_directory::names::Category;
use sso_directory::store::{Directory, DirectoryError, Meta};

use crate::config::DirectoryConfig;

/// Rejections and warnings printed in full (the counts are always printed).
const LISTED: usize = 50;

/// Import options from `[directory]` and the command's flags.
pub fn import_options(
    config: &DirectoryConfig,
    dry_run: bool,
    force: bool,
    academie: Option<String>,
) -> ImportOptions {
    ImportOptions {
        dry_run,
        force,
        max_removed_share: config.max_removed_share,
        retention_days: config.retention_days,
        academie,
        ..ImportOptions::new()
    }
}

/// A one-line progress bar: `[#########...........] 45 %  1234567 records`.
pub fn progress_line(progress: &Progress) -> String {
    let percent = (progress.bytes_done * 100)
        .checked_div(progress.bytes_total)
        .unwrap_or(100)
        .min(100);
    let filled = usize::try_from(percent / 5).unwrap_or(20);
    format!(
        "[{}{}] {percent:>3} %  {} records",
        "#".repeat(filled),
        ".".repeat(20 - filled.min(20)),
        progress.records
    )
}

/// The summary of an import.
pub fn format_report(report: &ImportReport) -> String {
    let mut out = String::new();
    let mode = if report.dry_run {
        " (dry run: nothing written)"
    } else {
        ""
    };
    let _ = writeln!(out, "académie {}{mode}", report.academie);
    let _ = writeln!(
        out,
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "category", "read", "added", "modified", "deleted", "rejected"
    );
    for category in Category::ALL {
        if let Some(c) = report.categories.get(&category) {
            let _ = writeln!(
                out,
                "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10}",
                category.as_str(),
                c.read,
                c.added,
                c.modified,
                c.deleted,
                c.rejected
            );
        }
    }
    for file in &report.skipped_files {
        let _ = writeln!(out, "skipped (already applied): {file}");
    }
    if report.active_before > 0 || report.left > 0 {
        let _ = writeln!(
            out,
            "left the directory: {} of {} active persons (kept inactive until purged)",
            report.left, report.active_before
        );
    }
    let _ = writeln!(out, "purged (retention over): {}", report.purged);
    let rejected: u64 = report.categories.values().map(|c| c.rejected).sum();
    if rejected > 0 {
        let _ = writeln!(out, "rejected records: {rejected}");
        for r in report.rejected.iter().take(LISTED) {
            let _ = writeln!(out, "  {}:{} id {:?}: {}", r.file, r.line, r.id, r.reason);
        }
    }
    if report.warnings_total > 0 {
        let _ = writeln!(
            out,
            "unreadable values (field left empty): {}",
            report.warnings_total
        );
        for w in report.warnings.iter().take(LISTED) {
            let _ = writeln!(
                out,
                "  {}:{} {}: {}",
                w.file, w.line, w.warning.attribute, w.warning.reason
            );
        }
    }
    match report.generation {
        Some(generation) => {
            let _ = writeln!(out, "generation serving: {generation}");
        }
        None => {
            let _ = writeln!(out, "no generation serving yet");
        }
    }
    out
}

fn format_meta(out: &mut String, meta: &Meta, journal: usize) {
    let _ = writeln!(out, "académie {} ({})", meta.academie, meta.prefix);
    let _ = writeln!(out, "  generation      {}", meta.generation);
    let _ = writeln!(
        out,
        "  built from      {} complete export of {} (imported {})",
        meta.prefix,
        meta.export_date,
        meta.imported_at.format("%Y-%m-%d %H:%M UTC")
    );
    match meta.last_delta {
        Some(date) => {
            let _ = writeln!(out, "  last delta      {date}");
        }
        None => {
            let _ = writeln!(out, "  last delta      none");
        }
    }
    let _ = writeln!(
        out,
        "  persons         {} ({} inactive)",
        meta.persons, meta.inactive
    );
    let _ = writeln!(out, "  files applied   {journal}");
    for file in &meta.last_files {
        let _ = writeln!(out, "    {file}");
    }
}

/// `aaf status`: every académie loaded.
pub async fn status(directory: &Directory) -> Result<String, DirectoryError> {
    let mut out = String::new();
    let academies = directory.academies().await?;
    if academies.is_empty() {
        out.push_str("no directory loaded: run `sso-gateway aaf import`\n");
    }
    for academie in academies {
        let journal = directory.journal_len(&academie).await?;
        for meta in directory.metas(&academie).await? {
            format_meta(&mut out, &meta, journal);
        }
    }
    Ok(out)
}

/// `aaf show`: one person as the gateway sees them, with a guardian's
/// children; `None` when unknown.
pub async fn show(
    directory: &Directory,
    academie: &str,
    id: &str,
) -> Result<Option<String>, DirectoryError> {
    let Some(person) = directory.person(academie, id).await? else {
        return Ok(None);
    };
    let children = directory.children(academie, id).await?;
    Ok(Some(format_person(academie, &person, &children)))
}

fn format_person(academie: &str, person: &Person, children: &[Person]) -> String {
    let mut out = String::new();
    let name = |p: &Person| {
        format!(
            "{} {}",
            p.given_name.as_deref().unwrap_or_default(),
            p.surname.as_deref().unwrap_or_default()
        )
        .trim()
        .to_owned()
    };
    let _ = writeln!(
        out,
        "{} {} ({academie}, {:?})",
        person.id,
        name(person),
        person.kind
    );
    match person.absent_since {
        Some(date) => {
            let _ = writeln!(out, "  status       inactive since {date} (no login)");
        }
        None => {
            let _ = writeln!(out, "  status       active");
        }
    }
    let list = |values: Vec<String>| {
        if values.is_empty() {
            "-".to_owned()
        } else {
            values.join(", ")
        }
    };
    let rows: [(&str, String); 12] = [
        ("civility", list(person.civility.iter().cloned().collect())),
        (
            "birth date",
            list(person.birth_date.iter().map(|d| d.to_string()).collect()),
        ),
        ("e-mail", list(person.email.iter().cloned().collect())),
        (
            "profiles",
            list(
                person
                    .profiles
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect(),
            ),
        ),
        ("UAIs", list(person.uais.clone())),
        (
            "classes",
            list(
                person
                    .classes
                    .iter()
                    .map(|c| format!("{}##{}", c.code, c.label))
                    .collect(),
            ),
        ),
        (
            "groups",
            list(
                person
                    .groups
                    .iter()
                    .map(|g| format!("{}##{}", g.code, g.label))
                    .collect(),
            ),
        ),
        (
            "level",
            list(
                person
                    .mef_stat4
                    .iter()
                    .chain(person.level.iter())
                    .cloned()
                    .collect(),
            ),
        ),
        (
            "guardians",
            list(
                person
                    .guardians
                    .iter()
                    .map(|g| format!("{}{}", g.id, if g.legal { " (legal)" } else { "" }))
                    .collect(),
            ),
        ),
        (
            "functions",
            list(
                person
                    .functions
                    .iter()
                    .map(|f| format!("{} at {}", f.code, f.structure))
                    .collect(),
            ),
        ),
        (
            "teaches",
            list(
                person
                    .teaching
                    .iter()
                    .map(|t| {
                        format!(
                            "{} {}",
                            t.label,
                            t.subject_label.as_deref().unwrap_or(&t.subject)
                        )
                    })
                    .collect(),
            ),
        ),
        (
            "children",
            list(
                children
                    .iter()
                    .map(|c| format!("{} {}", c.id, name(c)))
                    .collect(),
            ),
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "  {label:<12} {value}");
    }
    if person.legal_person {
        let _ = writeln!(out, "  legal person (organisme)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_is_bounded() {
        let line = progress_line(&Progress {
            bytes_done: 45,
            bytes_total: 100,
            records: 12,
        });
        assert_eq!(line, "[#########...........]  45 %  12 records");
        let empty = progress_line(&Progress {
            bytes_done: 0,
            bytes_total: 0,
            records: 0,
        });
        assert!(empty.contains("100 %"), "{empty}");
    }
}
