//! The reads of the event log: a page of a tenant's events, newest first, with filters.

use super::*;

pub(super) fn list_events(
    conn: &Connection,
    tenant: &str,
    filter: &EventFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<Event>> {
    let count = count.max(1);
    let mut w = Where::new(Dialect::Sqlite);
    let tenant = w.add(SqlValue::Text(tenant.to_owned()));
    if let Some(cursor) = cursor {
        let p = w.add(SqlValue::Big(i64::try_from(cursor).unwrap_or(i64::MAX)));
        w.and(&format!("id < {p}"));
    }
    w.events(filter, &tenant);
    let limit = w.add(SqlValue::Big(page_limit(count)));
    let sql = format!(
        "SELECT id, time, message_id, state, url, labels, response_status, error, \
         next_delivery_time FROM events WHERE tenant = {tenant}{} ORDER BY id DESC LIMIT {limit}",
        w.sql
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(bind(&w.values)).db()?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().db()? {
        items.push(decode_event(row)?);
    }
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Page { items, next })
}
