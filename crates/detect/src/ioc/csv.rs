//! CSV indicator lists.
//!
//! Columns, with a header row naming them (any order, case-insensitive; others ignored):
//! `value` (required), `type`, `description`, `severity`, `source`. Without a header a row
//! is `type,value[,description[,severity]]`, or `value[,description]` when the first cell
//! is not a type name. An empty or missing type is guessed from the value
//! ([`IocKind::detect`]). Lines starting with `#` are comments. A row whose value is not
//! valid for its type, or whose type is unknown, is rejected naming its line.

use super::{Import, IocError, IocImporter, IocKind, malformed};
use riposte_model::Severity;

/// Reads CSV lists (see the module documentation for the columns).
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvImporter;

#[derive(Default)]
struct Columns {
    kind: Option<usize>,
    value: usize,
    description: Option<usize>,
    severity: Option<usize>,
    source: Option<usize>,
}

impl IocImporter for CsvImporter {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn import(&self, data: &[u8], source: &str) -> Result<Import, IocError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(data);
        let mut import = Import::default();
        let mut header: Option<Columns> = None;
        for (n, row) in reader.records().enumerate() {
            let row = row.map_err(|e| malformed("csv", source, e.to_string()))?;
            let line = row.position().map_or(n as u64 + 1, |p| p.line());
            let place = format!("line {line}");
            if n == 0 && row.iter().any(|c| c.eq_ignore_ascii_case("value")) {
                header = Some(columns(&row));
                continue;
            }
            let cell = |i: Option<usize>| i.and_then(|i| row.get(i)).filter(|c| !c.is_empty());
            let (kind, value, description, severity, row_source) = match &header {
                Some(c) => (
                    cell(c.kind),
                    cell(Some(c.value)),
                    cell(c.description),
                    cell(c.severity),
                    cell(c.source),
                ),
                None if row.len() >= 2
                    && (row[0].is_empty() || IocKind::from_name(&row[0]).is_some()) =>
                {
                    (
                        cell(Some(0)),
                        cell(Some(1)),
                        cell(Some(2)),
                        cell(Some(3)),
                        None,
                    )
                }
                None => (None, cell(Some(0)), cell(Some(1)), None, None),
            };
            let Some(value) = value else {
                if row.iter().any(|c| !c.is_empty()) {
                    import.reject(place, "no value");
                }
                continue;
            };
            let kind = match kind {
                Some(name) => match IocKind::from_name(name) {
                    Some(kind) => kind,
                    None => {
                        import.reject(place, format!("unknown type `{name}`"));
                        continue;
                    }
                },
                None => match IocKind::detect(value) {
                    Some(kind) => kind,
                    None => {
                        import.reject(place, format!("cannot tell the type of `{value}`"));
                        continue;
                    }
                },
            };
            let severity = match severity.map(str::parse::<Severity>) {
                Some(Err(e)) => {
                    import.reject(place, e.to_string());
                    continue;
                }
                Some(Ok(s)) => Some(s),
                None => None,
            };
            let source = row_source.unwrap_or(source);
            import.add(
                &place,
                kind,
                value,
                source,
                description.unwrap_or(""),
                severity,
            );
        }
        Ok(import)
    }
}

fn columns(header: &csv::StringRecord) -> Columns {
    let mut c = Columns::default();
    for (i, name) in header.iter().enumerate() {
        match name.to_ascii_lowercase().as_str() {
            "type" | "kind" => c.kind = Some(i),
            "value" => c.value = i,
            "description" | "comment" => c.description = Some(i),
            "severity" => c.severity = Some(i),
            "source" => c.source = Some(i),
            _ => {}
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_rows_headers_detection_and_rejections() {
        let csv = "# a comment\n\
                   sha256,275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F,EICAR\n\
                   ,10.0.0.0/8\n\
                   evil.example,C2 domain\n\
                   md5,not-a-hash\n\
                   colour,blue\n";
        let import = CsvImporter.import(csv.as_bytes(), "feed.csv").unwrap();
        let got: Vec<_> = import
            .indicators
            .iter()
            .map(|i| (i.kind, i.value.as_str(), i.description.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    IocKind::Sha256,
                    "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
                    "EICAR"
                ),
                (IocKind::Ip, "10.0.0.0/8", ""),
                (IocKind::Domain, "evil.example", "C2 domain"),
            ]
        );
        let places: Vec<_> = import.rejected.iter().map(|r| r.place.as_str()).collect();
        assert_eq!(places, vec!["line 5", "line 6"]);

        let with_header = "Severity,Value,Type,Source\nhigh,http://x.example/a,url,partner\n";
        let import = CsvImporter.import(with_header.as_bytes(), "f").unwrap();
        assert_eq!(import.indicators[0].severity, Some(Severity::High));
        assert_eq!(import.indicators[0].source, "partner");
        assert_eq!(import.indicators[0].kind, IocKind::Url);

        let bad_utf8 = CsvImporter
            .import(b"md5,\xff\xfe\n", "bad.csv")
            .unwrap_err()
            .to_string();
        assert!(
            bad_utf8.contains("bad.csv") && bad_utf8.contains("line 1"),
            "{bad_utf8}"
        );
    }
}
