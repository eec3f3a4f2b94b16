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
    let mut w = Where::new(Dialect::Postgres);
    let tenant = w.add(SqlValue::Text(tenant.to_owned()));
    let cursor = w.add(SqlValue::Big(cursor_value(cursor)));
    w.events(filter, &tenant);
    let limit = w.add(SqlValue::Big(page_limit(count)));
    let sql = format!(
        "SELECT {EVENT_COLS} FROM events WHERE tenant = {tenant} AND id < {cursor}{} \
         ORDER BY id DESC LIMIT {limit}",
        w.sql
    );
    let values = bind(&w.values);
    let p = Params {
        values: values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect(),
    };
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
