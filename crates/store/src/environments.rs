//! Environments: named groups of scopes, stored as JSON beside their unique name.

use crate::{Result, Store, conflict_on_unique, corrupt, from_ms, ms};
use riposte_model::{Environment, EnvironmentId, EnvironmentSpec};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// The stored body: everything but id, name and times.
#[derive(Serialize, Deserialize)]
struct Body {
    #[serde(default)]
    description: String,
    scopes: Vec<riposte_model::Scope>,
}

fn decode(row: &sqlx::any::AnyRow) -> Result<Environment> {
    let id: String = row.try_get("id")?;
    let body: String = row.try_get("body")?;
    let body: Body = serde_json::from_str(&body).map_err(|e| corrupt("environments.body", e))?;
    Ok(Environment {
        id: id.parse().map_err(|e| corrupt("environments.id", e))?,
        name: row.try_get("name")?,
        description: body.description,
        scopes: body.scopes,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

fn body(spec: &EnvironmentSpec) -> Result<String> {
    serde_json::to_string(&Body {
        description: spec.description.clone(),
        scopes: spec.scopes.clone(),
    })
    .map_err(|e| corrupt("environment", e))
}

fn name_taken(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("an environment named {name:?} already exists")
}

impl Store {
    /// Stores a new environment; [`crate::StoreError::Conflict`] if the name is taken.
    pub async fn create_environment(&self, spec: &EnvironmentSpec) -> Result<Environment> {
        let now = from_ms(ms(chrono::Utc::now()));
        let env = Environment {
            id: EnvironmentId::new(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            scopes: spec.scopes.clone(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO environments (id, name, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(env.id.to_string())
        .bind(&env.name)
        .bind(body(spec)?)
        .bind(ms(now))
        .bind(ms(now))
        .execute(self.pool())
        .await
        .map_err(|e| conflict_on_unique(e, name_taken(&spec.name)))?;
        Ok(env)
    }

    /// Replaces an environment's definition; `None` when it does not exist.
    pub async fn update_environment(
        &self,
        id: EnvironmentId,
        spec: &EnvironmentSpec,
    ) -> Result<Option<Environment>> {
        let now = ms(chrono::Utc::now());
        let done = sqlx::query(
            "UPDATE environments SET name = $1, body = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(&spec.name)
        .bind(body(spec)?)
        .bind(now)
        .bind(id.to_string())
        .execute(self.pool())
        .await
        .map_err(|e| conflict_on_unique(e, name_taken(&spec.name)))?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_environment(id).await
    }

    /// One environment.
    pub async fn get_environment(&self, id: EnvironmentId) -> Result<Option<Environment>> {
        let row = sqlx::query(
            "SELECT id, name, body, created_at, updated_at FROM environments WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Every environment, by name.
    pub async fn list_environments(&self) -> Result<Vec<Environment>> {
        let rows = sqlx::query(
            "SELECT id, name, body, created_at, updated_at FROM environments ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Deletes an environment; `false` when it did not exist. Callers check first that
    /// no rule uses it.
    pub async fn delete_environment(&self, id: EnvironmentId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM environments WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
