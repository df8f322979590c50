//! Evidence items recorded on investigations.

use crate::{Conn, Result, Store, corrupt, from_ms, ms};
use riposte_model::{EvidenceItem, InvestigationId, Provenance};
use sqlx::Row;

impl Store {
    /// Records a collected item; a second record of the same original path in the same
    /// investigation is ignored (collection is retried idempotently). Returns true when new.
    pub async fn insert_evidence(conn: &mut Conn, item: &EvidenceItem) -> Result<bool> {
        let provenance =
            serde_json::to_string(&item.provenance).map_err(|e| corrupt("provenance", e))?;
        let done = sqlx::query(
            "INSERT INTO evidence (id, investigation_id, sha256, size, storage_key, original_path, provenance, collected_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (investigation_id, original_path) DO NOTHING",
        )
        .bind(item.id.to_string())
        .bind(item.investigation_id.to_string())
        .bind(&item.sha256)
        .bind(i64::try_from(item.size).unwrap_or(i64::MAX))
        .bind(&item.storage_key)
        .bind(&item.provenance.original_path)
        .bind(provenance)
        .bind(ms(item.collected_at))
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The evidence of an investigation, by original path.
    pub async fn list_evidence(&self, investigation: InvestigationId) -> Result<Vec<EvidenceItem>> {
        let rows = sqlx::query(
            "SELECT id, sha256, size, storage_key, provenance, collected_at FROM evidence
             WHERE investigation_id = $1 ORDER BY original_path",
        )
        .bind(investigation.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let provenance: String = r.try_get("provenance")?;
                let size: i64 = r.try_get("size")?;
                Ok(EvidenceItem {
                    id: id.parse().map_err(|e| corrupt("evidence.id", e))?,
                    investigation_id: investigation,
                    sha256: r.try_get("sha256")?,
                    size: u64::try_from(size).unwrap_or_default(),
                    provenance: serde_json::from_str::<Provenance>(&provenance)
                        .map_err(|e| corrupt("evidence.provenance", e))?,
                    storage_key: r.try_get("storage_key")?,
                    collected_at: from_ms(r.try_get("collected_at")?),
                })
            })
            .collect()
    }
}
