//! Claims: the scan of due messages page by page with `FOR UPDATE SKIP LOCKED` (skipping those
//! a flow-control key holds back), claiming them under a lease, and the next due time.

use super::*;

/// The smallest page the claim scan reads after the first one (which is `limit` long, so that
/// a store without held-back messages reads exactly what it claims).
pub(super) const MIN_SCAN_PAGE: usize = 256;

/// A due message as the claim scan sees it: `(seq, due_at, tenant, flow_key)`.
pub(super) type DueRow = (i64, i64, String, Option<String>);

/// A page of due messages, earliest due first, after `(due_at, seq)` when given; with `lock`,
/// locked for this transaction, skipping those another one holds.
pub(super) async fn due_page<C: GenericClient>(
    c: &C,
    now: Millis,
    after: Option<(i64, i64)>,
    limit: usize,
    lock: bool,
) -> Result<Vec<DueRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let now = int(now)?;
    let lock = if lock { " FOR UPDATE SKIP LOCKED" } else { "" };
    let found = match after {
        None => {
            let sql = format!(
                "SELECT seq, due_at, tenant, flow_key FROM messages \
                 WHERE state = 'PENDING' AND due_at <= $1 ORDER BY due_at, seq LIMIT $2{lock}"
            );
            rows(c, &sql, &[&now, &limit]).await?
        }
        Some((due, seq)) => {
            let sql = format!(
                "SELECT seq, due_at, tenant, flow_key FROM messages \
                 WHERE state = 'PENDING' AND due_at <= $1 AND (due_at, seq) > ($3, $4) \
                 ORDER BY due_at, seq LIMIT $2{lock}"
            );
            rows(c, &sql, &[&now, &limit, &due, &seq]).await?
        }
    };
    found
        .iter()
        .map(|row| Ok((col(row, 0)?, col(row, 1)?, col(row, 2)?, col(row, 3)?)))
        .collect()
}

pub(super) async fn claim_due(
    tx: &Transaction<'_>,
    now: Millis,
    limit: usize,
) -> Result<Vec<Claimed>> {
    // A claim need not wait for its WAL flush: a database crash that loses it only makes the
    // attempt claimable again (at least once holds), and any later synchronous commit (a
    // finish) flushes the WAL past it, so a finish on disk implies its claim is.
    tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
        .await
        .map_err(pg)?;
    let mut keys = KeyStates::default();
    let mut chosen: Vec<i64> = Vec::new();
    let mut after = None;
    let mut page_len = limit;
    'scan: loop {
        let page = due_page(tx, now, after, page_len, true).await?;
        let full = page.len() == page_len;
        keys.load(tx, page.iter().map(|r| (&r.2, r.3.as_ref())), now, true)
            .await?;
        for (seq, _, tenant, key) in &page {
            if let Some(key) = key {
                match keys.get(tenant, key) {
                    Some(state) if state.hold(now) == Hold::Free => state.start(now),
                    // Held back, or another claim holds the key now: left for a later claim.
                    _ => continue,
                }
            }
            chosen.push(*seq);
            if chosen.len() == limit {
                break 'scan;
            }
        }
        // Held-back messages stay in the range: look further, past the last one seen.
        match page.last() {
            Some(last) if full => after = Some((last.1, last.0)),
            _ => break,
        }
        page_len = limit.max(MIN_SCAN_PAGE);
    }
    keys.save(tx).await?;
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    // One statement claims them, in the order chosen, and appends their ACTIVE events.
    let sql = format!(
        "WITH k AS (SELECT seq, n FROM UNNEST($2::int8[]) WITH ORDINALITY AS k(seq, n)), \
         u AS (UPDATE messages m SET claim = m.claim + 1, claim_open = TRUE, \
         due_at = $1 + m.lease_ms FROM k WHERE m.seq = k.seq RETURNING k.n, {MSG_COLS}), \
         e AS (INSERT INTO events (tenant, time, message_id, state, url, labels) \
         SELECT u.tenant, $1, u.id, 'ACTIVE', u.destination, u.labels FROM u ORDER BY u.n) \
         SELECT * FROM u ORDER BY n"
    );
    let found = rows(tx, &sql, &[&int(now)?, &chosen]).await?;
    found
        .iter()
        .map(|row| {
            let message = decode_message(row, 1)?;
            Ok(Claimed {
                claim: message.claim,
                lease_until: message.due_at,
                message,
            })
        })
        .collect()
}

/// [`Store::next_due`]: the earliest time a claim may find something, held-back messages
/// counted at the end of their rate window or not at all.
pub(super) async fn next_due<C: GenericClient>(c: &C, now: Millis) -> Result<Option<Millis>> {
    let first = opt(
        c,
        "SELECT due_at, flow_key FROM messages WHERE state = 'PENDING' \
         ORDER BY due_at LIMIT 1",
        &[],
    )
    .await?;
    let Some(first) = first else {
        return Ok(None);
    };
    let due = uint(col(&first, 0)?)?;
    if due > now || col::<Option<String>>(&first, 1)?.is_none() {
        return Ok(Some(due));
    }
    // Something with a key is due: look for the first due message that is not held back.
    let later = one(
        c,
        "SELECT min(due_at) FROM messages WHERE state = 'PENDING' AND due_at > $1",
        &[&int(now)?],
    )
    .await?;
    let mut best = opt_uint(col(&later, 0)?)?;
    let mut keys = KeyStates::default();
    let mut after = None;
    loop {
        let page = due_page(c, now, after, MIN_SCAN_PAGE, false).await?;
        keys.load(c, page.iter().map(|r| (&r.2, r.3.as_ref())), now, false)
            .await?;
        for (_, due, tenant, key) in &page {
            let hold = match key {
                Some(key) => keys.get(tenant, key).map_or(Hold::Free, |s| s.hold(now)),
                None => Hold::Free,
            };
            match hold {
                Hold::Free => return Ok(Some(uint(*due)?)),
                Hold::Parallelism => {}
                Hold::RateUntil(end) => best = Some(best.map_or(end, |b| b.min(end))),
            }
        }
        match page.last() {
            Some(last) if page.len() == MIN_SCAN_PAGE => after = Some((last.1, last.0)),
            _ => return Ok(best),
        }
    }
}
