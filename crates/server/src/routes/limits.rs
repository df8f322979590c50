//! The limits of every request body, one table per kind of body (see [`super::body`] for
//! how they are enforced). The README's "Limits" section lists them; a test below keeps
//! the two in step.

use super::body::{Bound, Limits};
use Bound::{Bytes, Chars, Items};

/// Host names: DNS allows at most 253 bytes.
pub(crate) const HOSTNAME_BYTES: usize = 253;

/// Defaults for the bodies of resources (environments, rules, projects, webhooks…): short
/// strings, short lists, small maps.
const RESOURCE_STRING_BYTES: usize = 1024;
const RESOURCE_ITEMS: usize = 100;

/// Alert payloads are a vendor's JSON: their own size limit (1 MiB) bounds them; strings
/// and lists are bounded generously, names that drive work tightly.
const ALERT_STRING_BYTES: usize = 256 * 1024;
const ALERT_ITEMS: usize = 10_000;

/// Target fields, wherever a target is given.
macro_rules! target_fields {
    ($prefix:literal) => {
        [
            (concat!($prefix, "hostname"), Bytes(HOSTNAME_BYTES)),
            (concat!($prefix, "instance_id"), Bytes(128)),
            (concat!($prefix, "account_id"), Bytes(128)),
            (concat!($prefix, "region"), Bytes(64)),
            (concat!($prefix, "cloud_provider"), Bytes(64)),
            (concat!($prefix, "ips"), Items(64)),
            (concat!($prefix, "tags"), Items(50)),
            (concat!($prefix, "tags.*"), Chars(256)),
        ]
    };
}

const TARGET: [(&str, Bound); 8] = target_fields!("");
const ALERT_TARGET: [(&str, Bound); 8] = target_fields!("target.");

/// `POST/PUT /api/v1/environments`.
pub(crate) const ENVIRONMENT: Limits = Limits {
    name: "environments",
    fields: &[
        ("name", Chars(100)),
        ("description", Chars(2000)),
        ("scopes", Items(100)),
        ("scopes[].accounts", Items(1000)),
        ("scopes[].regions", Items(50)),
        ("scopes[].tags", Items(50)),
        ("scopes[].tags.*", Chars(256)),
        ("scopes[].cidrs", Items(1000)),
        ("scopes[].hostname_patterns", Items(100)),
        (
            "scopes[].hostname_patterns[]",
            Bytes(riposte_rules::MAX_PATTERN_BYTES),
        ),
        ("scopes[].folder", Bytes(4096)),
    ],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: None,
};

/// `POST /api/v1/environments/resolve`.
pub(crate) const RESOLVE: Limits = Limits {
    name: "environments/resolve",
    fields: &TARGET,
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: None,
};

/// `POST/PUT /api/v1/rules`.
pub(crate) const RULE: Limits = Limits {
    name: "rules",
    fields: &[
        ("name", Chars(100)),
        ("description", Chars(2000)),
        ("filters.finding_types", Items(100)),
        (
            "filters.finding_types[]",
            Bytes(riposte_rules::MAX_PATTERN_BYTES),
        ),
        ("filters.titles", Items(100)),
        ("filters.titles[]", Bytes(riposte_rules::MAX_PATTERN_BYTES)),
        ("filters.tags", Items(50)),
        ("filters.tags.*", Chars(256)),
        ("actions", Items(10)),
        ("notifications", Items(20)),
        ("notifications[].events", Items(10)),
    ],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: None,
};

/// `POST /api/v1/projects`.
pub(crate) const PROJECT: Limits = Limits {
    name: "projects",
    fields: &[("name", Chars(100)), ("description", Chars(10_000))],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: None,
};

/// `POST /api/v1/projects/{id}/imports`.
pub(crate) const IMPORT: Limits = Limits {
    name: "projects/{id}/imports",
    fields: &[
        ("systems", Items(100)),
        ("systems[].hostname", Bytes(HOSTNAME_BYTES)),
        ("systems[].instance_id", Bytes(128)),
        ("systems[].account_id", Bytes(128)),
        ("systems[].region", Bytes(64)),
        ("systems[].path", Bytes(4096)),
        ("systems[].snapshot_id", Bytes(64)),
        ("systems[].uri", Bytes(1100)),
    ],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: None,
};

/// `POST/PUT /api/v1/hunts`.
pub(crate) const HUNT: Limits = Limits {
    name: "hunts",
    fields: &[
        ("name", Chars(100)),
        ("description", Chars(2000)),
        ("schedule.cron", Bytes(256)),
        ("schedule.time_zone", Bytes(64)),
        ("systems", Items(500)),
        ("systems[].hostname", Bytes(HOSTNAME_BYTES)),
        ("systems[].instance_id", Bytes(128)),
        ("systems[].account_id", Bytes(128)),
        ("systems[].region", Bytes(64)),
        ("systems[].path", Bytes(4096)),
        ("systems[].snapshot_id", Bytes(64)),
        ("systems[].uri", Bytes(1100)),
        ("scopes", Items(20)),
        ("scopes[].tags", Items(50)),
        ("scopes[].tags.*", Chars(256)),
        ("scopes[].accounts", Items(1000)),
        ("scopes[].regions", Items(50)),
        ("detections.ioc_feeds", Items(20)),
        ("detections.ioc_feeds[]", Bytes(4096)),
        ("detections.yara_rules", Items(20)),
        ("detections.yara_rules[]", Bytes(4096)),
        ("webhooks", Items(20)),
    ],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: None,
};

