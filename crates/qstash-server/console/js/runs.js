// Runs: the live list of workflow runs (`GET /v2/workflows/logs`) and a run's page with its
// steps as a timeline, the retries of each step (from the events of the message that ran
// it), cancel, and restart/resume of a failed run through its dead letter.

import { call } from "./api.js";
import { action, badge, duration, facts, fill, filters, h, live, pretty, table, time } from "./ui.js";

const STATES = ["", "RUN_STARTED", "RUN_SUCCESS", "RUN_FAILED", "RUN_CANCELED"];
const filterValues = { state: "", label: "", workflowRunId: "" };

function runDuration(run) {
  const end = run.workflowRunCompletedAt ?? (run.workflowState === "RUN_STARTED" ? Date.now() : null);
  return end ? duration(end - run.workflowRunCreatedAt) : "–";
}

function label(run) {
  return (run.labels ?? []).join(", ") || run.label || "";
}

/** `#/runs`. */
export async function runsPage(view) {
  const body = h("div", { id: "runs-list" });
  const tick = async () => {
    const page = await call("/v2/workflows/logs", { params: { count: 50, ...filterValues } });
    fill(
      body,
      table(
        "Workflow runs, newest first (live)",
        [
          ["Run", (r) => h("a", { href: `#/runs/${encodeURIComponent(r.workflowRunId)}`, class: "mono" }, r.workflowRunId)],
          ["State", (r) => badge(r.workflowState)],
          ["Workflow URL", (r) => r.workflowUrl, "url mono"],
          ["Label", label],
          ["Started", (r) => time(r.workflowRunCreatedAt)],
          ["Duration", runDuration, "num"],
        ],
        page.runs ?? [],
        "No runs yet: trigger one (qstash trigger URL, or POST /v2/trigger/URL).",
      ),
    );
  };
  fill(
    view,
    h("h1", {}, "Runs"),
    filters(
      [
        ["state", "State", STATES],
        ["label", "Label"],
        ["workflowRunId", "Run id"],
      ],
      filterValues,
      tick,
    ),
    body,
  );
  live(tick);
}

/** The steps of a run's log, flattened: each with its group (parallel or not). */
function flatten(run) {
  const out = [];
  for (const group of run.steps ?? []) {
    for (const step of group.steps ?? []) out.push({ ...step, parallel: group.type === "parallel" });
  }
  return out;
}

const GAPS = ["SleepFor", "SleepUntil", "Wait"];

/** The retries of each step: the failed attempts of the message whose delivery ran it. */
async function attemptsOf(messageId) {
  const page = await call("/v2/events", { params: { messageId, count: 100 } });
  return (page.events ?? []).filter((e) => ["RETRY", "ERROR", "FAILED"].includes(e.state)).reverse();
}

/** `#/runs/ID`. */
export async function runPage(view, id) {
  const head = h("div");
  const steps = h("div");
  const outcome = h("div");
  let lastKey = "";
  let dlq = null;
  const tick = async () => {
    const page = await call("/v2/workflows/logs", { params: { workflowRunId: id, count: 1 } });
    const run = (page.runs ?? [])[0];
    if (!run) {
      fill(view, h("h1", {}, "Run not found"), h("p", {}, `No run ${id} for this token.`));
      return;
    }
    const flat = flatten(run);
    if (run.workflowState === "RUN_FAILED" && !dlq) {
      // Its dead letter, for resume and restart (looked for until it is there).
      const list = await call("/v2/workflows/dlq", { params: { count: 1000 } });
      dlq = (list.messages ?? []).find((m) => m.workflowRunId === id) ?? null;
    }
    // Redrawn only when something changed (the run's state, a new step, its dead letter).
    const key = `${run.workflowState}:${flat.length}:${run.workflowRunCompletedAt ?? ""}:${dlq?.dlqId ?? ""}`;
    if (key === lastKey) {
      if (run.workflowState === "RUN_STARTED") drawHead(run);
      return;
    }
    lastKey = key;
    drawHead(run);
    const retries = await Promise.all(
      flat.map((s, i) => (i > 0 && flat[i - 1].messageId ? attemptsOf(flat[i - 1].messageId).catch(() => []) : [])),
    );
    fill(steps, timeline(run, flat, retries));
    fill(
      outcome,
      run.workflowRunResponse !== undefined ? [h("h2", {}, "Result"), h("pre", {}, pretty(run.workflowRunResponse))] : null,
      run.reason ? [h("h2", {}, "Reason"), h("pre", {}, run.reason)] : null,
    );
  };
  const drawHead = (run) => {
    const buttons = [];
    if (run.workflowState === "RUN_STARTED") {
      buttons.push(
        action("Cancel run", async () => {
          await call(`/v2/workflows/runs/${encodeURIComponent(id)}`, { method: "DELETE" });
          lastKey = "";
          return `Run ${id} cancelled.`;
        }, "danger"),
      );
    }
    if (run.workflowState === "RUN_FAILED" && dlq) {
      for (const [what, path, done] of [["Resume", "resume", "Resumed"], ["Restart", "restart", "Restarted"]]) {
        buttons.push(
          action(`${what} run`, async () => {
            const r = await call(`/v2/workflows/dlq/${path}/${encodeURIComponent(dlq.dlqId)}`, { method: "POST" });
            location.hash = `#/runs/${encodeURIComponent(r.workflowRunId)}`;
            return `${done} as ${r.workflowRunId}.`;
          }),
        );
      }
    }
    fill(
      head,
      h("h1", {}, "Run ", h("span", { class: "mono" }, id)),
      facts([
        ["State", badge(run.workflowState)],
        ["Workflow URL", h("span", { class: "mono" }, run.workflowUrl)],
        ["Label", label(run)],
        ["Started", time(run.workflowRunCreatedAt)],
        ["Ended", run.workflowRunCompletedAt ? time(run.workflowRunCompletedAt) : ""],
        ["Duration", runDuration(run)],
        ["Dead letter", dlq ? h("a", { href: `#/dlq/${encodeURIComponent(dlq.dlqId)}`, class: "mono" }, dlq.dlqId) : ""],
      ]),
      buttons.length ? h("div", { class: "actions" }, buttons) : null,
    );
  };
  fill(view, h("p", {}, h("a", { href: "#/runs" }, "← Runs")), head, h("h2", {}, "Steps"), steps, outcome);
  live(tick, 2000);
}

