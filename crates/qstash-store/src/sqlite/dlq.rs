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
    let mut w = Where::new(Dialect::Sqlite);
    let tenant = w.add(SqlValue::Text(tenant.to_owned()));
    if let Some(cursor) = cursor {
        let p = w.add(SqlValue::Big(i64::try_from(cursor).unwrap_or(i64::MAX)));
        w.and(&format!("d.seq < {p}"));
    }
    w.dlq(filter);
    let limit = w.add(SqlValue::Big(page_limit(count)));
    let sql = format!(
        "SELECT {DLQ_COLS}, {MSG_COLS} FROM dlq d \
         JOIN messages m ON m.id = d.message_id AND m.tenant = d.tenant \
         WHERE d.tenant = {tenant}{} ORDER BY d.seq DESC LIMIT {limit}",
        w.sql
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(bind(&w.values)).db()?;
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
