//! Well-known events → the pipeline's actions and normalized attribute names.
//!
//! | log | event | action | normalized attributes |
//! | --- | --- | --- | --- |
//! | Sysmon | 1 process create | `run` | `cmd`, `file_path`, `file_name`, `pid`, `parent_path`, `parent_cmd`, `parent_pid`, `username`, `process_hash` |
//! | Security | 4688 process create | `run` | `file_path` (`NewProcessName`), `file_name`, `cmd`, `pid` (hex → decimal), `parent_path`, `username` (`SubjectUserName`) |
//! | Security | 4624 / 4625 logon / failure | `logon` / `failed_logon` | `username` (`TargetUserName`), `domain`, `remote_ip` (`IpAddress`), `remote_port`, `remote_host` (`WorkstationName`), `logon_type` |
//! | Security | 4634 / 4647 logoff | `logoff` | `username`, `domain`, `logon_type` |
//! | Sysmon | 3 network connection | `outgoing_network` (`Initiated` true) / `incoming_network` | `remote_ip`, `remote_port`, `remote_host`, `local_ip`, `local_port`, `protocol`, `file_path`, `pid`, `username` |
//! | Sysmon | 11 file create | `create_file` | `file_path` (`TargetFilename`), `file_name`, `process_path`, `pid`, `username` |
//! | Sysmon | 23 / 26 file delete | `delete_file` | as 11 |
//! | Sysmon | 12 / 13 / 14 registry | `write_registry` (create key, set value) / `delete_registry` / `rename_registry` | `key_name` (`TargetObject`), `key_value` (`Details`), `key_new_name` (`NewName`), `process_path`, `pid` |
//! | Sysmon | 8 / 10 remote thread / process access | `injection` (the target process) | `file_path`, `pid` (target), `injector_path`, `injector_pid` (source), `granted_access` |
//! | System / Security | 7045 / 4697 service installed | `write_registry`: SCM writes the service's key | `service_name`, `key_name` (`HKLM\SYSTEM\CurrentControlSet\Services\<name>`), `key_value` and `cmd` (the image path, a command line), `service_account`, `username` (4697) |
//! | Security / System | 1102 / 104 log cleared (Eventlog provider) | `host` | `username` (`SubjectUserName`), `domain` |
//!
//! Everything else is a `host` event (a fact about the host) with the message
//! `<provider> <event_id>`.

use super::fields::Record;
use riposte_model::Action;

/// What a record says, beyond its raw fields.
pub(crate) struct Mapped {
    pub action: Action,
    pub message: String,
    pub attrs: Vec<(&'static str, String)>,
}

impl Mapped {
    fn new(action: Action, message: String) -> Self {
        Mapped {
            action,
            message,
            attrs: Vec::new(),
        }
    }

    /// Adds `key` = the record's field `field` when it has a meaningful value.
    fn from(mut self, r: &Record, key: &'static str, field: &str) -> Self {
        if let Some(v) = r.get(field) {
            self.attrs.push((key, v.to_string()));
        }
        self
    }

    fn attr(mut self, key: &'static str, value: Option<String>) -> Self {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.attrs.push((key, v));
        }
        self
    }

