//! Flow control: the keys an insert registers with their limits, the state of the keys a claim
//! meets (their rows locked, `SKIP LOCKED`), a key's wait list (holding messages back,
//! promoting the first held ones when a place frees) and the reads of a key's counters. The
//! design is in [`crate::flow`]'s documentation.

use super::*;

/// The keys an insert registers, with the limits that replace theirs (the last message's that
/// carries limits), in key order (the order their rows are locked in).
#[derive(Default)]
pub(super) struct FlowKeys(BTreeMap<(String, String), Option<FlowLimits>>);

impl FlowKeys {
    pub(super) fn add(&mut self, tenant: &str, key: &str, limits: Option<FlowLimits>) {
        let entry = self
            .0
            .entry((tenant.to_string(), key.to_string()))
            .or_insert(None);
        if limits.is_some() {
            *entry = limits;
        }
    }

    /// Registers the keys; those with limits get them (the open rate window is kept; a key whose
    /// limits change while messages wait is looked at by the next claim, `wake_at`).
    pub(super) async fn register(&self, tx: &Transaction<'_>, now: Millis) -> Result<()> {
        let (mut plain_t, mut plain_k) = (Vec::new(), Vec::new());
        let (mut t, mut k, mut p, mut r, mut period) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((tenant, key), limits) in &self.0 {
            match limits {
                Some(l) => {
                    t.push(tenant.as_str());
                    k.push(key.as_str());
                    p.push(l.parallelism.map(i64::from));
                    r.push(l.rate.map(i64::from));
                    period.push(int(l.period_ms)?);
                }
                None => {
                    plain_t.push(tenant.as_str());
                    plain_k.push(key.as_str());
                }
            }
        }
        if !t.is_empty() {
            exec(
                tx,
                // Keys whose limits are already these are left alone: an upsert would lock
                // their rows, and claims skip a locked key (a key published to all the time
                // would never be claimed).
                "INSERT INTO flow_keys (tenant, key, parallelism, rate, period_ms) \
                 SELECT w.tenant, w.key, w.parallelism, w.rate, w.period_ms \
                 FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[]) \
                 AS w(tenant, key, parallelism, rate, period_ms) \
                 WHERE NOT EXISTS (SELECT 1 FROM flow_keys f WHERE f.tenant = w.tenant \
                 AND f.key = w.key AND f.parallelism IS NOT DISTINCT FROM w.parallelism \
                 AND f.rate IS NOT DISTINCT FROM w.rate AND f.period_ms = w.period_ms) \
                 ON CONFLICT (tenant, key) DO UPDATE SET \
                 parallelism = EXCLUDED.parallelism, rate = EXCLUDED.rate, \
                 period_ms = EXCLUDED.period_ms, \
                 wake_at = CASE WHEN flow_keys.waiting > 0 THEN $6 ELSE flow_keys.wake_at END",
                &[&t, &k, &p, &r, &period, &int(now)?],
            )
            .await?;
        }
        if !plain_t.is_empty() {
            exec(
                tx,
                "INSERT INTO flow_keys (tenant, key) \
                 SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&plain_t, &plain_k],
            )
            .await?;
        }
        Ok(())
    }
}

/// The keys one transaction has looked at, by `(tenant, key)`; `None` for a key whose row
/// another claim holds (or that does not exist).
#[derive(Default)]
pub(super) struct KeyStates(HashMap<(String, String), Option<KeyState>>);

impl KeyStates {
    pub(super) fn get(&mut self, tenant: &str, key: &str) -> Option<&mut KeyState> {
        self.0
            .get_mut(&(tenant.to_string(), key.to_string()))
            .and_then(Option::as_mut)
    }

