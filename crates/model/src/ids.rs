//! Typed identifiers, so an alert id can never be passed where an investigation id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random identifier.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies an accepted alert.
    AlertId
);
id_type!(
    /// Identifies an investigation (a case, or "project").
    InvestigationId
);
id_type!(
    /// Identifies one collected evidence item.
    EvidenceId
);
id_type!(
    /// Identifies a persisted job.
    JobId
);
id_type!(
    /// Identifies an environment (a named group of scopes).
    EnvironmentId
);
id_type!(
    /// Identifies a detection rule (stable across its versions).
    RuleId
);
id_type!(
    /// Identifies a project: a case grouping investigations, e.g. one scheduled hunt.
    ProjectId
);
id_type!(
    /// Identifies a scheduled hunt.
    HuntId
);
id_type!(
    /// Identifies one run of a scheduled hunt.
    HuntRunId
);
id_type!(
    /// Identifies one recorded response action (done, rehearsed, failed or released).
    ActionId
);
