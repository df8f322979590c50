//! Which events a rule's `logsource` applies to, and under which field names.
//!
//! Every event is classified once into an [`EventClass`]: a product, the Sigma services
//! its log belongs to and the Sigma categories its event id stands for. A rule applies
//! to an event when its `product`, `service` and `category` (each optional) all agree
//! with the class. The tables below are those of pySigma's Windows and Sysmon pipelines;
//! the full mapping is in the README's "Sigma rules" section.

use riposte_model::{Action, Event};
use rsigma_parser::LogSource;

/// A product Riposte has parsers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Product {
    /// Windows event logs (the `evtx` parser).
    Windows,
    /// Linux logs: auth.log, syslog, journald, auditd.
    Linux,
    /// AWS CloudTrail.
    Aws,
}

impl Product {
    fn parse(name: &str) -> Option<Product> {
        match name {
            "windows" => Some(Product::Windows),
            "linux" => Some(Product::Linux),
            "aws" => Some(Product::Aws),
            _ => None,
        }
    }
}

/// How a rule's field names are read from an event of a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldMap {
    /// Windows: EventData/UserData fields by their own names, `EventID`, `Channel`,
    /// `Provider_Name`, `Computer` from the System fields.
    Windows,
    /// Windows Security 4688 read by a `process_creation` rule: Sysmon's names
    /// (`Image`, `ParentImage`, `ProcessId`, …) mapped to 4688's (`NewProcessName`, …).
    SecurityProcessCreation,
    /// Linux log lines: the event's attributes; keywords search the raw line.
    LinuxLine,
    /// Linux auditd: the fields of the event's audit records (`type`, `a0`, `exe`, …).
    Auditd,
    /// Linux `process_creation` from an auditd `EXECVE`: `Image` (exe), `CommandLine`, …
    LinuxProcessCreation,
    /// CloudTrail: the record's JSON (`eventName`, `userIdentity.arn`, …).
    CloudTrail,
}

/// Windows services: Sigma service name → the channels it covers (pySigma's table).
pub const WINDOWS_SERVICES: &[(&str, &[&str])] = &[
    ("security", &["Security"]),
    ("system", &["System"]),
    ("application", &["Application"]),
    ("sysmon", &["Microsoft-Windows-Sysmon/Operational"]),
    ("powershell", &["Microsoft-Windows-PowerShell/Operational"]),
    ("powershell-classic", &["Windows PowerShell"]),
    (
        "taskscheduler",
        &["Microsoft-Windows-TaskScheduler/Operational"],
    ),
    ("wmi", &["Microsoft-Windows-WMI-Activity/Operational"]),
    (
        "windefend",
        &["Microsoft-Windows-Windows Defender/Operational"],
    ),
    ("dns-server", &["DNS Server"]),
    (
        "dns-server-analytic",
        &["Microsoft-Windows-DNS-Server/Analytical"],
    ),
    ("ntfs", &["Microsoft-Windows-Ntfs/Operational"]),
    ("vhdmp", &["Microsoft-Windows-VHDMP-Operational"]),
    (
        "dns-client",
        &["Microsoft-Windows-DNS Client Events/Operational"],
    ),
    (
        "driver-framework",
        &["Microsoft-Windows-DriverFrameworks-UserMode/Operational"],
    ),
    ("ntlm", &["Microsoft-Windows-NTLM/Operational"]),
    (
        "printservice-admin",
        &["Microsoft-Windows-PrintService/Admin"],
    ),
    (
        "printservice-operational",
        &["Microsoft-Windows-PrintService/Operational"],
    ),
    (
        "smbclient-security",
        &["Microsoft-Windows-SmbClient/Security"],
    ),
    (
        "smbclient-connectivity",
        &["Microsoft-Windows-SmbClient/Connectivity"],
    ),
    (
        "smbserver-connectivity",
        &["Microsoft-Windows-SMBServer/Connectivity"],
    ),
    (
        "applocker",
        &[
            "Microsoft-Windows-AppLocker/MSI and Script",
            "Microsoft-Windows-AppLocker/EXE and DLL",
            "Microsoft-Windows-AppLocker/Packaged app-Deployment",
            "Microsoft-Windows-AppLocker/Packaged app-Execution",
        ],
    ),
    ("msexchange-management", &["MSExchange Management"]),
    (
        "microsoft-servicebus-client",
        &["Microsoft-ServiceBus-Client"],
    ),
    ("ldap_debug", &["Microsoft-Windows-LDAP-Client/Debug"]),
    (
        "codeintegrity-operational",
        &["Microsoft-Windows-CodeIntegrity/Operational"],
    ),
    (
        "firewall-as",
        &["Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"],
    ),
    (
        "bits-client",
        &["Microsoft-Windows-Bits-Client/Operational"],
    ),
    (
        "security-mitigations",
        &[
            "Microsoft-Windows-Security-Mitigations/Kernel Mode",
            "Microsoft-Windows-Security-Mitigations/User Mode",
        ],
    ),
    (
        "terminalservices-localsessionmanager",
        &["Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"],
    ),
    ("openssh", &["OpenSSH/Operational"]),
    (
        "diagnosis-scripted",
        &["Microsoft-Windows-Diagnosis-Scripted/Operational"],
    ),
    ("shell-core", &["Microsoft-Windows-Shell-Core/Operational"]),
    (
        "appxpackaging-om",
        &["Microsoft-Windows-AppxPackaging/Operational"],
    ),
    (
        "appxdeployment-server",
        &["Microsoft-Windows-AppXDeploymentServer/Operational"],
    ),
    ("capi2", &["Microsoft-Windows-CAPI2/Operational"]),
    (
        "certificateservicesclient-lifecycle-system",
        &["Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational"],
    ),
    (
        "appmodel-runtime",
        &["Microsoft-Windows-AppModel-Runtime/Admin"],
    ),
    ("lsa-server", &["Microsoft-Windows-LSA/Operational"]),
    (
        "iis-configuration",
        &["Microsoft-IIS-Configuration/Operational"],
    ),
];

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
const POWERSHELL: &str = "Microsoft-Windows-PowerShell/Operational";
const POWERSHELL_CLASSIC: &str = "Windows PowerShell";