    /// Loads the keys of `messages` not seen yet: their limits, windows and attempts in flight
    /// at `now`; with `lock`, their rows are locked (in key order), skipping those another
    /// transaction holds.
    pub(super) async fn load<'a, C: GenericClient>(
        &mut self,
        c: &C,
        messages: impl Iterator<Item = (&'a String, Option<&'a String>)>,
        now: Millis,
        lock: bool,
    ) -> Result<()> {
        let mut wanted = std::collections::BTreeSet::new();
        for (tenant, key) in messages {
            if let Some(key) = key
                && !self.0.contains_key(&(tenant.clone(), key.clone()))
            {
                wanted.insert((tenant.clone(), key.clone()));
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let tenants: Vec<&str> = wanted.iter().map(|(t, _)| t.as_str()).collect();
        let names: Vec<&str> = wanted.iter().map(|(_, k)| k.as_str()).collect();
        let lock = if lock {
            " FOR UPDATE OF f SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "SELECT f.tenant, f.key, f.parallelism, f.rate, f.period_ms, f.window_start, \
             f.window_count, f.waiting FROM flow_keys f \
             JOIN UNNEST($1::text[], $2::text[]) AS w(tenant, key) \
             ON f.tenant = w.tenant AND f.key = w.key ORDER BY f.tenant, f.key{lock}"
        );
        let found = rows(c, &sql, &[&tenants, &names]).await?;
        let counts = rows(
            c,
            "SELECT m.tenant, m.flow_key, count(*) FROM messages m \
             JOIN UNNEST($1::text[], $2::text[]) AS w(tenant, key) \
             ON m.tenant = w.tenant AND m.flow_key = w.key \
             WHERE m.state = 'PENDING' AND m.flow_key IS NOT NULL AND NOT m.held \
             AND m.claim_open AND m.due_at > $3 GROUP BY m.tenant, m.flow_key",
            &[&tenants, &names, &int(now)?],
        )
        .await?;
        let mut in_flight: HashMap<(String, String), u64> = HashMap::new();
        for row in &counts {
            in_flight.insert((col(row, 0)?, col(row, 1)?), uint(col(row, 2)?)?);
        }
        for id in wanted {
            self.0.insert(id, None);
        }
        for row in &found {
            let id: (String, String) = (col(row, 0)?, col(row, 1)?);
            let state = KeyState {
                parallelism: opt_uint(col(row, 2)?)?,
                rate: opt_uint(col(row, 3)?)?,
                period_ms: uint(col(row, 4)?)?.max(1),
                window_start: uint(col(row, 5)?)?,
                window_count: uint(col(row, 6)?)?,
                in_flight: in_flight.get(&id).copied().unwrap_or(0),
                waiting: uint(col(row, 7)?)?,
                promoted: 0,
                dirty: false,
            };
            self.0.insert(id, Some(state));
        }
        Ok(())
    }

    /// Writes the changed windows, wait list counts and wake times back.
    pub(super) async fn save(self, tx: &Transaction<'_>, now: Millis) -> Result<()> {
        let (mut t, mut k, mut start, mut count) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut waiting, mut wake) = (Vec::new(), Vec::new());
        for ((tenant, key), state) in self.0 {
            let Some(state) = state.filter(|s| s.dirty) else {
                continue;
            };
            t.push(tenant);
            k.push(key);
            start.push(int(state.window_start)?);
            count.push(int(state.window_count)?);
            waiting.push(int(state.waiting)?);
            wake.push(state.wake_at(now).map(int).transpose()?);
        }
        if t.is_empty() {
            return Ok(());
        }
        exec(
            tx,
            "UPDATE flow_keys f SET window_start = w.start, window_count = w.count, \
             waiting = w.waiting, wake_at = w.wake \
             FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[]) \
             AS w(tenant, key, start, count, waiting, wake) \
             WHERE f.tenant = w.tenant AND f.key = w.key",
            &[&t, &k, &start, &count, &waiting, &wake],
        )
        .await?;
        Ok(())
    }
}

/// The live state of some keys of a tenant at `now`, in key order; unknown keys are left out.
pub(super) async fn flow_infos<C: GenericClient>(
    c: &C,
    tenant: &str,
    keys: &[String],
    now: Millis,
) -> Result<Vec<FlowControlInfo>> {
    let tenant_s = tenant.to_string();
    let mut states = KeyStates::default();
    states
        .load(c, keys.iter().map(|k| (&tenant_s, Some(k))), now, false)
        .await?;
    // The wait lists are counted with the keys; the due messages no claim has sorted out yet
    // (few: those that became due since the last claim) and those whose lease ended are read.
    let waiting = rows(
        c,
        "SELECT flow_key, count(*) FROM messages WHERE tenant = $1 AND flow_key = ANY($2) \
         AND state = 'PENDING' AND NOT held AND claim_open IN (FALSE, TRUE) AND due_at <= $3 \
         GROUP BY flow_key",
        &[&tenant, &keys, &int(now)?],
    )
    .await?;
    let mut waits: HashMap<String, u64> = HashMap::new();
    for row in &waiting {
        waits.insert(col(row, 0)?, uint(col(row, 1)?)?);
    }
    let mut out = Vec::new();
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    sorted.dedup();
    for key in sorted {
        let Some(state) = states.get(tenant, key) else {
            continue;
        };
        let open = state.window_open(now);
        out.push(FlowControlInfo {
            key: key.clone(),
            wait_list_size: waits.get(key).copied().unwrap_or(0) + state.waiting,
            parallelism_max: state
                .parallelism
                .map(|p| u32::try_from(p).unwrap_or(u32::MAX)),
            parallelism_count: state.in_flight,
            rate_max: state.rate.map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
            rate_count: if open { state.window_count } else { 0 },
            rate_period_ms: state.period_ms,
            rate_period_start: open.then_some(state.window_start),
        });
    }
    Ok(out)
}

/// The most messages one promotion moves; a longer wait list with free places is looked at
/// again by the next claim (`wake_at` is now).
pub(super) const PROMOTE_MAX: u64 = 1024;

/// The first held message of a key, as `(due_at, seq)`.
pub(super) async fn head<C: GenericClient>(
    c: &C,
    tenant: &str,
    key: &str,
) -> Result<Option<(i64, i64)>> {
    let row = opt(
        c,
        "SELECT due_at, seq FROM messages WHERE tenant = $1 AND flow_key = $2 \
         AND state = 'PENDING' AND held ORDER BY due_at, seq LIMIT 1",
        &[&tenant, &key],
    )
    .await?;
    row.map(|row| Ok((col(&row, 0)?, col(&row, 1)?)))
        .transpose()
}

