//! Sigma field names → an event's values: the [`rsigma_eval::Event`] view of a Riposte
//! [`Event`] under one [`FieldMap`].
//!
//! What a lookup needs beyond the attributes (a CloudTrail record's JSON, an auditd
//! group's records) is decoded once per event into [`Prepared`], never per rule.

use super::logsource::{FieldMap, Product};
use riposte_model::Event;
use rsigma_eval::event::{Event as SigmaEventTrait, EventValue, JsonEvent};
use serde_json::Value;
use std::borrow::Cow;

/// Windows System fields by their Sigma names → the evtx parser's attribute names.
const WINDOWS_SYSTEM: &[(&str, &str)] = &[
    ("EventID", "event_id"),
    ("Channel", "channel"),
    ("Provider_Name", "provider"),
    ("Computer", "computer"),
    ("EventRecordID", "record_id"),
];

/// Sysmon process-creation names → Security 4688's (pySigma's windows-audit mapping, as
/// Hayabusa applies it). `CommandLine` has the same name in both.
const SECURITY_PROCESS_CREATION: &[(&str, &str)] = &[
    ("Image", "NewProcessName"),
    ("ParentImage", "ParentProcessName"),
    ("ProcessId", "NewProcessId"),
    ("ParentProcessId", "ProcessId"),
    ("LogonId", "SubjectLogonId"),
    ("User", "SubjectUserName"),
];

/// Linux process-creation names → the auditd parser's attributes of an `EXECVE` group.
const LINUX_PROCESS_CREATION: &[(&str, &str)] = &[
    ("Image", "exe"),
    ("CommandLine", "cmd"),
    ("User", "username"),
    ("ProcessId", "pid"),
    ("ParentProcessId", "ppid"),
    ("CurrentDirectory", "cwd"),
    ("ParentImage", "parent_exe"),
    ("ParentCommandLine", "parent_cmd"),
];

/// CloudTrail record fields → the cloudtrail parser's attributes, used only when the raw
/// record is not readable JSON.
const CLOUDTRAIL_ATTRIBUTES: &[(&str, &str)] = &[
    ("eventName", "event_name"),
    ("eventSource", "event_source"),
    ("eventTime", "event_time"),
    ("awsRegion", "aws_region"),
    ("sourceIPAddress", "source_ip_address"),
    ("userAgent", "user_agent"),
    ("userIdentity.arn", "user_arn"),
    ("userIdentity.type", "user_type"),
    ("userIdentity.userName", "username"),
    ("userIdentity.principalId", "principal_id"),
    ("userIdentity.accessKeyId", "access_key_id"),
    ("userIdentity.invokedBy", "invoked_by"),
    (
        "userIdentity.sessionContext.sessionIssuer.userName",
        "role_name",
    ),
    ("userIdentity.sessionContext.sessionIssuer.arn", "role_arn"),
    ("recipientAccountId", "recipient_account_id"),
    ("errorCode", "error_code"),
    ("errorMessage", "error_message"),
    ("eventID", "event_id"),
    ("eventType", "event_type"),
    ("eventCategory", "event_category"),
    ("requestID", "request_id"),
    ("responseElements.ConsoleLogin", "console_login"),
];

/// Looks `name` up in a `(from, to)` table.
fn mapped(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(from, _)| *from == name)
        .map(|(_, to)| *to)
}

/// What an event's lookups need beyond its attributes, decoded once.
#[derive(Debug, Default)]
pub enum Prepared {
    /// Attributes are enough.
    #[default]
    Nothing,
    /// A CloudTrail record's JSON.
    Json(Value),
    /// An auditd group's record fields, in order (`type` once per record).
    Audit(Vec<(String, String)>),
    /// Windows data fields whose names hold spaces (Defender's `Threat Name`), under the
    /// names Sigma gives them: spaces removed (`ThreatName`).
    Despaced(Vec<(String, String)>),
}

impl Prepared {
    /// Decodes what `product`'s field maps need from `event`.
    pub fn of(event: &Event, product: Product) -> Prepared {
        match product {
            Product::Aws => serde_json::from_str(&event.raw)
                .map(Prepared::Json)
                .unwrap_or_default(),
            Product::Linux if event.origin.parser == "auditd" => {
                Prepared::Audit(audit_fields(&event.raw))
            }
            Product::Windows if event.attributes.keys().any(|k| k.contains(' ')) => {
                Prepared::Despaced(
                    event
                        .attributes
                        .iter()
                        .filter(|(k, _)| k.contains(' '))
                        .map(|(k, v)| (k.replace(' ', ""), v.clone()))
                        .collect(),
                )
            }
            _ => Prepared::Nothing,
        }
    }
}

