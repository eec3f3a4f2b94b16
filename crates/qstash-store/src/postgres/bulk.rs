//! Actions on several rows at once: retrying dead letters (new messages in, dead letters out)
//! and cancelling the messages a filter matches, each in one transaction; and binding the
//! values of a shared filter clause ([`Where`]).

use super::*;

/// The values of a [`Where`] clause as owned PostgreSQL parameters, in order.
pub(super) fn bind(values: &[SqlValue]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                SqlValue::Text(s) => Box::new(s.clone()),
                SqlValue::Big(n) => Box::new(*n),
                SqlValue::Int(n) => Box::new(*n),
            }
        })
        .collect()
}

/// Stores each new message and removes its dead letter; an unknown dead letter fails all.
pub(super) async fn retry_dlq(
    tx: &Transaction<'_>,
    tenant: &str,
    retries: &[(String, NewMessage)],
    now: Millis,
) -> Result<Vec<InsertOutcome>> {
    let mut outcomes = Vec::with_capacity(retries.len());
    for (dlq_id, message) in retries {
        let removed = exec(
            tx,
            "DELETE FROM dlq WHERE tenant = $1 AND dlq_id = $2",
            &[&tenant, dlq_id],
        )
        .await?;
        if removed == 0 {
            return Err(StoreError::Invalid(format!(
                "dead letter {dlq_id} is not in the DLQ (any more); nothing was retried"
            )));
        }
        outcomes.push(insert_one(tx, message, now).await?);
    }
    Ok(outcomes)
}

/// Cancels every message of the tenant that `filter` matches and that is not final.
pub(super) async fn cancel_messages(
    tx: &Transaction<'_>,
    tenant: &str,
    filter: &MessageFilter,
    now: Millis,
) -> Result<u64> {
    let mut w = Where::new(Dialect::Postgres);
    let t = w.add(SqlValue::Text(tenant.to_owned()));
    w.messages(filter);
    let sql = format!(
        "SELECT id FROM messages WHERE tenant = {t} \
         AND state NOT IN ('DELIVERED', 'FAILED', 'CANCELLED'){} ORDER BY id",
        w.sql
    );
    let values = bind(&w.values);
    let params: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let found = rows(tx, &sql, &params).await?;
    let mut cancelled = 0;
    for row in &found {
        let id: String = row.try_get(0).map_err(pg)?;
        if cancel(tx, tenant, &id, now).await? == CancelOutcome::Cancelled {
            cancelled += 1;
        }
    }
    Ok(cancelled)
}
