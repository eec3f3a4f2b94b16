//! Dead letters: adding one (in a finish) and listing them.

use super::*;

pub(super) fn insert_dlq(
    conn: &Connection,
    tenant: &str,
    message_id: &str,
    dlq: &NewDlq,
) -> Result<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO dlq (dlq_id, tenant, message_id, created_at, response_status, \
             response_headers, response_body, failure_callback) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .db()?
        .execute(rusqlite::params![
            dlq.dlq_id,
            tenant,
            message_id,
            int(dlq.created_at)?,
            dlq.response.status,
            encode_headers(&dlq.response.headers),
            dlq.response.body,
            dlq.failure_callback,
        ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == ErrorCode::ConstraintViolation => {
            Err(StoreError::Invalid(format!(
                "dead letter id {} exists already",
                dlq.dlq_id
            )))
        }
        Err(e) => Err(map_error(e)),
    }
}

pub(super) fn list_dlq(
    conn: &Connection,
    tenant: &str,
    filter: &DlqFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<DlqEntry>> {
    let count = count.max(1);
    let mut sql = format!(
        "SELECT {DLQ_COLS}, {MSG_COLS} FROM dlq d \
         JOIN messages m ON m.id = d.message_id AND m.tenant = d.tenant \
         WHERE d.tenant = :tenant"
    );
    let cursor = cursor.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
    let needle = filter.label.as_deref().map(label_needle);
    let limit = page_limit(count);
    let mut params: Vec<(&str, &dyn ToSql)> = vec![(":tenant", &tenant), (":limit", &limit)];
    if let Some(cursor) = &cursor {
        sql.push_str(" AND d.seq < :cursor");
        params.push((":cursor", cursor));
    }
    if let Some(url) = &filter.url {
        sql.push_str(" AND m.destination = :url");
        params.push((":url", url));
    }
    if let Some(needle) = &needle {
        sql.push_str(" AND instr(m.labels, :label) > 0");
        params.push((":label", needle));
    }
    if let Some(status) = &filter.response_status {
        sql.push_str(" AND d.response_status = :status");
        params.push((":status", status));
    }
    match filter.workflow {
        Some(true) => sql.push_str(" AND m.run_id IS NOT NULL"),
        Some(false) => sql.push_str(" AND m.run_id IS NULL"),
        None => {}
    }
    sql.push_str(" ORDER BY d.seq DESC LIMIT :limit");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params.as_slice()).db()?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().db()? {
        items.push(decode_dlq(row)?);
    }
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Page { items, next })
}