/// One event seen through a field map.
pub struct MappedEvent<'a> {
    event: &'a Event,
    map: FieldMap,
    prepared: &'a Prepared,
    json: Option<JsonEvent<'a>>,
}

impl<'a> MappedEvent<'a> {
    /// `event` under `map`, with what [`Prepared::of`] decoded for it.
    pub fn new(event: &'a Event, map: FieldMap, prepared: &'a Prepared) -> Self {
        let json = match prepared {
            Prepared::Json(value) => Some(JsonEvent::borrow(value)),
            _ => None,
        };
        MappedEvent {
            event,
            map,
            prepared,
            json,
        }
    }

    fn attr(&self, name: &str) -> Option<EventValue<'_>> {
        self.event
            .attributes
            .get(name)
            .map(|v| EventValue::Str(Cow::Borrowed(v.as_str())))
    }

    /// A Windows field: by its name, else by its name with the spaces taken out; `Data`
    /// is also every unnamed `<Data>` element (`Data[1]`, `Data[2]`, …). A value holding
    /// access-right codes (`%%4417`) answers both as logged and with the codes' names.
    fn windows_attr(&self, name: &str) -> Option<EventValue<'_>> {
        let value = self
            .event
            .attributes
            .get(name)
            .or_else(|| match self.prepared {
                Prepared::Despaced(fields) => {
                    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
                }
                _ => None,
            });
        match value {
            Some(v) => Some(with_access_names(v)),
            None if name == "Data" => self.unnamed_data(),
            None => None,
        }
    }

    /// The unnamed `<Data>` elements of an event's `EventData`, in order: what Sigma's
    /// `Data` means ("the container for the event data as a whole") for events such as
    /// Application's ESENT, MsiInstaller or MSSQL ones, whose data has no names.
    fn unnamed_data(&self) -> Option<EventValue<'_>> {
        let mut values: Vec<(usize, &str)> = self
            .event
            .attributes
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix("Data[")?.strip_suffix(']')?.parse().ok()?;
                Some((n, v.as_str()))
            })
            .collect();
        values.sort_unstable_by_key(|(n, _)| *n);
        match values.len() {
            0 => None,
            _ => Some(EventValue::Array(
                values
                    .into_iter()
                    .map(|(_, v)| EventValue::Str(Cow::Borrowed(v)))
                    .collect(),
            )),
        }
    }

    /// The text keyword rules search on Linux: the log line as it was.
    fn line(&self) -> &str {
        if self.event.raw.is_empty() {
            &self.event.message
        } else {
            &self.event.raw
        }
    }
}