/// Windows categories: Sigma category → (channel, event ids) (pySigma's Sysmon pipeline,
/// plus Security 4688 for `process_creation`).
pub const WINDOWS_CATEGORIES: &[(&str, &str, &[u32])] = &[
    ("process_creation", SYSMON, &[1]),
    ("process_creation", "Security", &[4688]),
    ("file_change", SYSMON, &[2]),
    ("network_connection", SYSMON, &[3]),
    ("sysmon_status", SYSMON, &[4, 16]),
    ("process_termination", SYSMON, &[5]),
    ("driver_load", SYSMON, &[6]),
    ("image_load", SYSMON, &[7]),
    ("create_remote_thread", SYSMON, &[8]),
    ("raw_access_thread", SYSMON, &[9]),
    ("process_access", SYSMON, &[10]),
    ("file_event", SYSMON, &[11]),
    ("registry_add", SYSMON, &[12]),
    ("registry_delete", SYSMON, &[12]),
    ("registry_set", SYSMON, &[13]),
    ("registry_rename", SYSMON, &[14]),
    ("registry_event", SYSMON, &[12, 13, 14]),
    ("create_stream_hash", SYSMON, &[15]),
    ("pipe_created", SYSMON, &[17, 18]),
    ("wmi_event", SYSMON, &[19, 20, 21]),
    ("dns_query", SYSMON, &[22]),
    ("file_delete", SYSMON, &[23, 26]),
    ("clipboard_capture", SYSMON, &[24]),
    ("process_tampering", SYSMON, &[25]),
    ("file_block_executable", SYSMON, &[27]),
    ("file_block_shredding", SYSMON, &[28]),
    ("file_executable_detected", SYSMON, &[29]),
    ("sysmon_error", SYSMON, &[255]),
    ("ps_module", POWERSHELL, &[4103]),
    ("ps_script", POWERSHELL, &[4104]),
    ("ps_classic_start", POWERSHELL_CLASSIC, &[400]),
    ("ps_classic_provider_start", POWERSHELL_CLASSIC, &[600]),
    ("ps_classic_script", POWERSHELL_CLASSIC, &[800]),
];

/// Linux services Riposte's parsers produce.
pub const LINUX_SERVICES: &[&str] = &["auth", "sshd", "sudo", "cron", "syslog", "auditd"];

/// Linux categories: only `process_creation`, from auditd `EXECVE` groups and a live
/// process list.
pub const LINUX_CATEGORIES: &[&str] = &["process_creation"];

/// What one event is, for rule selection: computed once per event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventClass {
    /// The product its log belongs to.
    pub product: Product,
    /// The Sigma services of its log (sorted).
    pub services: Vec<&'static str>,
    /// The Sigma categories its event stands for (sorted).
    pub categories: Vec<&'static str>,
}

