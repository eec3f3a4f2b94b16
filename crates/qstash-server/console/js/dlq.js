// The dead-letter queue: the list (`GET /v2/dlq`) with filters and bulk retry/delete, and a
// dead letter's page with its request and the last response, retry, delete, and for a
// workflow run's dead letter, resume and restart.

import { call } from "./api.js";
import { action, badge, facts, fill, filters, h, live, pretty, table, time } from "./ui.js";

const filterValues = { url: "", label: "", responseStatus: "" };
const selected = new Set();

/**
 * Retries a dead letter: a new message with its request; the server takes the dead letter out
 * of the DLQ in the same transaction, as upstream's retry does.
 */
async function retry(dlqId) {
  const r = await call(`/v2/dlq/retry/${encodeURIComponent(dlqId)}`, { method: "POST" });
  return r.messageId;
}

/** `#/dlq`. */
export async function dlqPage(view) {
  selected.clear();
  const body = h("div");
  const bulk = h("div", { class: "actions" });
  let rows = [];
  const drawBulk = () => {
    const n = selected.size;
    fill(
      bulk,
      h("span", { class: "muted", "aria-live": "polite" }, `${n} selected`),
      action(`Retry selected`, async () => {
        const ids = [...selected];
        const done = [];
        for (const id of ids) done.push(await retry(id));
        selected.clear();
        await tick();
        return `Retried ${done.length}: ${done.join(", ")}`;
      }),
      action(`Delete selected`, async () => {
        const ids = [...selected];
        const r = await call("/v2/dlq", { method: "DELETE", params: { dlqIds: ids } });
        selected.clear();
        await tick();
        return `Deleted ${r.deleted}.`;
      }, "danger"),
    );
    for (const b of bulk.querySelectorAll("button")) b.disabled = n === 0;
  };
  const checkbox = (m) => {
    const c = h("input", { type: "checkbox", "aria-label": `Select ${m.dlqId}`, checked: selected.has(m.dlqId) });
    c.addEventListener("change", () => {
      if (c.checked) selected.add(m.dlqId);
      else selected.delete(m.dlqId);
      drawBulk();
    });
    return c;
  };
  const tick = async () => {
    // Not while the user is choosing: a redraw would move the focus.
    if (body.contains(document.activeElement) && document.activeElement.type === "checkbox") return;
    const page = await call("/v2/dlq", { params: { count: 100, ...filterValues } });
    rows = page.messages ?? [];
    for (const id of [...selected]) if (!rows.some((m) => m.dlqId === id)) selected.delete(id);
    const all = h("input", { type: "checkbox", id: "select-all", "aria-label": "Select all", checked: rows.length > 0 && selected.size === rows.length });
    all.addEventListener("change", () => {
      for (const m of rows) all.checked ? selected.add(m.dlqId) : selected.delete(m.dlqId);
      for (const c of body.querySelectorAll("tbody input[type=checkbox]")) c.checked = all.checked;
      drawBulk();
    });
    fill(
      body,
      rows.length ? h("label", { for: "select-all", class: "muted" }, all, " Select all") : null,
      table(
        "Dead letters, newest first (live)",
        [
          ["Select", checkbox],
          ["Dead letter", (m) => h("a", { href: `#/dlq/${encodeURIComponent(m.dlqId)}`, class: "mono" }, m.dlqId)],
          ["URL", (m) => m.url, "url mono"],
          ["Status", (m) => m.responseStatus ?? "", "num"],
          ["Label", (m) => (m.labels ?? []).join(", ") || m.label || ""],
          ["Failed", (m) => time(m.createdAt)],
          ["Run", (m) => (m.workflowRunId ? h("a", { href: `#/runs/${encodeURIComponent(m.workflowRunId)}`, class: "mono" }, m.workflowRunId) : "")],
          ["Action", (m) => action("Retry", async () => {
            const id = await retry(m.dlqId);
            await tick();
            return `Retried as ${id}.`;
          })],
        ],
        rows,
        "The DLQ is empty.",
      ),
    );
    drawBulk();
  };
  fill(
    view,
    h("h1", {}, "Dead-letter queue"),
    filters(
      [
        ["url", "URL"],
        ["label", "Label"],
        ["responseStatus", "Response status"],
      ],
      filterValues,
      tick,
    ),
    bulk,
    body,
  );
  live(tick, 3000);
}

/** `#/dlq/ID`. */
export async function dlqEntryPage(view, id) {
  const m = await call(`/v2/dlq/${encodeURIComponent(id)}`);
  const buttons = [
    action("Retry", async () => {
      const newId = await retry(id);
      location.hash = `#/messages/${encodeURIComponent(newId)}`;
      return `Retried as ${newId}.`;
    }),
    action("Delete", async () => {
      await call(`/v2/dlq/${encodeURIComponent(id)}`, { method: "DELETE" });
      location.hash = "#/dlq";
      return `Deleted ${id}.`;
    }, "danger"),
  ];
  if (m.workflowRunId) {
    for (const [what, path] of [["Resume run", "resume"], ["Restart run", "restart"]]) {
      buttons.push(
        action(what, async () => {
          const r = await call(`/v2/workflows/dlq/${path}/${encodeURIComponent(id)}`, { method: "POST" });
          location.hash = `#/runs/${encodeURIComponent(r.workflowRunId)}`;
          return `${what}: ${r.workflowRunId}.`;
        }),
      );
    }
  }
  fill(
    view,
    h("p", {}, h("a", { href: "#/dlq" }, "← DLQ")),
    h("h1", {}, "Dead letter ", h("span", { class: "mono" }, id)),
    facts([
      ["Message", h("a", { href: `#/messages/${encodeURIComponent(m.messageId)}`, class: "mono" }, m.messageId)],
      ["Run", m.workflowRunId ? h("a", { href: `#/runs/${encodeURIComponent(m.workflowRunId)}`, class: "mono" }, m.workflowRunId) : ""],
      ["Failed", time(m.createdAt)],
      ["Labels", (m.labels ?? []).join(", ") || m.label],
      ["Failure callback", m.failureCallback ? [m.failureCallback, " ", badge(m.failureCallbackState ?? "pending")] : ""],
    ]),
    h("div", { class: "actions" }, buttons),
    h(
      "div",
      { class: "cols" },
      h(
        "section",
        { "aria-labelledby": "req" },
        h("h2", { id: "req" }, "Request"),
        facts([
          ["Method", m.method],
          ["URL", h("span", { class: "mono" }, m.url)],
          ["Retries", m.maxRetries],
          ["Not before", m.notBefore ? time(m.notBefore) : ""],
        ]),
        h("h3", {}, "Headers"),
        h("pre", {}, pretty(m.header ?? {})),
        h("h3", {}, "Body"),
        h("pre", { "aria-label": "Request body" }, pretty(m.body ?? m.bodyBase64 ?? "")),
      ),
      h(
        "section",
        { "aria-labelledby": "resp" },
        h("h2", { id: "resp" }, "Last response"),
        facts([["Status", m.responseStatus ?? "no answer"]]),
        h("h3", {}, "Headers"),
        h("pre", {}, pretty(m.responseHeader ?? {})),
        h("h3", {}, "Body"),
        h("pre", { "aria-label": "Response body" }, pretty(m.responseBody ?? m.responseBodyBase64 ?? "")),
      ),
    ),
  );
}