impl SigmaEventTrait for MappedEvent<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        match self.map {
            FieldMap::Windows => self.windows_attr(mapped(WINDOWS_SYSTEM, path).unwrap_or(path)),
            FieldMap::SecurityProcessCreation => {
                let name = mapped(SECURITY_PROCESS_CREATION, path)
                    .or_else(|| mapped(WINDOWS_SYSTEM, path))
                    .unwrap_or(path);
                self.windows_attr(name)
            }
            FieldMap::LinuxProcessCreation => {
                self.attr(mapped(LINUX_PROCESS_CREATION, path).unwrap_or(path))
            }
            FieldMap::LinuxLine => self.attr(path),
            FieldMap::Auditd => match self.prepared {
                Prepared::Audit(fields) => {
                    let mut values: Vec<EventValue<'_>> = fields
                        .iter()
                        .filter(|(k, _)| k == path)
                        .map(|(_, v)| EventValue::Str(Cow::Borrowed(v.as_str())))
                        .collect();
                    match values.len() {
                        0 => None,
                        1 => values.pop(),
                        _ => Some(EventValue::Array(values)),
                    }
                }
                _ => None,
            },
            FieldMap::CloudTrail => match &self.json {
                Some(json) => json.get_field(path),
                None => mapped(CLOUDTRAIL_ATTRIBUTES, path).and_then(|name| self.attr(name)),
            },
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        match (self.map, &self.json) {
            (FieldMap::Windows | FieldMap::SecurityProcessCreation, _) => {
                self.event.attributes.values().any(|v| pred(v))
            }
            (FieldMap::CloudTrail, Some(json)) => json.any_string_value(pred),
            _ => pred(self.line()),
        }
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        match (self.map, &self.json) {
            (FieldMap::Windows | FieldMap::SecurityProcessCreation, _) => self
                .event
                .attributes
                .values()
                .map(|v| Cow::Borrowed(v.as_str()))
                .collect(),
            (FieldMap::CloudTrail, Some(json)) => json.all_string_values(),
            _ => vec![Cow::Borrowed(self.line())],
        }
    }

    fn to_json(&self) -> Value {
        if let (FieldMap::CloudTrail, Prepared::Json(json)) = (self.map, self.prepared) {
            return json.clone();
        }
        Value::Object(
            self.event
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// Windows access-right message codes (msobjs.dll) as the Security log renders them:
/// rules match either form (`AccessList|contains: '%%4417'` or `'WriteData'`).
const ACCESS_RIGHTS: &[(&str, &str)] = &[
    ("%%1537", "DELETE"),
    ("%%1538", "READ_CONTROL"),
    ("%%1539", "WRITE_DAC"),
    ("%%1540", "WRITE_OWNER"),
    ("%%1541", "SYNCHRONIZE"),
    ("%%1542", "ACCESS_SYS_SEC"),
    ("%%4416", "ReadData (or ListDirectory)"),
    ("%%4417", "WriteData (or AddFile)"),
    (
        "%%4418",
        "AppendData (or AddSubdirectory or CreatePipeInstance)",
    ),
    ("%%4419", "ReadEA"),
    ("%%4420", "WriteEA"),
    ("%%4421", "Execute/Traverse"),
    ("%%4422", "DeleteChild"),
    ("%%4423", "ReadAttributes"),
    ("%%4424", "WriteAttributes"),
];

/// A Windows value; one holding access-right codes is both as logged and with each code
/// replaced by its name, so that equality holds on the first and `contains` on either.
fn with_access_names(value: &str) -> EventValue<'_> {
    let raw = EventValue::Str(Cow::Borrowed(value));
    if !value.contains("%%") {
        return raw;
    }
    let mut named = String::with_capacity(value.len() * 2);
    let mut rest = value;
    let mut replaced = false;
    while let Some(at) = rest.find("%%") {
        named.push_str(&rest[..at]);
        let code_len = 2 + rest[at + 2..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let code = &rest[at..at + code_len];
        match mapped(ACCESS_RIGHTS, code) {
            Some(name) => {
                named.push_str(name);
                replaced = true;
            }
            None => named.push_str(code),
        }
        rest = &rest[at + code_len..];
    }
    named.push_str(rest);
    if replaced {
        EventValue::Array(vec![raw, EventValue::Str(Cow::Owned(named))])
    } else {
        raw
    }
}

/// The fields of every record of an auditd group (`raw`: one record per line), with
/// `type` first for each record. Quoted values are unquoted; the unquoted arguments of
/// `EXECVE` (`a0`, `a1`, …) and `PROCTITLE`'s `proctitle` are hex and decoded, as
/// auditd writes them so when they hold spaces or quotes.
pub fn audit_fields(raw: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in raw.lines() {
        let line = line.replace('\u{1d}', " ");
        let mut record_type = String::new();
        for token in tokens(&line) {
            let Some((key, value)) = token.split_once('=') else {
                continue;
            };
            if key == "msg" && value.starts_with("audit(") {
                continue;
            }
            let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
            let value = if quoted {
                value[1..value.len() - 1].to_string()
            } else if (record_type == "EXECVE" && is_execve_arg(key))
                || (record_type == "PROCTITLE" && key == "proctitle")
            {
                decode_hex(value).unwrap_or_else(|| value.to_string())
            } else {
                value.to_string()
            };
            if key == "type" {
                record_type = value.clone();
            }
            out.push((key.to_string(), value));
        }
    }
    out
}

fn is_execve_arg(key: &str) -> bool {
    key.strip_prefix('a')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whitespace-separated `key=value` tokens; a double-quoted value may hold spaces.
fn tokens(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    let mut in_quotes = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                start.get_or_insert(i);
            }
            c if c.is_whitespace() && !in_quotes => {
                if let Some(s) = start.take() {
                    out.push(&line[s..i]);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        out.push(&line[s..]);
    }
    out
}

/// Hex-encoded text (NULs between `proctitle` arguments become spaces).
fn decode_hex(value: &str) -> Option<String> {
    if value.is_empty()
        || !value.len().is_multiple_of(2)
        || !value.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..value.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(value.get(i..i + 2)?, 16).ok())
        .map(|b| b.map(|b| if b == 0 { b' ' } else { b }))
        .collect();
    Some(String::from_utf8_lossy(&bytes?).trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use riposte_model::{Action, EventOrigin};

    fn event(parser: &str) -> Event {
        let origin = EventOrigin {
            parser: parser.into(),
            path: "p".into(),
            record: Some(1),
        };
        Event::new(None, "h", Action::ProcessRun, "m", origin)
    }

    fn text(v: Option<EventValue<'_>>) -> Option<String> {
        v.and_then(|v| v.as_str().map(|s| s.into_owned()))
    }

    #[test]
    fn security_4688_answers_to_sysmon_names_only_for_process_creation() {
        let e = event("evtx")
            .with("event_id", "4688")
            .with("channel", "Security")
            .with("NewProcessName", "C:\\Windows\\System32\\cmd.exe")
            .with("ParentProcessName", "C:\\Windows\\explorer.exe")
            .with("NewProcessId", "0x1068")
            .with("ProcessId", "0x17d4");
        let p = Prepared::Nothing;
        let mapped = MappedEvent::new(&e, FieldMap::SecurityProcessCreation, &p);
        assert_eq!(
            text(mapped.get_field("Image")).as_deref(),
            Some("C:\\Windows\\System32\\cmd.exe")
        );
        assert_eq!(
            text(mapped.get_field("ParentImage")).as_deref(),
            Some("C:\\Windows\\explorer.exe")
        );
        assert_eq!(
            text(mapped.get_field("ProcessId")).as_deref(),
            Some("0x1068")
        );
        assert_eq!(
            text(mapped.get_field("ParentProcessId")).as_deref(),
            Some("0x17d4")
        );
        assert_eq!(text(mapped.get_field("EventID")).as_deref(), Some("4688"));
        // A `service: security` rule reads 4688's own names.
        let native = MappedEvent::new(&e, FieldMap::Windows, &p);
        assert_eq!(
            text(native.get_field("ProcessId")).as_deref(),
            Some("0x17d4")
        );
        assert!(native.get_field("Image").is_none());
        assert_eq!(
            text(native.get_field("Channel")).as_deref(),
            Some("Security")
        );
    }

    #[test]
    fn windows_fields_with_spaces_answer_to_their_sigma_names() {
        // Defender 1119 as logged (SigmaHQ regression sample of rule a7c3e5f2).
        let e = event("evtx")
            .with("event_id", "1119")
            .with("Threat Name", "Tool:Win32/EICAR_Test_File")
            .with("Source Name", "Real-Time Protection");
        let p = Prepared::of(&e, Product::Windows);
        let m = MappedEvent::new(&e, FieldMap::Windows, &p);
        assert_eq!(
            text(m.get_field("ThreatName")).as_deref(),
            Some("Tool:Win32/EICAR_Test_File")
        );
        assert_eq!(
            text(m.get_field("Threat Name")).as_deref(),
            Some("Tool:Win32/EICAR_Test_File")
        );
        assert!(m.get_field("Threat").is_none());
    }

    #[test]
    fn auditd_records_are_split_unquoted_and_hex_decoded() {
        // A record group as auditd writes it (format: auditd's audit.log documentation).
        let raw = "type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59 success=yes a0=55d0 exe=\"/usr/bin/chmod\" key=\"perm\"\n\
                   type=EXECVE msg=audit(1700000000.123:456): argc=3 a0=\"chmod\" a1=\"+x\" a2=2F746D702F6120622E7368\n\
                   type=PROCTITLE msg=audit(1700000000.123:456): proctitle=63686D6F64002B78";
        let fields = audit_fields(raw);
        let get = |k: &str| -> Vec<&str> {
            fields
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("type"), ["SYSCALL", "EXECVE", "PROCTITLE"]);
        assert_eq!(get("exe"), ["/usr/bin/chmod"]);
        // SYSCALL's a0 is a number and stays as written; EXECVE's hex argument is decoded.
        assert_eq!(get("a0"), ["55d0", "chmod"]);
        assert_eq!(get("a2"), ["/tmp/a b.sh"]);
        assert_eq!(get("proctitle"), ["chmod +x"]);
        assert!(get("msg").is_empty());

        let e = event("auditd").with_raw(raw);
        let p = Prepared::of(&e, Product::Linux);
        let m = MappedEvent::new(&e, FieldMap::Auditd, &p);
        assert!(matches!(m.get_field("type"), Some(EventValue::Array(v)) if v.len() == 3));
        assert_eq!(text(m.get_field("key")).as_deref(), Some("perm"));
    }

    #[test]
    fn cloudtrail_reads_the_record_and_falls_back_to_attributes() {
        let e = event("cloudtrail")
            .with("event_name", "StopLogging")
            .with_raw(r#"{"eventName":"StopLogging","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/x"}}"#);
        let p = Prepared::of(&e, Product::Aws);
        let m = MappedEvent::new(&e, FieldMap::CloudTrail, &p);
        assert_eq!(
            text(m.get_field("userIdentity.type")).as_deref(),
            Some("IAMUser")
        );
        let broken = event("cloudtrail")
            .with("event_name", "StopLogging")
            .with_raw("{not json");
        let p = Prepared::of(&broken, Product::Aws);
        let m = MappedEvent::new(&broken, FieldMap::CloudTrail, &p);
        assert_eq!(
            text(m.get_field("eventName")).as_deref(),
            Some("StopLogging")
        );
        assert!(m.get_field("userIdentity.type").is_none());
    }
}