impl EventClass {
    /// Classifies an event by the parser that produced it and its own fields; `None` for
    /// events no Sigma rule is written for (shell history, file listings, …).
    pub fn of(event: &Event) -> Option<EventClass> {
        let (product, mut services, mut categories) = match event.origin.parser.as_str() {
            "evtx" => {
                let (services, categories) = windows(event);
                (Product::Windows, services, categories)
            }
            "cloudtrail" => (Product::Aws, vec!["cloudtrail"], Vec::new()),
            "auditd" => {
                let categories = if event
                    .attr("audit_types")
                    .is_some_and(|t| t.split(',').any(|t| t == "EXECVE"))
                {
                    vec!["process_creation"]
                } else {
                    Vec::new()
                };
                (Product::Linux, vec!["auditd"], categories)
            }
            // The live process list of a host read over SSH: what is running now.
            "live_processes" if event.action == Action::ProcessRun => {
                (Product::Linux, Vec::new(), vec!["process_creation"])
            }
            "auth_log" => (Product::Linux, linux_services(event, "auth"), Vec::new()),
            "syslog_messages" | "journald" => {
                (Product::Linux, linux_services(event, "syslog"), Vec::new())
            }
            _ => return None,
        };
        services.sort_unstable();
        services.dedup();
        categories.sort_unstable();
        categories.dedup();
        Some(EventClass {
            product,
            services,
            categories,
        })
    }
}

fn windows(event: &Event) -> (Vec<&'static str>, Vec<&'static str>) {
    let channel = event.attr("channel").unwrap_or("");
    let event_id: Option<u32> = event.attr("event_id").and_then(|id| id.trim().parse().ok());
    let services = WINDOWS_SERVICES
        .iter()
        .filter(|(_, channels)| channels.iter().any(|c| c.eq_ignore_ascii_case(channel)))
        .map(|(service, _)| *service)
        .collect();
    let categories = WINDOWS_CATEGORIES
        .iter()
        .filter(|(_, c, ids)| {
            c.eq_ignore_ascii_case(channel) && event_id.is_some_and(|id| ids.contains(&id))
        })
        .map(|(category, _, _)| *category)
        .collect();
    (services, categories)
}

fn linux_services(event: &Event, base: &'static str) -> Vec<&'static str> {
    let mut services = vec![base];
    match event.attr("process").unwrap_or("") {
        "sshd" => services.push("sshd"),
        "sudo" => services.push("sudo"),
        "cron" | "CRON" | "crond" => services.push("cron"),
        _ => {}
    }
    services
}

/// A rule's logsource, lowercased, with the product recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleScope {
    /// The rule's product, when it names one.
    pub product: Option<Product>,
    /// The rule's service.
    pub service: Option<String>,
    /// The rule's category.
    pub category: Option<String>,
}

impl RuleScope {
    /// The scope of a rule's logsource, or why no event Riposte parses can match it.
    pub fn of(logsource: &LogSource) -> Result<RuleScope, String> {
        let lower = |v: &Option<String>| v.as_ref().map(|v| v.trim().to_ascii_lowercase());
        let product_name = lower(&logsource.product);
        let product = match &product_name {
            Some(name) => Some(
                Product::parse(name)
                    .ok_or_else(|| format!("no parser produces events of product {name:?}"))?,
            ),
            None => None,
        };
        let scope = RuleScope {
            product,
            service: lower(&logsource.service),
            category: lower(&logsource.category),
        };
        if scope.product.is_none() && scope.service.is_none() && scope.category.is_none() {
            return Err("the logsource names no product, service or category".into());
        }
        let products = match scope.product {
            Some(p) => vec![p],
            None => vec![Product::Windows, Product::Linux, Product::Aws],
        };
        if !products.iter().any(|p| scope.supported_by(*p)) {
            return Err(format!(
                "no parser produces events of logsource {}",
                describe(logsource)
            ));
        }
        Ok(scope)
    }

    /// Whether some event of `product` can have this scope's service and category.
    fn supported_by(&self, product: Product) -> bool {
        let (services, categories): (Vec<&str>, Vec<&str>) = match product {
            Product::Windows => (
                WINDOWS_SERVICES.iter().map(|(s, _)| *s).collect(),
                WINDOWS_CATEGORIES.iter().map(|(c, _, _)| *c).collect(),
            ),
            Product::Linux => (LINUX_SERVICES.to_vec(), LINUX_CATEGORIES.to_vec()),
            Product::Aws => (vec!["cloudtrail"], Vec::new()),
        };
        self.service
            .as_deref()
            .is_none_or(|s| services.contains(&s))
            && self
                .category
                .as_deref()
                .is_none_or(|c| categories.contains(&c))
    }

    /// Whether the rule applies to events of `class`.
    pub fn applies_to(&self, class: &EventClass) -> bool {
        self.product.is_none_or(|p| p == class.product)
            && self
                .service
                .as_deref()
                .is_none_or(|s| class.services.contains(&s))
            && self
                .category
                .as_deref()
                .is_none_or(|c| class.categories.contains(&c))
    }

