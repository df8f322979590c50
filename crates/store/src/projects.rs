//! Projects: cases grouping investigations (a scheduled hunt, an incident), as created by
//! `POST /api/v1/projects` and filled by imports.

use crate::{Result, Store, corrupt, from_ms, ms};
use chrono::{DateTime, Utc};
use riposte_model::ProjectId;
use serde::Serialize;
use sqlx::Row;

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    /// Id.
    pub id: ProjectId,
    /// Name (not necessarily unique: a weekly hunt may reuse it).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn decode(row: &sqlx::any::AnyRow) -> Result<Project> {
    let id: String = row.try_get("id")?;
    Ok(Project {
        id: id.parse().map_err(|e| corrupt("projects.id", e))?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

impl Store {
    /// Creates a project.
    pub async fn create_project(
        &self,
        name: &str,
        description: &str,
        actor: &str,
    ) -> Result<Project> {
        let mut conn = self.pool().acquire().await?;
        Self::insert_project(&mut conn, name, description, actor).await
    }

    /// Creates a project inside the caller's transaction (a hunt run's, with its
    /// investigations).
    pub async fn insert_project(
        conn: &mut crate::Conn,
        name: &str,
        description: &str,
        actor: &str,
    ) -> Result<Project> {
        let project = Project {
            id: ProjectId::new(),
            name: name.to_string(),
            description: description.to_string(),
            created_by: actor.to_string(),
            created_at: from_ms(ms(Utc::now())),
        };
        sqlx::query(
            "INSERT INTO projects (id, name, description, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(project.id.to_string())
        .bind(&project.name)
        .bind(&project.description)
        .bind(&project.created_by)
        .bind(ms(project.created_at))
        .execute(&mut *conn)
        .await?;
        Ok(project)
    }

    /// One project.
    pub async fn get_project(&self, id: ProjectId) -> Result<Option<Project>> {
        let row = sqlx::query(
            "SELECT id, name, description, created_by, created_at FROM projects WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The newest projects first.
    pub async fn list_projects(&self, limit: i64, offset: i64) -> Result<Vec<Project>> {
        let rows = sqlx::query(
            "SELECT id, name, description, created_by, created_at FROM projects ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }
}