/// Moves due messages (of keys this transaction holds) to their keys' wait lists.
pub(super) async fn hold_messages(tx: &Transaction<'_>, seqs: &[i64]) -> Result<()> {
    if !seqs.is_empty() {
        exec(
            tx,
            "UPDATE messages SET held = TRUE WHERE seq = ANY($1)",
            &[&seqs],
        )
        .await?;
    }
    Ok(())
}

/// Moves the key's first held messages back into the due index, as many as it has places for
/// at `now`; their places are reserved in `state` and their seqs added to `promoted`. The key's
/// row is locked by this transaction.
pub(super) async fn promote(
    tx: &Transaction<'_>,
    tenant: &str,
    key: &str,
    state: &mut KeyState,
    now: Millis,
    promoted: &mut HashSet<i64>,
) -> Result<u64> {
    let n = state.free_places(now).min(state.waiting).min(PROMOTE_MAX);
    if n == 0 {
        return Ok(0);
    }
    let moved = rows(
        tx,
        "UPDATE messages SET held = FALSE WHERE seq IN (SELECT seq FROM messages \
         WHERE tenant = $1 AND flow_key = $2 AND state = 'PENDING' AND held \
         ORDER BY due_at, seq LIMIT $3) RETURNING seq",
        &[&tenant, &key, &int(n)?],
    )
    .await?;
    for row in &moved {
        promoted.insert(col(row, 0)?);
    }
    let moved = moved.len() as u64;
    state.waiting = state.waiting.saturating_sub(moved);
    state.promoted += moved;
    state.dirty = true;
    Ok(moved)
}

/// Locks the rows of the flow-control keys of these messages (by `(tenant, id)`) and of the
/// pending messages of these runs (by `(tenant, run_id)`), in key order: the transactions that
/// move messages between the due index and a wait list take the key first.
pub(super) async fn lock_flow_keys(
    tx: &Transaction<'_>,
    messages: &[(&str, &str)],
    runs: &[(&str, &str)],
) -> Result<()> {
    let (mt, mi): (Vec<&str>, Vec<&str>) = messages.iter().copied().unzip();
    let (rt, ri): (Vec<&str>, Vec<&str>) = runs.iter().copied().unzip();
    exec(
        tx,
        "SELECT 1 FROM flow_keys f WHERE (f.tenant, f.key) IN ( \
         SELECT m.tenant, m.flow_key FROM messages m \
         JOIN UNNEST($1::text[], $2::text[]) AS w(tenant, id) ON m.tenant = w.tenant AND m.id = w.id \
         WHERE m.flow_key IS NOT NULL \
         UNION SELECT m.tenant, m.flow_key FROM messages m \
         JOIN UNNEST($3::text[], $4::text[]) AS r(tenant, run_id) \
         ON m.tenant = r.tenant AND m.run_id = r.run_id \
         WHERE m.state = 'PENDING' AND m.flow_key IS NOT NULL) \
         ORDER BY f.tenant, f.key FOR UPDATE",
        &[&mt, &mi, &rt, &ri],
    )
    .await?;
    Ok(())
}

/// After keyed messages left their places or their wait lists (finishes, cancels), given as
/// `(tenant, key, was_held)`: counts the held ones out of the wait lists and promotes the keys'
/// first held messages into the freed places, in the same transaction (which holds the keys).
pub(super) async fn release(
    tx: &Transaction<'_>,
    left: &[(String, String, bool)],
    now: Millis,
) -> Result<()> {
    if left.is_empty() {
        return Ok(());
    }
    // Usually locked already (`lock_flow_keys`); waited for otherwise.
    let tenants: Vec<&str> = left.iter().map(|(t, _, _)| t.as_str()).collect();
    let names: Vec<&str> = left.iter().map(|(_, k, _)| k.as_str()).collect();
    exec(
        tx,
        "SELECT 1 FROM flow_keys f JOIN UNNEST($1::text[], $2::text[]) AS w(tenant, key) \
         ON f.tenant = w.tenant AND f.key = w.key ORDER BY f.tenant, f.key FOR UPDATE OF f",
        &[&tenants, &names],
    )
    .await?;
    let mut states = KeyStates::default();
    states
        .load(tx, left.iter().map(|(t, k, _)| (t, Some(k))), now, false)
        .await?;
    for (tenant, key, held) in left {
        if *held && let Some(state) = states.get(tenant, key) {
            state.waiting = state.waiting.saturating_sub(1);
        }
    }
    let mut seen = HashSet::new();
    for (tenant, key, _) in left {
        if !seen.insert((tenant, key)) {
            continue;
        }
        if let Some(state) = states.get(tenant, key) {
            promote(tx, tenant, key, state, now, &mut HashSet::new()).await?;
            state.dirty = true;
        }
    }
    states.save(tx, now).await
}
