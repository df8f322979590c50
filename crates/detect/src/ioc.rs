//! Indicators of compromise: importing feeds and matching them against events and files.
//!
//! An [`IocSet`] holds SHA-256/SHA-1/MD5 hashes, IP addresses and CIDR networks (v4 and
//! v6), domains (subdomains match too), URLs, file paths (case-insensitive for Windows
//! paths) and file names, each with its source, description and optional severity. Feeds
//! are read by one [`IocImporter`] per format, registered in [`importers`]: CSV, STIX 2.1
//! bundles, MISP event JSON and the LOKI/signature-base hash and C2 lists. An item an
//! importer cannot use is reported in [`Import::rejected`] with its line or object, never
//! fatal; only an unreadable document is an [`IocError`]. [`IocDetector`] raises one alarm
//! per indicator that matched events or collected files.

use riposte_model::Severity;

mod csv;
mod detector;
mod indicator;
mod loki;
mod misp;
mod set;
mod stix;

pub use self::csv::CsvImporter;
pub use detector::{IocDetector, IocDetectorConfig};
pub use indicator::{Indicator, IocKind};
pub use loki::{LokiC2Importer, LokiHashImporter};
pub use misp::MispImporter;
pub use set::IocSet;
pub use stix::StixImporter;

/// A document that could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum IocError {
    /// The document is not valid for its format (bad JSON, broken CSV quoting).
    #[error("{format} IOC file {source_name}: {message}")]
    Malformed {
        /// The importer's format name.
        format: &'static str,
        /// The source (file name) being read.
        source_name: String,
        /// What is wrong, with the line or object where it is.
        message: String,
    },
    /// No importer has this name.
    #[error("unknown IOC format `{0}`; expected one of: csv, stix, misp, loki-hash, loki-c2")]
    UnknownFormat(String),
}

/// An item of a feed that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Where it is: `line 12`, an object id, `Attribute 3`.
    pub place: String,
    /// Why it was left out.
    pub reason: String,
}

/// What an importer read from one document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Import {
    /// The indicators.
    pub indicators: Vec<Indicator>,
    /// Items left out (unsupported types or patterns, invalid values).
    pub rejected: Vec<Rejected>,
}

impl Import {
    fn reject(&mut self, place: impl Into<String>, reason: impl Into<String>) {
        self.rejected.push(Rejected {
            place: place.into(),
            reason: reason.into(),
        });
    }

    /// Adds `Indicator::new(kind, value, …)`, or a rejection naming `place`.
    fn add(
        &mut self,
        place: &str,
        kind: IocKind,
        value: &str,
        source: &str,
        description: &str,
        severity: Option<Severity>,
    ) {
        match Indicator::new(kind, value, source, description) {
            Ok(ioc) => self.indicators.push(ioc.with_severity(severity)),
            Err(reason) => self.reject(place, reason),
        }
    }
}

/// Reads one IOC format.
pub trait IocImporter: Send + Sync {
    /// Short stable name (`csv`, `stix`, …).
    fn name(&self) -> &'static str;
    /// Indicators from `data`; `source` names the feed (usually its file name) and
    /// becomes each indicator's source unless the format names its own.
    fn import(&self, data: &[u8], source: &str) -> Result<Import, IocError>;
}

static IMPORTERS: &[&dyn IocImporter] = &[
    &CsvImporter,
    &StixImporter,
    &MispImporter::DEFAULT,
    &LokiHashImporter,
    &LokiC2Importer,
];

/// Every registered importer, with its default settings.
pub fn importers() -> &'static [&'static dyn IocImporter] {
    IMPORTERS
}

/// The importer called `name`.
pub fn importer(name: &str) -> Result<&'static dyn IocImporter, IocError> {
    importers()
        .iter()
        .copied()
        .find(|i| i.name() == name)
        .ok_or_else(|| IocError::UnknownFormat(name.to_string()))
}

/// The importer for a feed, from its file name and content: `.csv` → `csv`; JSON holding a
/// STIX bundle (`"type": "bundle"`) → `stix`; other JSON (a MISP event or attribute
/// list) → `misp`; text whose lines are `hash;description` → `loki-hash`; other text (one
/// domain or IP per line) → `loki-c2`. `None` for an empty document.
pub fn guess_format(name: &str, data: &[u8]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        return Some("csv");
    }
    let text = String::from_utf8_lossy(&data[..data.len().min(64 * 1024)]);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
        return Some(if compact.contains("\"type\":\"bundle\"") {
            "stix"
        } else {
            "misp"
        });
    }
    let first = trimmed
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let head = first.split(';').next().unwrap_or("");
    let is_hash = matches!(head.len(), 32 | 40 | 64) && head.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hash {
        Some("loki-hash")
    } else if first.contains(',') {
        Some("csv")
    } else {
        Some("loki-c2")
    }
}

fn malformed(format: &'static str, source: &str, message: impl Into<String>) -> IocError {
    IocError::Malformed {
        format,
        source_name: source.to_string(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::guess_format;

    #[test]
    fn formats_are_guessed_from_name_and_content() {
        assert_eq!(guess_format("feed.CSV", b"x"), Some("csv"));
        assert_eq!(
            guess_format("b.json", br#"{ "type" : "bundle", "objects": []}"#),
            Some("stix")
        );
        assert_eq!(
            guess_format("e.json", br#"{"Event": {"Attribute": []}}"#),
            Some("misp")
        );
        assert_eq!(
            guess_format(
                "h.txt",
                b"# c\n\nce583821191345274cd954b2db7da9742c239fe413fc17dcb97ffdd7b51cb072;Dark"
            ),
            Some("loki-hash")
        );
        assert_eq!(
            guess_format("c2.txt", b"suroot.com\n58.64.143.244\n"),
            Some("loki-c2")
        );
        assert_eq!(
            guess_format("x.txt", b"type,value\nip,1.2.3.4\n"),
            Some("csv")
        );
        assert_eq!(guess_format("empty.txt", b"  \n"), None);
    }
}
