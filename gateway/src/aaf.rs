//! The operator's side of the AAF directory (`sso-gateway aaf ...`): import
//! options from the configuration, and the texts the commands print (a
//! summary per category, the rejected records with file and line, the
//! directory's status). Operators' output is in English.

use std::fmt::Write as _;

use sso_directory::import::{ImportOptions, ImportReport, Progress};
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

/// `aaf show`: one person as the gateway sees them (JSON), with a guardian's
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
    let value = serde_json::json!({
        "academie": academie,
        "person": person,
        "children": children.iter().map(|c| &c.id).collect::<Vec<_>>(),
    });
    Ok(Some(
        serde_json::to_string_pretty(&value).unwrap_or_default(),
    ))
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