    /// `file_path` and its last component as `file_name`.
    fn path(self, r: &Record, field: &str) -> Self {
        let name = r.get(field).map(|p| file_name(p).to_string());
        self.from(r, "file_path", field).attr("file_name", name)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Sysmon,
    Security,
    ServiceControlManager,
    Eventlog,
    Other,
}

fn source(r: &Record) -> Source {
    let provider = r.system("provider").unwrap_or("");
    let channel = r.system("channel").unwrap_or("");
    if provider.eq_ignore_ascii_case("Microsoft-Windows-Sysmon")
        || channel.eq_ignore_ascii_case("Microsoft-Windows-Sysmon/Operational")
    {
        Source::Sysmon
    } else if provider.eq_ignore_ascii_case("Microsoft-Windows-Eventlog") {
        Source::Eventlog
    } else if provider.eq_ignore_ascii_case("Microsoft-Windows-Security-Auditing")
        || channel.eq_ignore_ascii_case("Security")
    {
        Source::Security
    } else if provider.eq_ignore_ascii_case("Service Control Manager") {
        Source::ServiceControlManager
    } else {
        Source::Other
    }
}

pub(crate) fn map(r: &Record) -> Mapped {
    let id = r.system("event_id").unwrap_or("");
    let mapped = match (source(r), id) {
        (Source::Sysmon, "1") => Some(sysmon_process(r)),
        (Source::Sysmon, "3") => Some(sysmon_network(r)),
        (Source::Sysmon, "8" | "10") => Some(sysmon_injection(r, id)),
        (Source::Sysmon, "11" | "23" | "26") => Some(sysmon_file(r, id)),
        (Source::Sysmon, "12" | "13" | "14") => Some(sysmon_registry(r, id)),
        (Source::Security, "4688") => Some(security_process(r)),
        (Source::Security, "4624" | "4625") => Some(logon(r, id)),
        (Source::Security, "4634" | "4647") => Some(logoff(r, id)),
        (Source::Security, "4697") | (Source::ServiceControlManager, "7045") => {
            Some(service_install(r, id))
        }
        (Source::Eventlog, "1102" | "104") => Some(log_cleared(r, id)),
        _ => None,
    };
    mapped.unwrap_or_else(|| {
        let provider = r.system("provider").unwrap_or("unknown provider");
        let id = if id.is_empty() { "?" } else { id };
        Mapped::new(Action::HostInfo, format!("{provider} {id}"))
    })
}

fn sysmon_process(r: &Record) -> Mapped {
    let what = r.get("CommandLine").or(r.get("Image")).unwrap_or("?");
    Mapped::new(Action::ProcessRun, format!("Sysmon 1 process {what}"))
        .from(r, "cmd", "CommandLine")
        .path(r, "Image")
        .from(r, "pid", "ProcessId")
        .from(r, "parent_path", "ParentImage")
        .from(r, "parent_cmd", "ParentCommandLine")
        .from(r, "parent_pid", "ParentProcessId")
        .from(r, "username", "User")
        .from(r, "process_hash", "Hashes")
}

fn security_process(r: &Record) -> Mapped {
    let what = r
        .get("CommandLine")
        .or(r.get("NewProcessName"))
        .unwrap_or("?");
    let pid = r.get("NewProcessId").and_then(decimal);
    let parent_pid = r.get("ProcessId").and_then(decimal);
    Mapped::new(Action::ProcessRun, format!("4688 process {what}"))
        .from(r, "cmd", "CommandLine")
        .path(r, "NewProcessName")
        .attr("pid", pid)
        .from(r, "parent_path", "ParentProcessName")
        .attr("parent_pid", parent_pid)
        .from(r, "username", "SubjectUserName")
        .from(r, "domain", "SubjectDomainName")
}

fn logon(r: &Record, id: &str) -> Mapped {
    let (action, verb) = if id == "4624" {
        (Action::UserLogon, "logon")
    } else {
        (Action::UserLogonFailed, "failed logon")
    };
    let user = r.get("TargetUserName").unwrap_or("?");
    let mut message = format!("{id} {verb} {user}");
    let ip = r.get("IpAddress").filter(|ip| is_address(ip));
    if let Some(ip) = ip {
        message.push_str(&format!(" from {ip}"));
    }
    if let Some(kind) = r.get("LogonType") {
        message.push_str(&format!(" (type {kind})"));
    }
    let port = r.get("IpPort").filter(|p| *p != "0");
    Mapped::new(action, message)
        .from(r, "username", "TargetUserName")
        .from(r, "domain", "TargetDomainName")
        .attr("remote_ip", ip.map(str::to_string))
        .attr("remote_port", port.map(str::to_string))
        .from(r, "remote_host", "WorkstationName")
        .from(r, "logon_type", "LogonType")
}

fn logoff(r: &Record, id: &str) -> Mapped {
    let user = r.get("TargetUserName").unwrap_or("?");
    Mapped::new(Action::UserLogoff, format!("{id} logoff {user}"))
        .from(r, "username", "TargetUserName")
        .from(r, "domain", "TargetDomainName")
        .from(r, "logon_type", "LogonType")
}

fn sysmon_network(r: &Record) -> Mapped {
    // Sysmon names the initiator Source: for an inbound connection the peer is the source.
    let outgoing = !r
        .get("Initiated")
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let (action, remote, local) = if outgoing {
        (Action::NetworkOutgoing, "Destination", "Source")
    } else {
        (Action::NetworkIncoming, "Source", "Destination")
    };
    let field = |side: &str, what: &str| format!("{side}{what}");
    let image = r.get("Image").unwrap_or("?");
    let peer = format!(
        "{}:{}",
        r.get(&field(remote, "Ip")).unwrap_or("?"),
        r.get(&field(remote, "Port")).unwrap_or("?")
    );
    let message = if outgoing {
        format!("Sysmon 3 connection {image} -> {peer}")
    } else {
        format!("Sysmon 3 connection {image} <- {peer}")
    };
    Mapped::new(action, message)
        .from(r, "remote_ip", &field(remote, "Ip"))
        .from(r, "remote_port", &field(remote, "Port"))
        .from(r, "remote_host", &field(remote, "Hostname"))
        .from(r, "local_ip", &field(local, "Ip"))
        .from(r, "local_port", &field(local, "Port"))
        .from(r, "protocol", "Protocol")
        .path(r, "Image")
        .from(r, "pid", "ProcessId")
        .from(r, "username", "User")
}

fn sysmon_file(r: &Record, id: &str) -> Mapped {
    let (action, verb) = match id {
        "11" => (Action::FileCreate, "file created"),
        _ => (Action::FileDelete, "file deleted"),
    };
    let target = r.get("TargetFilename").unwrap_or("?");
    Mapped::new(action, format!("Sysmon {id} {verb} {target}"))
        .path(r, "TargetFilename")
        .from(r, "process_path", "Image")
        .from(r, "pid", "ProcessId")
        .from(r, "username", "User")
        .from(r, "process_hash", "Hashes")
}

fn sysmon_registry(r: &Record, id: &str) -> Mapped {
    let kind = r.get("EventType").unwrap_or("");
    let action = match id {
        "14" => Action::RegistryRename,
        _ if kind.to_ascii_lowercase().starts_with("delete") => Action::RegistryDelete,
        _ => Action::RegistryWrite,
    };
    let key = r.get("TargetObject").unwrap_or("?");
    let kind = if kind.is_empty() { "registry" } else { kind };
    Mapped::new(action, format!("Sysmon {id} {kind} {key}"))
        .from(r, "key_name", "TargetObject")
        .from(r, "key_value", "Details")
        .from(r, "key_new_name", "NewName")
        .from(r, "process_path", "Image")
        .from(r, "pid", "ProcessId")
        .from(r, "username", "User")
}

fn sysmon_injection(r: &Record, id: &str) -> Mapped {
    let source = r.get("SourceImage").unwrap_or("?");
    let target = r.get("TargetImage").unwrap_or("?");
    let what = if id == "8" {
        "remote thread"
    } else {
        "process access"
    };
    Mapped::new(
        Action::ProcessInjection,
        format!("Sysmon {id} {what} {source} -> {target}"),
    )
    .path(r, "TargetImage")
    .from(r, "pid", "TargetProcessId")
    .from(r, "injector_path", "SourceImage")
    .from(r, "injector_pid", "SourceProcessId")
    .from(r, "granted_access", "GrantedAccess")
    .from(r, "username", "SourceUser")
}

fn service_install(r: &Record, id: &str) -> Mapped {
    let image_field = if id == "4697" {
        "ServiceFileName"
    } else {
        "ImagePath"
    };
    let name = r.get("ServiceName").unwrap_or("?");
    let image = r.get(image_field).unwrap_or("?");
    let key = r
        .get("ServiceName")
        .map(|n| format!("HKLM\\SYSTEM\\CurrentControlSet\\Services\\{n}"));
    let account = if id == "4697" {
        "ServiceAccount"
    } else {
        "AccountName"
    };
    Mapped::new(
        Action::RegistryWrite,
        format!("{id} service installed {name}: {image}"),
    )
    .from(r, "service_name", "ServiceName")
    .attr("key_name", key)
    .from(r, "key_value", image_field)
    .from(r, "cmd", image_field)
    .from(r, "service_account", account)
    .from(r, "username", "SubjectUserName")
}

fn log_cleared(r: &Record, id: &str) -> Mapped {
    let log = r.get("Channel").or(r.system("channel")).unwrap_or("event");
    let mut message = format!("{id} {log} log cleared");
    if let Some(user) = r.get("SubjectUserName") {
        match r.get("SubjectDomainName") {
            Some(domain) => message.push_str(&format!(" by {domain}\\{user}")),
            None => message.push_str(&format!(" by {user}")),
        }
    }
    Mapped::new(Action::HostInfo, message)
        .from(r, "username", "SubjectUserName")
        .from(r, "domain", "SubjectDomainName")
}

/// `0x1a4` (4688's process ids) → `420`; decimal stays as it is.
fn decimal(pid: &str) -> Option<String> {
    match pid.strip_prefix("0x").or_else(|| pid.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|n| n.to_string()),
        None => Some(pid.to_string()),
    }
}

/// 4624's `IpAddress` is `-` or `::1`, `127.0.0.1`, or a peer; keep real addresses.
fn is_address(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>().is_ok()
}

/// The last component of a Windows or POSIX path.
fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}
