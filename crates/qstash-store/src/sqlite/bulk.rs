//! Actions on several rows at once: retrying dead letters (new messages in, dead letters out)
//! and cancelling the messages a filter matches, each in one transaction; and binding the
//! values of a shared filter clause ([`Where`]).

use super::*;

/// The values of a [`Where`] clause, ready to bind in order.
pub(super) fn bind(values: &[SqlValue]) -> rusqlite::ParamsFromIter<Vec<rusqlite::types::Value>> {
    rusqlite::params_from_iter(
        values
            .iter()
            .map(|v| match v {
                SqlValue::Text(s) => rusqlite::types::Value::Text(s.clone()),
                SqlValue::Big(n) => rusqlite::types::Value::Integer(*n),
                SqlValue::Int(n) => rusqlite::types::Value::Integer(i64::from(*n)),
            })
            .collect::<Vec<_>>(),
    )
}

/// Stores each new message and removes its dead letter; an unknown dead letter fails all.
pub(super) fn retry_dlq(
    conn: &Connection,
    tenant: &str,
    retries: &[(String, NewMessage)],
    now: Millis,
) -> Result<Vec<InsertOutcome>> {
    let mut delete = conn
        .prepare_cached("DELETE FROM dlq WHERE dlq_id = ?1 AND tenant = ?2")
        .db()?;
    let mut outcomes = Vec::with_capacity(retries.len());
    for (dlq_id, message) in retries {
        if delete.execute([dlq_id.as_str(), tenant]).db()? == 0 {
            return Err(StoreError::Invalid(format!(
                "dead letter {dlq_id} is not in the DLQ (any more); nothing was retried"
            )));
        }
        outcomes.push(insert_one(conn, message, now)?);
    }
    Ok(outcomes)
}

/// Cancels every message of the tenant that `filter` matches and that is not final.
pub(super) fn cancel_messages(
    conn: &Connection,
    tenant: &str,
    filter: &MessageFilter,
    now: Millis,
) -> Result<u64> {
    let mut w = Where::new(Dialect::Sqlite);
    let t = w.add(SqlValue::Text(tenant.to_owned()));
    w.messages(filter);
    let sql = format!(
        "SELECT id FROM messages WHERE tenant = {t} \
         AND state NOT IN ('DELIVERED', 'FAILED', 'CANCELLED'){}",
        w.sql
    );
    let ids = {
        let mut stmt = conn.prepare(&sql).db()?;
        let mut rows = stmt.query(bind(&w.values)).db()?;
        let mut ids: Vec<String> = Vec::new();
        while let Some(row) = rows.next().db()? {
            ids.push(row.get(0).db()?);
        }
        ids
    };
    let mut cancelled = 0;
    for id in &ids {
        if cancel(conn, tenant, id, now)? == CancelOutcome::Cancelled {
            cancelled += 1;
        }
    }
    Ok(cancelled)
}
