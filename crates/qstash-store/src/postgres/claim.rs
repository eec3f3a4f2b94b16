//! Claims: the scan of the due index page by page with `FOR UPDATE SKIP LOCKED` (moving the
//! messages a flow-control key holds back to its wait list, once), claiming them under a lease,
//! and the next due time. The design is in [`crate::flow`]'s documentation.

use super::*;

/// The smallest page the claim scan reads after the first one (which is `limit` long, so that
/// a store with nothing newly held back reads exactly what it claims).
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
                 WHERE state = 'PENDING' AND NOT held AND due_at <= $1 \
                 ORDER BY due_at, seq LIMIT $2{lock}"
            );
            rows(c, &sql, &[&now, &limit]).await?
        }
        Some((due, seq)) => {
            let sql = format!(
                "SELECT seq, due_at, tenant, flow_key FROM messages \
                 WHERE state = 'PENDING' AND NOT held AND due_at <= $1 \
                 AND (due_at, seq) > ($3, $4) \
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

/// The most messages one claim moves to wait lists: a backlog that became due at once is
/// sorted by several claims (each a bounded transaction; `next_due` is now meanwhile).
pub(super) const HOLD_MAX: usize = 16_384;

/// The most keys one claim wakes (whose rate window ended while messages wait); the others
/// are woken by the next claims.
const WAKE_MAX: i64 = 256;

/// Promotes from the keys whose `wake_at` has come (their rate window ended, or their limits
/// changed, while messages wait) and that no other transaction holds.
async fn wake(
    tx: &Transaction<'_>,
    now: Millis,
    keys: &mut KeyStates,
    promoted: &mut HashSet<i64>,
) -> Result<()> {
    let woken = rows(
        tx,
        "SELECT tenant, key FROM flow_keys WHERE wake_at <= $1 ORDER BY wake_at LIMIT $2 \
         FOR UPDATE SKIP LOCKED",
        &[&int(now)?, &WAKE_MAX],
    )
    .await?;
    let woken = woken
        .iter()
        .map(|row| Ok((col::<String>(row, 0)?, col::<String>(row, 1)?)))
        .collect::<Result<Vec<_>>>()?;
    keys.load(tx, woken.iter().map(|(t, k)| (t, Some(k))), now, true)
        .await?;
    for (tenant, key) in &woken {
        if let Some(state) = keys.get(tenant, key) {
            promote(tx, tenant, key, state, now, promoted).await?;
            // Its wake time is written again, whatever the promotion did.
            state.dirty = true;
        }
    }
    Ok(())
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
    let mut promoted = HashSet::new();
    wake(tx, now, &mut keys, &mut promoted).await?;
    let mut chosen: Vec<i64> = Vec::new();
    let mut held = 0;
    'scan: loop {
        let mut after = None;
        let mut page_len = limit;
        // Messages promoted during this pass are due before where it is: one more pass.
        let mut promoted_now = false;
        loop {
            let page = due_page(tx, now, after, page_len, true).await?;
            let full = page.len() == page_len;
            keys.load(tx, page.iter().map(|r| (&r.2, r.3.as_ref())), now, true)
                .await?;
            // The messages this page moves to wait lists, and their keys: a later message of
            // such a key is behind them.
            let mut to_hold = Vec::new();
            let mut holding: HashSet<(&str, &str)> = HashSet::new();
            for (seq, due, tenant, key) in &page {
                if let Some(key) = key {
                    // Another claim holds the key now (or it is unknown): left for later.
                    let Some(state) = keys.get(tenant, key) else {
                        continue;
                    };
                    let start = if promoted.remove(seq) {
                        // Its place was reserved when it was promoted.
                        state.promoted = state.promoted.saturating_sub(1);
                        state.hold(now) == Hold::Free
                    } else if holding.contains(&(tenant.as_str(), key.as_str())) {
                        false
                    } else {
                        if state.waiting > 0
                            && let Some(first) = head(tx, tenant, key).await?
                            && first < (*due, *seq)
                            && promote(tx, tenant, key, state, now, &mut promoted).await? > 0
                        {
                            promoted_now = true;
                        }
                        let behind = state.waiting > 0
                            && head(tx, tenant, key)
                                .await?
                                .is_some_and(|first| first < (*due, *seq));
                        !behind && state.hold(now) == Hold::Free
                    };
                    if !start {
                        to_hold.push(*seq);
                        holding.insert((tenant, key));
                        state.waiting += 1;
                        state.dirty = true;
                        held += 1;
                        if held == HOLD_MAX {
                            hold_messages(tx, &to_hold).await?;
                            break 'scan;
                        }
                        continue;
                    }
                    state.start(now);
                }
                chosen.push(*seq);
                if chosen.len() == limit {
                    hold_messages(tx, &to_hold).await?;
                    break 'scan;
                }
            }
            hold_messages(tx, &to_hold).await?;
            match page.last() {
                Some(last) if full => after = Some((last.1, last.0)),
                _ => break,
            }
            page_len = limit.max(MIN_SCAN_PAGE);
        }
        if !promoted_now {
            break;
        }
    }
    keys.save(tx, now).await?;
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

/// How many due entries [`next_due`] sorts out at most before it answers `now` (a claim is
/// then due to sort them out).
const NEXT_DUE_SCAN: usize = 256;

/// [`Store::next_due`]: the earliest time a claim may find something: the first entry of the due
/// index that a claim would start (due entries a claim would hold are skipped), or the
/// earliest end of a full rate window with messages waiting.
pub(super) async fn next_due<C: GenericClient>(c: &C, now: Millis) -> Result<Option<Millis>> {
    let wake = one(
        c,
        "SELECT min(wake_at) FROM flow_keys WHERE wake_at IS NOT NULL",
        &[],
    )
    .await?;
    let wake = opt_uint(col(&wake, 0)?)?;
    let due = due_entry(c, now).await?;
    Ok(match (due, wake) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// The first entry of the due index a claim would start (or sort out).
async fn due_entry<C: GenericClient>(c: &C, now: Millis) -> Result<Option<Millis>> {
    let first = opt(
        c,
        "SELECT due_at, flow_key FROM messages WHERE state = 'PENDING' AND NOT held \
         ORDER BY due_at, seq LIMIT 1",
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
    // Keyed messages are due: those a claim would hold are skipped (they became due since the
    // last claim, so they are few; past `NEXT_DUE_SCAN` of them a claim is due to sort them).
    let later = one(
        c,
        "SELECT min(due_at) FROM messages WHERE state = 'PENDING' AND NOT held AND due_at > $1",
        &[&int(now)?],
    )
    .await?;
    let mut best = opt_uint(col(&later, 0)?)?;
    let page = due_page(c, now, None, NEXT_DUE_SCAN, false).await?;
    if page.len() == NEXT_DUE_SCAN {
        return Ok(Some(now));
    }
    let mut keys = KeyStates::default();
    keys.load(c, page.iter().map(|r| (&r.2, r.3.as_ref())), now, false)
        .await?;
    for (seq, due, tenant, key) in &page {
        let hold = match key {
            None => Hold::Free,
            Some(key) => match keys.get(tenant, key) {
                None => Hold::Free,
                Some(state) => {
                    let waiting = state.waiting > 0;
                    match state.hold(now) {
                        // A claim would promote the held ones: something starts now.
                        Hold::Free => Hold::Free,
                        hold if waiting
                            && head(c, tenant, key)
                                .await?
                                .is_some_and(|first| first < (*due, *seq)) =>
                        {
                            let _ = hold;
                            Hold::Parallelism
                        }
                        hold => hold,
                    }
                }
            },
        };
        match hold {
            Hold::Free => return Ok(Some(uint(*due)?)),
            Hold::Parallelism => {}
            Hold::RateUntil(end) => best = Some(best.map_or(end, |b| b.min(end))),
        }
    }
    Ok(best)
}