/// `POST /api/v1/webhooks/preview`.
pub(crate) const WEBHOOK_PREVIEW: Limits = Limits {
    name: "webhooks/preview",
    fields: &[("template", Chars(64 * 1024)), ("settings", Items(20))],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: None,
};

/// `POST /api/v1/apikeys`.
pub(crate) const API_KEY: Limits = Limits {
    name: "apikeys",
    fields: &[("name", Chars(100))],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: Some(&["name", "role"]),
};

/// `POST/PUT /api/v1/webhooks`.
pub(crate) const WEBHOOK: Limits = Limits {
    name: "webhooks",
    fields: &[
        ("name", Chars(100)),
        ("url", Bytes(2048)),
        ("template", Chars(64 * 1024)),
        ("events", Items(10)),
        ("settings", Items(20)),
        ("secret", Bytes(1024)),
        ("auth", Items(5)),
    ],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: Some(&[
        "name",
        "url",
        "preset",
        "events",
        "template",
        "settings",
        "secret",
        "auth",
        "max_attempts",
        "base_delay_ms",
        "enabled",
    ]),
};

/// `POST/PUT /api/v1/siem-exports`.
pub(crate) const SIEM_EXPORT: Limits = Limits {
    name: "siem-exports",
    fields: &[
        ("name", Chars(100)),
        ("url", Bytes(2048)),
        ("events", Items(10)),
        ("settings", Items(20)),
        ("auth", Items(5)),
    ],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: Some(&[
        "name",
        "kind",
        "url",
        "events",
        "settings",
        "auth",
        "max_attempts",
        "base_delay_ms",
        "enabled",
    ]),
};

/// `POST /api/v1/connections`.
pub(crate) const CONNECTION: Limits = Limits {
    name: "connections",
    fields: &[
        ("name", Chars(100)),
        ("settings", Items(20)),
        ("settings.base_url", Bytes(2048)),
        ("settings.login_url", Bytes(2048)),
        ("settings.api_url", Bytes(2048)),
        ("settings.endpoint_url", Bytes(2048)),
        ("settings.regions", Items(50)),
        ("secret", Bytes(8192)),
    ],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: Some(&[
        "name",
        "vendor",
        "settings",
        "secret",
        "enabled",
        "poll_interval_seconds",
        "overlap_seconds",
        "lookback_seconds",
    ]),
};

/// `PUT /api/v1/credentials/{name}`.
pub(crate) const CREDENTIAL: Limits = Limits {
    name: "credentials",
    fields: &[
        ("private_key", Bytes(16384)),
        ("passphrase", Bytes(1024)),
        ("password", Bytes(1024)),
        ("username", Chars(64)),
    ],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: Some(&["kind", "private_key", "passphrase", "password", "username"]),
};

/// `POST /api/v1/integrations`.
pub(crate) const INTEGRATION: Limits = Limits {
    name: "integrations",
    fields: &[("name", Chars(100))],
    string_bytes: RESOURCE_STRING_BYTES,
    items: RESOURCE_ITEMS,
    keys: Some(&["name", "source"]),
};

/// `POST /api/v1/alerts` (the generic schema).
pub(crate) const GENERIC_ALERT: Limits = Limits {
    name: "alerts (generic)",
    fields: &{
        let mut fields = [("title", Chars(1000)); 10];
        fields[1] = ("description", Bytes(64 * 1024));
        let mut i = 0;
        while i < ALERT_TARGET.len() {
            fields[i + 2] = ALERT_TARGET[i];
            i += 1;
        }
        fields
    },
    string_bytes: ALERT_STRING_BYTES,
    items: ALERT_ITEMS,
    keys: None,
};

/// Vendor payloads (`/api/v1/sources/{source}/alerts`, `/hooks/{id}`, SECDO).
pub(crate) const VENDOR_ALERT: Limits = Limits {
    name: "alerts (vendor payloads, SECDO)",
    fields: &[],
    string_bytes: ALERT_STRING_BYTES,
    items: ALERT_ITEMS,
    keys: None,
};

/// Every table, for the README check.
#[cfg(test)]
const ALL: [&Limits; 15] = [
    &ENVIRONMENT,
    &WEBHOOK_PREVIEW,
    &API_KEY,
    &HUNT,
    &RESOLVE,
    &RULE,
    &PROJECT,
    &IMPORT,
    &WEBHOOK,
    &SIEM_EXPORT,
    &CONNECTION,
    &CREDENTIAL,
    &INTEGRATION,
    &GENERIC_ALERT,
    &VENDOR_ALERT,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(bound: Bound) -> String {
        match bound {
            Bytes(n) => format!("{n} bytes"),
            Chars(n) => format!("{n} characters"),
            Items(n) => format!("{n} items"),
        }
    }

    /// Every limit is documented: the README's Limits section names each table and each
    /// field with its bound, as `field` ≤ bound.
    #[test]
    fn the_readme_lists_every_limit() {
        let readme = include_str!("../../../../README.md");
        let start = readme
            .find("### Limits")
            .expect("the README has a Limits section");
        let section = &readme[start..];
        let section = &section[..section[4..].find("\n### ").map_or(section.len(), |e| e + 4)];
        for limits in ALL {
            assert!(
                section.contains(&format!("| {} |", limits.name)),
                "README Limits: no row for {}",
                limits.name
            );
            for (field, bound) in limits.fields {
                let entry = format!("`{field}` ≤ {}", shown(*bound));
                assert!(
                    section.contains(&entry),
                    "README Limits: {} lacks {entry}",
                    limits.name
                );
            }
        }
    }
}
