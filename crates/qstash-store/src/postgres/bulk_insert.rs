//! The multi-row insert of a group's plain messages and their events (one statement each,
//! pipelined with the notification).

use super::*;

/// Inserts the messages of the plain calls with one statement for the messages and one for
/// their events, and sends the notification, the three statements pipelined; `false` when some
/// id existed (the transaction must then be rolled back).
pub(super) async fn insert_plain(
    tx: &Transaction<'_>,
    shared: &Shared,
    group: &[InsertJob],
    plain: &[usize],
) -> Result<bool> {
    let mut cols = MessageColumns::default();
    let mut ev = EventColumns::default();
    let mut keys = FlowKeys::default();
    // The latest time of the group: a key whose limits change is woken then.
    let now = plain.iter().map(|&i| group[i].now).max().unwrap_or(0);
    for &i in plain {
        let job = &group[i];
        for m in &job.messages {
            let labels = encode_labels(&m.labels)?;
            cols.push(m, &labels)?;
            if let Some(key) = &m.flow_key {
                keys.add(&m.tenant, key, m.flow_limits);
            }
            ev.push(
                &m.tenant,
                job.now,
                &m.id,
                "CREATED",
                &m.destination,
                &labels,
                None,
                None,
                None,
            )?;
        }
    }
    let expected = cols.id.len();
    let params: [&(dyn ToSql + Sync); 18] = [
        &cols.tenant,
        &cols.id,
        &cols.destination,
        &cols.method,
        &cols.headers,
        &cols.body,
        &cols.created_at,
        &cols.due_at,
        &cols.max_retries,
        &cols.lease_ms,
        &cols.labels,
        &cols.flow_key,
        &cols.extra,
        &cols.run_id,
        &cols.run_step,
        &cols.flow_parallelism,
        &cols.flow_rate,
        &cols.flow_period_ms,
    ];
    let messages = rows(
        tx,
        "INSERT INTO messages (tenant, id, destination, method, headers, body, created_at, \
         first_due_at, due_at, max_retries, lease_ms, labels, flow_key, extra, run_id, run_step, \
         flow_parallelism, flow_rate, flow_period_ms, state) \
         SELECT t.tenant, t.id, t.destination, t.method, t.headers, t.body, t.created_at, \
         t.due_at, t.due_at, t.max_retries, t.lease_ms, t.labels, t.flow_key, t.extra, t.run_id, \
         t.run_step, t.flow_parallelism, t.flow_rate, t.flow_period_ms, 'PENDING' \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], \
         $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::text[], $12::text[], $13::bytea[], \
         $14::text[], $15::bool[], $16::int8[], $17::int8[], $18::int8[]) AS t(tenant, id, \
         destination, method, headers, body, created_at, due_at, max_retries, lease_ms, labels, \
         flow_key, extra, run_id, run_step, flow_parallelism, flow_rate, flow_period_ms) \
         ON CONFLICT (id) DO NOTHING RETURNING 1",
        &params,
    );
    let first_due = plain
        .iter()
        .flat_map(|&i| group[i].messages.iter().map(|m| m.due_at))
        .min()
        .unwrap_or(0);
    // The statements are sent together: their results are checked after.
    let (messages, events, keys, notified) = tokio::join!(
        messages,
        ev.insert(tx),
        keys.register(tx, now),
        notify_due(tx, shared, first_due)
    );
    if messages?.len() != expected {
        return Ok(false);
    }
    events?;
    keys?;
    notified?;
    Ok(true)
}

/// The columns of plain messages for one multi-row insert.
#[derive(Default)]
pub(super) struct MessageColumns {
    tenant: Vec<String>,
    id: Vec<String>,
    destination: Vec<String>,
    method: Vec<String>,
    headers: Vec<Vec<u8>>,
    body: Vec<Vec<u8>>,
    created_at: Vec<i64>,
    due_at: Vec<i64>,
    max_retries: Vec<i64>,
    lease_ms: Vec<i64>,
    labels: Vec<String>,
    flow_key: Vec<Option<String>>,
    extra: Vec<Vec<u8>>,
    run_id: Vec<Option<String>>,
    run_step: Vec<bool>,
    flow_parallelism: Vec<Option<i64>>,
    flow_rate: Vec<Option<i64>>,
    flow_period_ms: Vec<Option<i64>>,
}

impl MessageColumns {
    pub(super) fn push(&mut self, m: &NewMessage, labels: &str) -> Result<()> {
        self.tenant.push(m.tenant.clone());
        self.id.push(m.id.clone());
        self.destination.push(m.destination.clone());
        self.method.push(m.method.clone());
        self.headers.push(encode_headers(&m.headers));
        self.body.push(m.body.clone());
        self.created_at.push(int(m.created_at)?);
        self.due_at.push(int(m.due_at)?);
        self.max_retries.push(i64::from(m.max_retries));
        self.lease_ms.push(int(m.lease_ms)?);
        self.labels.push(labels.to_string());
        self.flow_key.push(m.flow_key.clone());
        self.extra.push(m.extra.clone());
        self.run_id.push(m.run.as_ref().map(|r| r.run_id.clone()));
        self.run_step.push(m.run.as_ref().is_some_and(|r| r.step));
        let (parallelism, rate, period_ms) = flow_columns(m.flow_limits)?;
        self.flow_parallelism.push(parallelism);
        self.flow_rate.push(rate);
        self.flow_period_ms.push(period_ms);
        Ok(())
    }
}

/// The columns of events for one multi-row insert.
#[derive(Default)]
pub(super) struct EventColumns {
    tenant: Vec<String>,
    time: Vec<i64>,
    message_id: Vec<String>,
    state: Vec<String>,
    url: Vec<String>,
    labels: Vec<String>,
    response_status: Vec<Option<i32>>,
    error: Vec<Option<String>>,
    next_delivery_time: Vec<Option<i64>>,
}

impl EventColumns {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push(
        &mut self,
        tenant: &str,
        time: Millis,
        message_id: &str,
        state: &str,
        url: &str,
        labels: &str,
        response_status: Option<u16>,
        error: Option<&str>,
        next_delivery_time: Option<Millis>,
    ) -> Result<()> {
        self.tenant.push(tenant.to_string());
        self.time.push(int(time)?);
        self.message_id.push(message_id.to_string());
        self.state.push(state.to_string());
        self.url.push(url.to_string());
        self.labels.push(labels.to_string());
        self.response_status.push(response_status.map(i32::from));
        self.error.push(error.map(str::to_string));
        self.next_delivery_time
            .push(next_delivery_time.map(int).transpose()?);
        Ok(())
    }

    pub(super) async fn insert<C: GenericClient>(&self, c: &C) -> Result<()> {
        if self.tenant.is_empty() {
            return Ok(());
        }
        exec(
            c,
            "INSERT INTO events (tenant, time, message_id, state, url, labels, response_status, \
             error, next_delivery_time) \
             SELECT tenant, time, message_id, state, url, labels, response_status, error, \
             next_delivery_time FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::int4[], $8::text[], $9::int8[]) WITH ORDINALITY \
             AS t(tenant, time, message_id, state, url, labels, response_status, error, \
             next_delivery_time, n) ORDER BY n",
            &[
                &self.tenant,
                &self.time,
                &self.message_id,
                &self.state,
                &self.url,
                &self.labels,
                &self.response_status,
                &self.error,
                &self.next_delivery_time,
            ],
        )
        .await?;
        Ok(())
    }
}