/** The steps on the run's time axis: a bar from the previous step's end to the step's end. */
function timeline(run, flat, retries) {
  if (!flat.length) return h("p", { class: "empty" }, "No step yet.");
  const start = run.workflowRunCreatedAt;
  const end = Math.max(run.workflowRunCompletedAt ?? Date.now(), ...flat.map((s) => s.createdAt ?? 0));
  const span = Math.max(1, end - start);
  const pct = (t) => `${(((t - start) / span) * 100).toFixed(2)}%`;
  let previous = start;
  return h(
    "ol",
    { class: "timeline", "aria-label": "Steps of the run, in order" },
    flat.map((step, i) => {
      const at = step.createdAt ?? previous;
      const next = flat[i + 1]?.createdAt ?? run.workflowRunCompletedAt ?? end;
      const gap = GAPS.includes(step.stepType);
      // A sleep or wait lasts from its record for its length (a wait: until the next step),
      // drawn as a gap; the next step runs from the gap's end.
      let gapEnd = next;
      if (step.sleepFor) gapEnd = Math.min(next, at + Number(step.sleepFor) * 1000);
      else if (step.sleepUntil) gapEnd = Math.min(next, Math.max(at, Number(step.sleepUntil) * 1000));
      const from = gap ? at : previous;
      const to = gap ? gapEnd : at;
      previous = gap ? gapEnd : at;
      const failedTries = retries[i] ?? [];
      const bar = h("div", { class: `bar${gap ? " gap" : ""}` });
      bar.style.left = pct(from);
      bar.style.width = `calc(${pct(to)} - ${pct(from)})`;
      const stateText = step.state ?? "STEP_SUCCESS";
      return h(
        "li",
        { class: step.parallel ? "parallel" : "" },
        h(
          "div",
          { class: "step-head" },
          h("span", { class: "step-name" }, step.stepName ?? `step ${i}`),
          h("span", { class: "muted" }, step.stepType ?? "", step.parallel ? " · parallel" : ""),
          badge(stateText),
        ),
        h(
          "div",
          {},
          h("div", { class: "track", role: "img", "aria-label": `${gap ? "waited" : "took"} ${duration(to - from)}` }, bar),
          h(
            "div",
            { class: "muted" },
            `${gap ? "waited" : "took"} ${duration(to - from)} · done ${time(at)}`,
            step.sleepFor ? ` · sleep ${step.sleepFor} s` : "",
            step.waitTimeoutDuration ? ` · timeout ${step.waitTimeoutDuration}` : "",
            failedTries.length ? ` · ${failedTries.length} failed attempt${failedTries.length > 1 ? "s" : ""} before` : "",
          ),
          failedTries.length
            ? h(
                "ul",
                { class: "retries", "aria-label": "Failed attempts of this step" },
                failedTries.map((e) =>
                  h("li", {}, badge(e.state), " ", time(e.time), e.responseStatus ? ` · HTTP ${e.responseStatus}` : "", e.error ? ` · ${e.error}` : ""),
                ),
              )
            : null,
          step.out !== undefined && step.out !== null && step.out !== ""
            ? h("pre", { "aria-label": `Output of ${step.stepName}` }, pretty(step.out))
            : null,
        ),
      );
    }),
  );
}

