//! Dead letters: adding one (in a finish) and listing them.

use super::*;

pub(super) async fn insert_dlq(
    tx: &Transaction<'_>,
    tenant: &str,
    message_id: &str,
    dlq: &NewDlq,
) -> Result<()> {
    let inserted = opt(
        tx,
        "INSERT INTO dlq (dlq_id, tenant, message_id, created_at, response_status, \
         response_headers, response_body, failure_callback) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dlq_id) DO NOTHING RETURNING 1",
        &[
            &dlq.dlq_id,
            &tenant,
            &message_id,
            &int(dlq.created_at)?,
            &dlq.response.status.map(i32::from),
            &encode_headers(&dlq.response.headers),
            &dlq.response.body,
            &dlq.failure_callback,
        ],
    )
    .await?;
    match inserted {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid(format!(
            "dead letter id {} exists already",
            dlq.dlq_id
        ))),
    }
}

pub(super) async fn list_dlq<C: GenericClient>(
    c: &C,
    tenant: &str,
    filter: &DlqFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<DlqEntry>> {
    let count = count.max(1);
    let mut w = Where::new(Dialect::Postgres);
    let tenant = w.add(SqlValue::Text(tenant.to_owned()));
    let cursor = w.add(SqlValue::Big(cursor_value(cursor)));
    w.dlq(filter);
    let limit = w.add(SqlValue::Big(page_limit(count)));
    let sql = format!(
        "SELECT {DLQ_COLS}, {MSG_COLS} FROM dlq d \
         JOIN messages m ON m.id = d.message_id AND m.tenant = d.tenant \
         WHERE d.tenant = {tenant} AND d.seq < {cursor}{} ORDER BY d.seq DESC LIMIT {limit}",
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
    let mut items = found.iter().map(decode_dlq).collect::<Result<Vec<_>>>()?;
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Page { items, next })
}
