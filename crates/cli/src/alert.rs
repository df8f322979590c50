//! `riposte alert parse --source NAME FILE|-`: run one source's parser on a payload and
//! print the normalized alerts, to check how a vendor's fields map onto Riposte's model
//! (see `docs/SOURCES.md`) without a server.
//!
//! Exit status: 0 when the payload was parsed; 2 when the input is bad (unknown source,
//! unreadable file, invalid JSON, or a payload the parser refuses), with the reason on
//! stderr and nothing on stdout.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use riposte_model::{Alert, AlertSource};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest payload read, in bytes: far above any vendor's alert, bounded all the same.
const MAX_PAYLOAD_BYTES: u64 = 64 * 1024 * 1024;

/// Exit status for bad input (the same clap uses for a bad command line).
const BAD_INPUT: i32 = 2;

/// Options of `alert`.
#[derive(Args)]
pub struct AlertArgs {
    #[command(subcommand)]
    command: AlertCommand,
}

/// What `alert` can do.
#[derive(Subcommand)]
enum AlertCommand {
    /// Parse a vendor payload and print the normalized alert(s) as JSON, without `raw`.
    /// Exits with status 2, printing why, when the input is bad or refused.
    Parse {
        /// The alert source whose parser to use: generic, secdo, guardduty, crowdstrike,
        /// defender, sentinelone or wiz.
        #[arg(long, value_name = "NAME", value_parser = parse_source)]
        source: AlertSource,
        /// The payload file, or `-` for standard input.
        #[arg(value_name = "FILE|-")]
        file: PathBuf,
    },
}

/// An alert source name, any case; the error lists the valid names.
pub(crate) fn parse_source(name: &str) -> Result<AlertSource, String> {
    name.parse::<AlertSource>().map_err(|e| e.to_string())
}

/// Runs `alert …`. Bad input is reported on stderr and ends the process with status 2
/// (distinct from 1, which `main` uses for failures of Riposte itself).
pub fn run(args: AlertArgs) -> Result<()> {
    match args.command {
        AlertCommand::Parse { source, file } => match parse(source, &file) {
            Ok(alerts) => {
                let alerts = alerts
                    .iter()
                    .map(without_raw)
                    .collect::<serde_json::Result<Vec<_>>>()
                    .context("serializing the alerts")?;
                let mut out = std::io::stdout().lock();
                serde_json::to_writer_pretty(&mut out, &alerts).context("writing the alerts")?;
                writeln!(out).context("writing the alerts")?;
                Ok(())
            }
            Err(lines) => {
                let mut err = std::io::stderr().lock();
                for line in lines {
                    writeln!(err, "{line}").context("writing to stderr")?;
                }
                std::process::exit(BAD_INPUT);
            }
        },
    }
}

/// The alerts of one payload, or the lines explaining why there are none.
fn parse(source: AlertSource, file: &Path) -> Result<Vec<Alert>, Vec<String>> {
    let name = if file == Path::new("-") {
        "<stdin>".to_string()
    } else {
        file.display().to_string()
    };
    let bytes = read(file).map_err(|e| vec![format!("{name}: cannot read: {e}")])?;
    parse_bytes(source, &name, &bytes)
}

/// The alerts of a payload already read (`name` says where it came from), or the lines
/// explaining why there are none.
pub(crate) fn parse_bytes(
    source: AlertSource,
    name: &str,
    bytes: &[u8],
) -> Result<Vec<Alert>, Vec<String>> {
    let parser = riposte_sources::parser(source)
        .ok_or_else(|| vec![format!("no parser is registered for source {source}")])?;
    let payload: Value = serde_json::from_slice(bytes).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let what = full
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(&full);
        vec![format!(
            "{name}: invalid JSON at line {line}, column {column}: {what}"
        )]
    })?;
    let alerts = parser.parse(&payload, chrono::Utc::now()).map_err(|e| {
        let problems = e.field_errors();
        if problems.is_empty() {
            return vec![format!("{name}: refused by the {source} parser: {e}")];
        }
        let header = format!(
            "{name}: refused by the {source} parser ({} problem(s)):",
            problems.len()
        );
        std::iter::once(header)
            .chain(problems.iter().map(ToString::to_string))
            .collect()
    })?;
    Ok(alerts)
}

/// The payload bytes of a file, or of standard input for `-`, up to [`MAX_PAYLOAD_BYTES`].
pub(crate) fn read(file: &Path) -> std::io::Result<Vec<u8>> {
    let reader: Box<dyn Read> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(file)?)
    };
    let mut bytes = Vec::new();
    reader.take(MAX_PAYLOAD_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB",
            MAX_PAYLOAD_BYTES / (1024 * 1024)
        )));
    }
    Ok(bytes)
}

/// An alert as JSON, minus the verbatim payload it was parsed from.
pub(crate) fn without_raw(alert: &Alert) -> serde_json::Result<Value> {
    let mut value = serde_json::to_value(alert)?;
    if let Value::Object(map) = &mut value {
        map.remove("raw");
    }
    Ok(value)
}
