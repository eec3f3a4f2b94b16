//! The reads of the event log: a page of a tenant's events, newest first, with filters.

use super::*;

pub(super) async fn list_events<C: GenericClient>(
    c: &C,
    tenant: &str,
    filter: &EventFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<Event>> {
    let count = count.max(1);
    let cursor = cursor_value(cursor);
    let limit = page_limit(count);
    let needle = filter.label.as_deref().map(label_needle);
    let mut p = Params::new();
    let mut sql = format!(
        "SELECT {EVENT_COLS} FROM events WHERE tenant = {} AND id < {}",
        p.add(&tenant),
        p.add(&cursor)
    );
    if let Some(message_id) = &filter.message_id {
        sql.push_str(&format!(" AND message_id = {}", p.add(message_id)));
    }
    if let Some(state) = &filter.state {
        sql.push_str(&format!(" AND state = {}", p.add(state)));
    }
    if let Some(url) = &filter.url {
        sql.push_str(&format!(" AND url = {}", p.add(url)));
    }
    if let Some(needle) = &needle {
        sql.push_str(&format!(" AND strpos(labels, {}) > 0", p.add(needle)));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", p.add(&limit)));
    let found = rows(c, &sql, &p.values).await?;
    let mut items = found.iter().map(decode_event).collect::<Result<Vec<_>>>()?;
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Page { items, next })
}
