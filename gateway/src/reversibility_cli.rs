//! Command-line front ends of reversibility (domain reference §5; issue 8):
//! `sso-gateway export` and `sso-gateway import`. The logic lives in
//! `sso_gateway::reversibility`; this module reads arguments and prints
//! (operators' output, in English).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sso_gateway::reversibility::{self, Counts, ExportOptions, ImportOptions};

/// Arguments of `sso-gateway export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The configuration file of the deployment to export.
    #[arg(long, short, env = "SSO_CONFIG")]
    config: PathBuf,
    /// The folder to write (must not exist, or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Leave the private keys and secrets out (an export for a third party;
    /// the opaque identifiers cannot be reproduced without them).
    #[arg(long)]
    without_secrets: bool,
}

/// Arguments of `sso-gateway import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export folder.
    #[arg(long)]
    from: PathBuf,
    /// The new configuration folder (must not exist, or hold only the
    /// secrets left out of the export).
    #[arg(long)]
    to: PathBuf,
    /// Redis URL written into the restored `[store] url`.
    #[arg(long)]
    store_url: Option<String>,
    /// Write into a store that already holds gateway data.
    #[arg(long)]
    force: bool,
}

fn print_counts(counts: &Counts) {
    println!("services       {}", counts.services);
    println!("subscriptions  {}", counts.subscriptions);
    for (academie, c) in &counts.academies {
        println!(
            "directory      {academie}: {} persons ({} inactive), sources {}",
            c.persons,
            c.inactive,
            c.sources.join(", ")
        );
    }
}

/// `sso-gateway export`.
pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = crate::load(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let store = crate::shared_store(&loaded).await?;
    let options = ExportOptions {
        out: args.out.clone(),
        with_secrets: !args.without_secrets,
    };
    match reversibility::export(&loaded, &store, &options).await {
        Ok(manifest) => {
            println!("export written to {}", args.out.display());
            print_counts(&manifest.counts);
            println!("files          {}", manifest.files.len());
            if manifest.with_secrets {
                eprintln!();
                eprintln!(
                    "WARNING: this export CONTAINS THE DEPLOYMENT'S PRIVATE KEYS AND SECRETS"
                );
                eprintln!(
                    "         ({} files: signing keys, identifier secrets, tokens) and personal data.",
                    manifest.files.iter().filter(|f| f.secret).count()
                );
                eprintln!(
                    "         Keep it encrypted, hand it over through an encrypted channel, delete it once imported."
                );
                eprintln!("         Use --without-secrets for an export handed to a third party.");
            } else {
                eprintln!(
                    "secrets left out ({}); the import will ask for them:",
                    manifest.secrets_left_out.len()
                );
                for secret in &manifest.secrets_left_out {
                    eprintln!("  {secret}");
                }
                eprintln!("this export still contains personal data (the directory).");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("export failed: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `sso-gateway import`.
pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let options = ImportOptions {
        from: args.from,
        to: args.to,
        store_url: args.store_url,
        force: args.force,
    };
    match reversibility::import(&options).await {
        Ok(report) => {
            println!("imported; configuration: {}", report.config.display());
            print_counts(&report.counts);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("import refused: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
