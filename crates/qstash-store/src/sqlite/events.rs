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
    let mut sql = String::from(
        "SELECT id, time, message_id, state, url, labels, response_status, error, \
         next_delivery_time FROM events WHERE tenant = :tenant",
    );
    let cursor = cursor.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
    let needle = filter.label.as_deref().map(label_needle);
    let limit = page_limit(count);
    let mut params: Vec<(&str, &dyn ToSql)> = vec![(":tenant", &tenant), (":limit", &limit)];
    if let Some(cursor) = &cursor {
        sql.push_str(" AND id < :cursor");
        params.push((":cursor", cursor));
    }
    if let Some(message_id) = &filter.message_id {
        sql.push_str(" AND message_id = :message_id");
        params.push((":message_id", message_id));
    }
    if let Some(state) = &filter.state {
        sql.push_str(" AND state = :state");
        params.push((":state", state));
    }
    if let Some(url) = &filter.url {
        sql.push_str(" AND url = :url");
        params.push((":url", url));
    }
    if let Some(needle) = &needle {
        sql.push_str(" AND instr(labels, :label) > 0");
        params.push((":label", needle));
    }
    sql.push_str(" ORDER BY id DESC LIMIT :limit");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params.as_slice()).db()?;
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
