//! First-start defaults. A server started with `--evidence-library DIR` on an empty store
//! gets an environment covering that library and one enabled rule investigating every
//! alert whose target is found there, so the evidence library works out of the box. Both
//! are ordinary resources afterwards: edit, disable or delete them like any other; they
//! are never recreated once the store has any environment or rule.

use riposte_model::{EnvironmentSpec, LocalScope, RuleSpec, Scope};
use riposte_store::{Store, StoreError};
use std::path::Path;

/// The default environment's name.
pub const LIBRARY_ENVIRONMENT: &str = "evidence-library";
/// The default rule's name.
pub const LIBRARY_RULE: &str = "Investigate alerts on evidence-library hosts";

/// Creates the default environment and rule for `library` when the store has neither
/// environments nor rules. Returns true when it created them.
pub async fn evidence_library_defaults(store: &Store, library: &Path) -> Result<bool, StoreError> {
    if !store.list_environments().await?.is_empty() || !store.list_rules().await?.is_empty() {
        return Ok(false);
    }
    let folder = library
        .canonicalize()
        .map_err(StoreError::Io)?
        .display()
        .to_string();
    let env = match store
        .create_environment(&EnvironmentSpec {
            name: LIBRARY_ENVIRONMENT.into(),
            description: "Created on first start from --evidence-library.".into(),
            scopes: vec![Scope::Local(LocalScope { folder })],
        })
        .await
    {
        Ok(env) => env,
        // Another process of the deployment got there first.
        Err(StoreError::Conflict(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let spec: RuleSpec = serde_json::from_value(serde_json::json!({
        "name": LIBRARY_RULE,
        "description": "Created on first start from --evidence-library: every alert whose target is a host of the library starts a triage investigation.",
        "source": "any",
        "environment_id": env.id,
        "investigation_type": "triage",
    }))
    .map_err(|e| StoreError::Corrupt {
        what: "default rule",
        detail: e.to_string(),
    })?;
    match store
        .create_rule(&spec, true, "riposte (first start)")
        .await
    {
        Ok(_) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    tracing::info!(library = %library.display(), "created the default evidence-library environment and rule");
    Ok(true)
}
