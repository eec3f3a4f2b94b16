//! The [`Store`] trait: the contract every backend implements, one transaction a method.

use crate::*;

/// The durable store behind a server: every method is one transaction.
///
/// Implementations are shared by many tasks (`Send + Sync`) and, for a database server, by
/// several processes. The [`conformance`] suite states the contract as tests.
///
/// # Flow control
/// Messages that share a flow-control key ([`NewMessage::flow_key`], per tenant) obey the
/// key's limits ([`FlowLimits`]) across every process sharing the store. The store, not the
/// engine, keeps the state, so that it holds across processes:
///
/// - **The key and its limits.** Storing a message with a key registers the key for the tenant
///   (it is then listed by [`list_flow_control`](Store::list_flow_control) for good). When the
///   message carries limits, they replace the key's limits in the same transaction: the most
///   recently stored message's limits apply, to every pending message of the key (a SQL
///   backend keeps one row per `(tenant, key)`: `parallelism, rate, period_ms, window_start,
///   window_count`, upserted on insert, read and updated under a row lock inside
///   [`claim_due`](Store::claim_due)). A message that is not stored (deduplicated, a step of an
///   ended run) changes nothing. A key without limits limits nothing.
/// - **In flight** means claimed and neither finished nor past its lease: `state = PENDING`,
///   the claim open, and `due_at > now`. It is counted from the messages, never kept as a
///   counter, so a process that dies frees its share when its leases end. A finish (any
///   transition), a cancel or a run's end closes the attempt at once.
/// - **Parallelism.** A claim leaves a key's due messages alone while the key has
///   `parallelism` attempts in flight.
/// - **Rate.** Windows are fixed: a claim of one of the key's messages when no window is open
///   (`window_start + period_ms <= now`) opens one at `now` with a count of 0; each claim of
///   the key's messages adds 1; while the open window's count has reached `rate`, the key's
///   messages are left alone until the window ends.
/// - **Waiting is free.** A message held back stays pending and due, keeps its place (earliest
///   due first, once its key allows), gets no claim number, no event and no retry. A claim
///   call skips the held-back messages and goes on with the later due ones, so a blocked key
///   never starves other messages.
/// - [`next_due`](Store::next_due) does not report a held-back message as due: a message held
///   by a rate window counts at the window's end, one held by parallelism not at all (the
///   key's attempts in flight count at their lease ends, and the engine wakes itself when it
///   finishes one).
///
/// # Retention
/// A message is *finished* when it becomes delivered, failed or cancelled; the store keeps the
/// time (`finished_at`). [`purge`](Store::purge) removes, in one transaction and at most
/// `batch_limit` of each kind:
/// - dead letters added before [`PurgeCutoffs::dlq_before`];
/// - finished messages that ended before [`PurgeCutoffs::finished_before`] and have no dead
///   letter left, with all their events (and their waiter rows);
/// - runs that ended before `finished_before`, with their steps;
/// - deduplication ids remembered until [`PurgeCutoffs::now`] or earlier.
///
/// A removed item is gone as if it never existed: reads answer `None`, lists skip it. Pending
/// messages, started runs and flow-control keys are never removed. Several processes may purge
/// the same store at once.
///
/// # Schedules
/// A schedule ([`NewSchedule`]) is a tenant's cron expression and the request each tick
/// publishes. The store keeps the cron text without reading it: the caller computes tick
/// times and passes them in. A scheduler asks for [`due_schedules`](Store::due_schedules)
/// and fires each with [`fire_schedule`](Store::fire_schedule), a compare-and-set on the
/// schedule's next tick that stores the tick's messages in the same transaction, so each tick
/// publishes once across processes and restarts. [`next_schedule_at`](Store::next_schedule_at)
/// says when to look again. Retention never removes a schedule.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the store answers now (for `GET /health`).
    async fn ping(&self) -> Result<()>;

    /// Stores messages, all or none, and appends a `CREATED` event for each one stored.
    ///
    /// A message whose deduplication id the tenant used before, and that is still remembered
    /// (`until` later than `now`), is not stored: its outcome names the earlier message. Two
    /// messages of the same call with the same deduplication id: the first is stored, the second
    /// deduplicated against it. The outcomes are in the order of `messages`.
    ///
    /// A step of a workflow run ([`RunLink::step`]) is stored only while the tenant's run with
    /// that id exists and is [`RunState::Started`]; its body is then appended to the run's steps
    /// (the next sequence number, from 0) in the same transaction. Otherwise its outcome is
    /// [`InsertOutcome::RunNotActive`] and nothing of it is stored (no event, no deduplication
    /// id); like a deduplicated message, this is an outcome and not an error, so the other
    /// messages of the call are still stored. A message linked with `step: false` is only linked
    /// to its run (for [`Store::end_run`] and [`DlqFilter::workflow`]), whatever the run's state.
    async fn insert_messages(
        &self,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<Vec<InsertOutcome>>;

    /// Claims up to `limit` pending messages due at or before `now`, earliest due first, for one
    /// attempt each: each gets a new claim number and its due time becomes `now + lease_ms`
    /// (the message's own lease). An `ACTIVE` event is appended for each.
    ///
    /// Messages whose flow-control key is at its parallelism or has a full rate window are
    /// skipped (they stay due, untouched), and the claims made in this call count against
    /// their keys' limits as they are made (see [Flow control](Store#flow-control)); the call
    /// still claims up to `limit` of the other due messages.
    async fn claim_due(&self, now: Millis, limit: usize) -> Result<Vec<Claimed>>;

    /// When [`claim_due`](Self::claim_due) may next find something to claim, seen at `now`: the
    /// earliest due time of any pending message (claimed ones count at their lease end), or
    /// `None` when nothing is pending.
    ///
    /// A due message held back by flow control counts at the end of its key's rate window when
    /// the rate holds it back (and its parallelism does not), and not at all when the key's
    /// parallelism does (the key's attempts in flight count at their lease ends). So when every
    /// due message is held back, the answer is later than `now`, and a scheduler that sleeps
    /// until then does not spin.
    async fn next_due(&self, now: Millis) -> Result<Option<Millis>>;

    /// How many pending messages are due at or before `now` and not claimed (or whose claim's
    /// lease has ended): the backlog the engines have yet to start, for metrics.
    async fn due_count(&self, now: Millis) -> Result<u64>;

    /// Applies the outcomes of finished attempts, each only if its claim is still current (see
    /// [`Finish`]); the results are in the order of `finishes`. Several finishes may share one
    /// commit.
    async fn finish(&self, finishes: Vec<Finish>) -> Result<Vec<FinishOutcome>>;

    /// One message of a tenant.
    async fn get_message(&self, tenant: &str, id: &str) -> Result<Option<StoredMessage>>;

    /// Cancels a pending message of a tenant, appending `CANCEL_REQUESTED` and `CANCELLED`
    /// events.
    async fn cancel_message(&self, tenant: &str, id: &str, now: Millis) -> Result<CancelOutcome>;

    /// A page of a tenant's events, newest first, older than `cursor` when one is given.
    async fn list_events(
        &self,
        tenant: &str,
        filter: &EventFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<Event>>;

    /// A page of a tenant's dead letters, newest first, older than `cursor` when one is given.
    async fn list_dlq(
        &self,
        tenant: &str,
        filter: &DlqFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<DlqEntry>>;

    /// One dead letter of a tenant.
    async fn get_dlq(&self, tenant: &str, dlq_id: &str) -> Result<Option<DlqEntry>>;

    /// Deletes dead letters of a tenant; ids that are unknown or another tenant's are skipped.
    /// Returns how many were deleted.
    async fn delete_dlq(&self, tenant: &str, dlq_ids: &[String]) -> Result<u64>;

    /// Retries dead letters of a tenant in one transaction, all or nothing: for each
    /// `(dlq_id, message)` the message is stored as [`insert_messages`](Self::insert_messages)
    /// stores it and the dead letter is removed. A dead letter that is unknown, another
    /// tenant's or already removed fails the whole call with [`StoreError::Invalid`] naming
    /// it, and nothing is stored. The outcomes are in the order given.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`]; every backend of this
    /// workspace implements it.
    async fn retry_dlq(
        &self,
        tenant: &str,
        retries: Vec<(String, NewMessage)>,
        now: Millis,
    ) -> Result<Vec<InsertOutcome>> {
        let _ = (tenant, retries, now);
        Err(StoreError::Invalid(
            "this store does not implement retry_dlq".into(),
        ))
    }

    /// Cancels, in one transaction, every message of the tenant that matches `filter` and is
    /// not final yet, each as [`cancel_message`](Self::cancel_message) cancels it; returns how
    /// many it cancelled.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`]; every backend of this
    /// workspace implements it.
    async fn cancel_messages(
        &self,
        tenant: &str,
        filter: &MessageFilter,
        now: Millis,
    ) -> Result<u64> {
        let _ = (tenant, filter, now);
        Err(StoreError::Invalid(
            "this store does not implement cancel_messages".into(),
        ))
    }

    /// The signing keys, storing `proposed` first when the store has none yet (so that every
    /// process sharing the store signs alike).
    async fn signing_keys_or_init(&self, proposed: SigningKeys) -> Result<SigningKeys>;

    /// Makes the next key current and `new_next` the next one; returns the new pair.
    async fn rotate_signing_keys(&self, new_next: String) -> Result<SigningKeys>;

    /// A tenant's own signing keys, storing `proposed` first when the tenant has none yet (so
    /// that every process sharing the store signs the tenant's deliveries alike). Each tenant's
    /// pair is its own: it is neither another tenant's nor the store-wide pair of
    /// [`signing_keys_or_init`](Self::signing_keys_or_init).
    async fn tenant_signing_keys_or_init(
        &self,
        tenant: &str,
        proposed: SigningKeys,
    ) -> Result<SigningKeys>;

    /// Rotates a tenant's keys: its next key becomes current and `new_next` the next one;
    /// returns the new pair. Other tenants' keys are untouched. A tenant without keys yet is
    /// [`StoreError::Invalid`].
    async fn rotate_tenant_signing_keys(
        &self,
        tenant: &str,
        new_next: String,
    ) -> Result<SigningKeys>;

    /// Creates a workflow run (state [`RunState::Started`]) and stores its first message, both
    /// or neither. A run id the tenant used before is [`CreateRunOutcome::Exists`]; another
    /// tenant's run with the same id is a different run.
    ///
    /// The first message is stored as [`insert_messages`](Self::insert_messages) stores one, so
    /// it is the run's step 0 when its [`RunLink`] says `step: true` for this run. When it would
    /// not be stored (its deduplication id is still remembered, or it is a step of a run that is
    /// not started), or it belongs to another tenant than the run, the call fails with
    /// [`StoreError::Invalid`] and nothing is stored.
    async fn create_run(
        &self,
        run: NewRun,
        first: NewMessage,
        now: Millis,
    ) -> Result<CreateRunOutcome>;

    /// One run of a tenant.
    async fn get_run(&self, tenant: &str, run_id: &str) -> Result<Option<StoredRun>>;

    /// The step messages of a run in step order; with `up_to`, only those up to and including
    /// that step message (none when it is not a step of the run).
    async fn run_steps(
        &self,
        tenant: &str,
        run_id: &str,
        up_to: Option<&str>,
    ) -> Result<Vec<RunStep>>;

    /// Ends a started run and cancels its pending messages (appending `CANCELLED` events).
    ///
    /// The run's state becomes `end.state`, `ended_at` becomes `now`, and `end.response` and
    /// `end.reason` are kept. Every pending message of the tenant linked to the run, claimed or
    /// not, becomes [`MessageState::Cancelled`] (an attempt in flight then finishes
    /// [`FinishOutcome::Stale`]). An `end.state` of [`RunState::Started`] is
    /// [`StoreError::Invalid`].
    async fn end_run(
        &self,
        tenant: &str,
        run_id: &str,
        end: EndRun,
        now: Millis,
    ) -> Result<EndRunOutcome>;

    /// A page of a tenant's runs, newest first, older than `cursor` when one is given.
    async fn list_runs(
        &self,
        tenant: &str,
        filter: &RunFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<StoredRun>>;

    /// A signal that messages may have become due because of another process sharing the
    /// store (it stored or retried a message), or `None` (the default) when the store has no
    /// such signal: a store used by one process only, like the embedded one.
    ///
    /// The scheduler waits on it beside its timer and, when notified, looks at
    /// [`next_due`](Self::next_due) again. Notifications are hints: several may be merged into
    /// one, and one may come with nothing due. A backend also notifies after it reconnects to
    /// its source of notifications, when some may have been missed.
    fn due_wakeups(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    /// The live state of a tenant's flow-control key at `now`, or `None` when the tenant never
    /// stored a message with this key (another tenant's key of the same name is another key).
    ///
    /// The counts are computed at `now`: `parallelism_count` the key's attempts in flight,
    /// `wait_list_size` its pending messages due at `now` and not in flight, `rate_count` and
    /// `rate_period_start` those of the window open at `now` (0 and `None` when none is open).
    /// A key stays known with zero counts once idle.
    async fn flow_control(
        &self,
        tenant: &str,
        key: &str,
        now: Millis,
    ) -> Result<Option<FlowControlInfo>>;

    /// Every flow-control key the tenant has used, ordered by key, each as
    /// [`flow_control`](Self::flow_control) reports it.
    async fn list_flow_control(&self, tenant: &str, now: Millis) -> Result<Vec<FlowControlInfo>>;
    /// Creates a run as [`create_run`](Self::create_run) does, with `steps` recorded as its
    /// first steps before `first` is stored, all or nothing.
    ///
    /// The steps take the sequence numbers 0, 1, … in the order given (their own `seq` is
    /// ignored) and keep their `message_id`, `body` and `created_at`; no message is stored for
    /// them (nothing is delivered for them, no event is appended). `first` is then stored as
    /// `create_run` stores it: when it is a step of the run it takes the next number
    /// (`steps.len()`). With no `steps` this is exactly `create_run`. This is how a run resumes
    /// from a failed one: the completed steps are copied, and the first delivery goes on from
    /// there.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`]; every backend of this
    /// workspace implements it.
    async fn create_run_with_steps(
        &self,
        run: NewRun,
        steps: Vec<RunStep>,
        first: NewMessage,
        now: Millis,
    ) -> Result<CreateRunOutcome> {
        let _ = (run, steps, first, now);
        Err(StoreError::Invalid(
            "this store does not implement create_run_with_steps".into(),
        ))
    }

    /// Creates runs and stores messages in one transaction, all or nothing: each run as
    /// [`create_run_with_steps`](Self::create_run_with_steps) creates it (in the order given),
    /// then the messages as [`insert_messages`](Self::insert_messages) stores them. A run whose
    /// id the tenant used before (also earlier in the same call) is
    /// [`CreateRunOutcome::Exists`]; any error (a run's first message that would not be stored,
    /// a message id used twice) fails the whole call and nothing of it is stored.
    ///
    /// This is how a batch of several writes (`/v2/batch`, `/v2/batch/trigger`, a DLQ restart
    /// of several dead letters) is accepted whole or not at all.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`]; every backend of this
    /// workspace implements it.
    async fn write_batch(
        &self,
        runs: Vec<RunToCreate>,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<BatchOutcome> {
        let _ = (runs, messages, now);
        Err(StoreError::Invalid(
            "this store does not implement write_batch".into(),
        ))
    }

    /// Ends several runs of a tenant in one transaction, all or nothing, each as
    /// [`end_run`](Self::end_run) ends it; the outcomes are in the order of `run_ids`.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`]; every backend of this
    /// workspace implements it.
    async fn end_runs(
        &self,
        tenant: &str,
        run_ids: &[String],
        end: EndRun,
        now: Millis,
    ) -> Result<Vec<EndRunOutcome>> {
        let _ = (tenant, run_ids, end, now);
        Err(StoreError::Invalid(
            "this store does not implement end_runs".into(),
        ))
    }

    /// Stores `message` as a waiter for the tenant's event `event_id`, in one transaction.
    ///
    /// `message` must be a step of a run (`run: Some(RunLink { step: true, .. })`), else the call
    /// fails with [`StoreError::Invalid`] and nothing is stored. It is stored exactly as
    /// [`insert_messages`](Self::insert_messages) stores one message (a `CREATED` event, the
    /// run's next step with its body, or [`InsertOutcome::RunNotActive`] /
    /// [`InsertOutcome::Deduplicated`] with nothing stored), and when it is stored it is also
    /// recorded as a waiter for `(message.tenant, event_id)`. Its `due_at` is the wait's
    /// deadline: when nobody releases it, it is claimed and delivered then like any message (the
    /// timeout). Several waiters may wait for the same event id, also in one run.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn register_waiter(
        &self,
        event_id: &str,
        message: NewMessage,
        now: Millis,
    ) -> Result<InsertOutcome> {
        let _ = (event_id, message, now);
        Err(StoreError::Invalid(
            "this store does not implement register_waiter".into(),
        ))
    }

    /// The tenant's waiters for `event_id` that can still be released, oldest registration
    /// first; with `run_id`, only those of that run.
    ///
    /// A waiter can be released while its message is [`MessageState::Pending`] and has never
    /// been claimed (claim number 0). A waiter that was released, whose message was claimed
    /// (its wait timed out), cancelled (its run ended) or otherwise ended is not listed. Another
    /// tenant's waiters are never listed.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn list_waiters(
        &self,
        tenant: &str,
        event_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<Waiter>> {
        let _ = (tenant, event_id, run_id);
        Err(StoreError::Invalid(
            "this store does not implement list_waiters".into(),
        ))
    }

    /// Releases the tenant's waiter whose message is `message_id` (a notify): in one
    /// transaction, only if that message is a waiter of the tenant that can still be released
    /// (see [`list_waiters`](Self::list_waiters)), its body becomes `body` (in the message and in
    /// its run's step list), its due time becomes `now`, and it stops being a waiter. Returns
    /// whether it was released; otherwise nothing changed.
    ///
    /// A waiter is released at most once, and never after its timeout: the claim that delivers
    /// the timeout and the release exclude each other (whichever commits first wins), so a
    /// wait ends with exactly one delivery of its message, either the event's or the timeout's.
    /// The message keeps its id, claim number 0 and retry count; no event is appended.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn release_waiter(
        &self,
        tenant: &str,
        message_id: &str,
        body: Vec<u8>,
        now: Millis,
    ) -> Result<bool> {
        let _ = (tenant, message_id, body, now);
        Err(StoreError::Invalid(
            "this store does not implement release_waiter".into(),
        ))
    }

    /// Removes what is older than the retention `cutoffs`, at most `batch_limit` items of each
    /// kind, in one transaction (see [Retention](Store#retention)); returns what it removed.
    /// A caller that wants everything removed calls again while
    /// [`PurgeCounts::may_have_more`] says so.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn purge(&self, cutoffs: PurgeCutoffs, batch_limit: usize) -> Result<PurgeCounts> {
        let _ = (cutoffs, batch_limit);
        Err(StoreError::Invalid(
            "this store does not implement purge".into(),
        ))
    }

    /// Stores a schedule, replacing the tenant's schedule with the same id if there is one
    /// (its last tick is then forgotten). See [Schedules](Store#schedules).
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn put_schedule(&self, schedule: NewSchedule) -> Result<()> {
        let _ = schedule;
        Err(StoreError::Invalid(
            "this store does not implement schedules".into(),
        ))
    }

    /// One schedule of a tenant.
    ///
    /// The default implementation has none.
    async fn get_schedule(&self, tenant: &str, id: &str) -> Result<Option<StoredSchedule>> {
        let _ = (tenant, id);
        Ok(None)
    }

    /// Every schedule of a tenant, oldest first (then by id).
    ///
    /// The default implementation has none.
    async fn list_schedules(&self, tenant: &str) -> Result<Vec<StoredSchedule>> {
        let _ = tenant;
        Ok(Vec::new())
    }

    /// Deletes a schedule of a tenant; returns whether there was one. Its messages already
    /// published stay.
    ///
    /// The default implementation has none to delete.
    async fn delete_schedule(&self, tenant: &str, id: &str) -> Result<bool> {
        let _ = (tenant, id);
        Ok(false)
    }

    /// Pauses (`paused: true`) or resumes a schedule of a tenant; returns whether there was
    /// one. A resume sets the schedule's next tick to `next_at` (the first tick after now: a
    /// resumed schedule does not make up for the ticks it missed); a pause keeps it.
    ///
    /// The default implementation has none.
    async fn set_schedule_paused(
        &self,
        tenant: &str,
        id: &str,
        paused: bool,
        next_at: Option<Millis>,
    ) -> Result<bool> {
        let _ = (tenant, id, paused, next_at);
        Ok(false)
    }

    /// Up to `limit` schedules of any tenant that are not paused and whose next tick is at or
    /// before `now`, earliest first.
    ///
    /// The default implementation has none.
    async fn due_schedules(&self, now: Millis, limit: usize) -> Result<Vec<StoredSchedule>> {
        let _ = (now, limit);
        Ok(Vec::new())
    }

    /// The earliest next tick of the schedules that are not paused, or `None`. A scheduler
    /// sleeps until the earlier of this and [`next_due`](Self::next_due).
    ///
    /// The default implementation has none.
    async fn next_schedule_at(&self) -> Result<Option<Millis>> {
        Ok(None)
    }

    /// Fires one tick of a schedule, in one transaction: only if the schedule exists, is not
    /// paused and its next tick is still `tick.expected_next_at`, its next tick becomes
    /// `tick.next_at`, its last tick `tick.tick_at` with the ids of `tick.messages`, and the
    /// messages are stored as [`insert_messages`](Self::insert_messages) stores them. Returns
    /// whether the tick was fired; otherwise nothing changed (another process fired it, or the
    /// schedule was paused, replaced or deleted since it was read).
    ///
    /// This compare-and-set makes each tick publish exactly once, whatever the number of
    /// processes sharing the store.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn fire_schedule(&self, tick: ScheduleTick, now: Millis) -> Result<bool> {
        let _ = (tick, now);
        Err(StoreError::Invalid(
            "this store does not implement schedules".into(),
        ))
    }

    /// Adds endpoints to a tenant's URL group, creating the group when it does not exist, in
    /// one transaction (see [`UrlGroup::add`]); returns the group as it is then.
    ///
    /// The default implementation refuses with [`StoreError::Invalid`].
    async fn add_url_group_endpoints(
        &self,
        tenant: &str,
        name: &str,
        endpoints: Vec<UrlGroupEndpoint>,
        now: Millis,
    ) -> Result<UrlGroup> {
        let _ = (tenant, name, endpoints, now);
        Err(StoreError::Invalid(
            "this store does not implement URL groups".into(),
        ))
    }

    /// Removes endpoints from a tenant's URL group in one transaction (see
    /// [`UrlGroup::remove`]); returns the group as it is then, or `None` when the tenant has
    /// no group of that name. A group left without endpoints stays (empty).
    ///
    /// The default implementation has no groups.
    async fn remove_url_group_endpoints(
        &self,
        tenant: &str,
        name: &str,
        endpoints: Vec<EndpointMatch>,
        now: Millis,
    ) -> Result<Option<UrlGroup>> {
        let _ = (tenant, name, endpoints, now);
        Ok(None)
    }

    /// One URL group of a tenant.
    ///
    /// The default implementation has none.
    async fn get_url_group(&self, tenant: &str, name: &str) -> Result<Option<UrlGroup>> {
        let _ = (tenant, name);
        Ok(None)
    }

    /// Every URL group of a tenant, by name.
    ///
    /// The default implementation has none.
    async fn list_url_groups(&self, tenant: &str) -> Result<Vec<UrlGroup>> {
        let _ = tenant;
        Ok(Vec::new())
    }

    /// Deletes a URL group of a tenant; returns whether there was one. Messages already
    /// published to it stay.
    ///
    /// The default implementation has none.
    async fn delete_url_group(&self, tenant: &str, name: &str) -> Result<bool> {
        let _ = (tenant, name);
        Ok(false)
    }
}