    /// The field names the rule reads events of `class` with.
    pub fn field_map(&self, class: &EventClass) -> FieldMap {
        let process_creation = self.category.as_deref() == Some("process_creation");
        match class.product {
            Product::Windows if process_creation && class.services.contains(&"security") => {
                FieldMap::SecurityProcessCreation
            }
            Product::Windows => FieldMap::Windows,
            Product::Linux if process_creation => FieldMap::LinuxProcessCreation,
            Product::Linux if class.services.contains(&"auditd") => FieldMap::Auditd,
            Product::Linux => FieldMap::LinuxLine,
            Product::Aws => FieldMap::CloudTrail,
        }
    }
}

fn describe(logsource: &LogSource) -> String {
    let parts: Vec<String> = [
        ("product", &logsource.product),
        ("service", &logsource.service),
        ("category", &logsource.category),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
    .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use riposte_model::{Action, EventOrigin};

    fn evtx(channel: &str, event_id: &str) -> Event {
        let origin = EventOrigin {
            parser: "evtx".into(),
            path: "C:\\log.evtx".into(),
            record: Some(1),
        };
        Event::new(None, "h", Action::HostInfo, "m", origin)
            .with("channel", channel)
            .with("event_id", event_id)
    }

    fn scope(product: Option<&str>, service: Option<&str>, category: Option<&str>) -> LogSource {
        LogSource {
            product: product.map(str::to_string),
            service: service.map(str::to_string),
            category: category.map(str::to_string),
            ..LogSource::default()
        }
    }

    #[test]
    fn sysmon_and_security_process_creation_share_the_category() {
        let sysmon = EventClass::of(&evtx("Microsoft-Windows-Sysmon/Operational", "1")).unwrap();
        assert_eq!(sysmon.services, ["sysmon"]);
        assert_eq!(sysmon.categories, ["process_creation"]);
        let security = EventClass::of(&evtx("Security", "4688")).unwrap();
        assert_eq!(security.services, ["security"]);
        assert_eq!(security.categories, ["process_creation"]);
        // Sysmon 4688 is not a thing: the id only means process creation in Security.
        let other = EventClass::of(&evtx("Microsoft-Windows-Sysmon/Operational", "4688")).unwrap();
        assert!(other.categories.is_empty());

        let rule = RuleScope::of(&scope(Some("windows"), None, Some("process_creation"))).unwrap();
        assert!(rule.applies_to(&sysmon) && rule.applies_to(&security));
        assert_eq!(rule.field_map(&security), FieldMap::SecurityProcessCreation);
        assert_eq!(rule.field_map(&sysmon), FieldMap::Windows);
        let security_rule = RuleScope::of(&scope(Some("windows"), Some("security"), None)).unwrap();
        assert_eq!(security_rule.field_map(&security), FieldMap::Windows);
        assert!(!security_rule.applies_to(&sysmon));
    }

    #[test]
    fn registry_events_belong_to_the_generic_and_the_specific_category() {
        let set = EventClass::of(&evtx("Microsoft-Windows-Sysmon/Operational", "13")).unwrap();
        assert_eq!(set.categories, ["registry_event", "registry_set"]);
        let add = EventClass::of(&evtx("Microsoft-Windows-Sysmon/Operational", "12")).unwrap();
        assert_eq!(
            add.categories,
            ["registry_add", "registry_delete", "registry_event"]
        );
        let ps = EventClass::of(&evtx("Microsoft-Windows-PowerShell/Operational", "4104")).unwrap();
        assert_eq!(
            (ps.services.as_slice(), ps.categories.as_slice()),
            (&["powershell"][..], &["ps_script"][..])
        );
    }

    #[test]
    fn unsupported_logsources_are_refused_with_a_reason() {
        let azure = RuleScope::of(&scope(Some("azure"), Some("signinlogs"), None)).unwrap_err();
        assert!(azure.contains("azure"), "{azure}");
        let edr_only =
            RuleScope::of(&scope(Some("windows"), None, Some("file_rename"))).unwrap_err();
        assert!(edr_only.contains("file_rename"), "{edr_only}");
        assert!(RuleScope::of(&scope(None, None, None)).is_err());
        // A category without a product may be any product's.
        assert!(RuleScope::of(&scope(None, None, Some("process_creation"))).is_ok());
        assert!(RuleScope::of(&scope(Some("AWS"), Some("CloudTrail"), None)).is_ok());
    }

    #[test]
    fn linux_lines_get_their_program_as_service() {
        let origin = EventOrigin {
            parser: "auth_log".into(),
            path: "/var/log/auth.log".into(),
            record: Some(1),
        };
        let e = Event::new(None, "h", Action::UserLogon, "m", origin).with("process", "sshd");
        let class = EventClass::of(&e).unwrap();
        assert_eq!(class.services, ["auth", "sshd"]);
        let sshd = RuleScope::of(&scope(Some("linux"), Some("sshd"), None)).unwrap();
        let cron = RuleScope::of(&scope(Some("linux"), Some("cron"), None)).unwrap();
        assert!(sshd.applies_to(&class) && !cron.applies_to(&class));
    }
}
