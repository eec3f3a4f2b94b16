// Messages: the live event stream (`GET /v2/events`, a cursor walk of its first page) with
// its filters, and a message's page: its request, its attempts (status, error, next delivery
// time), its dead letter's response when it failed for good, and cancel.

import { call } from "./api.js";
import { action, badge, facts, fill, filters, h, live, pretty, table, time } from "./ui.js";

const STATES = ["", "CREATED", "ACTIVE", "RETRY", "ERROR", "DELIVERED", "FAILED", "CANCEL_REQUESTED", "CANCELLED"];
const filterValues = { state: "", url: "", label: "", messageId: "" };

function messageLink(id) {
  return h("a", { href: `#/messages/${encodeURIComponent(id)}`, class: "mono" }, id);
}

/** `#/events`. */
export async function eventsPage(view) {
  const body = h("div", { id: "events-list" });
  const tick = async () => {
    const page = await call("/v2/events", { params: { count: 100, ...filterValues } });
    fill(
      body,
      table(
        "Message events, newest first (live)",
        [
          ["Time", (e) => time(e.time)],
          ["Message", (e) => messageLink(e.messageId)],
          ["State", (e) => badge(e.state)],
          ["URL", (e) => e.url, "url mono"],
          ["Status", (e) => e.responseStatus ?? "", "num"],
          ["Label", (e) => (e.labels ?? []).join(", ") || e.label || ""],
          ["Next delivery", (e) => (e.nextDeliveryTime ? time(e.nextDeliveryTime) : "")],
          ["Error", (e) => e.error ?? ""],
        ],
        page.events ?? [],
        "No events yet: publish a message (qstash publish URL, or POST /v2/publish/URL).",
      ),
    );
  };
  fill(
    view,
    h("h1", {}, "Messages"),
    filters(
      [
        ["state", "State", STATES],
        ["url", "URL"],
        ["label", "Label"],
        ["messageId", "Message id"],
      ],
      filterValues,
      tick,
    ),
    body,
  );
  live(tick);
}

const FINAL = ["DELIVERED", "FAILED", "CANCELLED"];

/** `#/messages/ID`. */
export async function messagePage(view, id) {
  const head = h("div");
  const request = h("div");
  const attempts = h("div");
  const dead = h("div");
  let message = null;
  let dlqShown = false;
  const tick = async () => {
    const page = await call("/v2/events", { params: { messageId: id, count: 100 } });
    const events = (page.events ?? []).slice().reverse();
    const last = events[events.length - 1];
    if (!message) {
      message = await call(`/v2/messages/${encodeURIComponent(id)}`).catch(() => null);
      if (message) {
        fill(
          request,
          h("h2", {}, "Request"),
          facts([
            ["Method", message.method],
            ["URL", h("span", { class: "mono" }, message.url)],
            ["Created", time(message.createdAt)],
            ["Not before", message.notBefore ? time(message.notBefore) : ""],
            ["Retries", message.maxRetries],
            ["Labels", (message.labels ?? []).join(", ") || message.label],
            ["Flow-control key", message.flowControlKey],
            ["Callback", message.callback],
            ["Failure callback", message.failureCallback],
          ]),
          message.header && Object.keys(message.header).length ? [h("h2", {}, "Headers"), h("pre", {}, pretty(message.header))] : null,
          h("h2", {}, "Body"),
          h("pre", {}, pretty(message.body ?? message.bodyBase64 ?? "")),
        );
      }
    }
    const state = last?.state;
    fill(
      head,
      h("h1", {}, "Message ", h("span", { class: "mono" }, id)),
      facts([["State", state ? badge(state) : "unknown"]]),
      state && !FINAL.includes(state)
        ? h(
            "div",
            { class: "actions" },
            action("Cancel message", async () => {
              await call(`/v2/messages/${encodeURIComponent(id)}`, { method: "DELETE" });
              await tick();
              return `Message ${id} cancelled.`;
            }, "danger"),
          )
        : null,
    );
    fill(
      attempts,
      h("h2", {}, "Attempts and events"),
      table(
        "Every event of the message, oldest first",
        [
          ["Time", (e) => time(e.time)],
          ["State", (e) => badge(e.state)],
          ["Status", (e) => e.responseStatus ?? "", "num"],
          ["Next delivery", (e) => (e.nextDeliveryTime ? time(e.nextDeliveryTime) : "")],
          ["Error or response", (e) => (e.error ? h("span", { class: "mono" }, e.error) : e.body ?? "")],
        ],
        events,
        "No events for this message (unknown to this token, or removed by retention).",
      ),
    );
    if (state === "FAILED" && !dlqShown) {
      dlqShown = true;
      const list = await call("/v2/dlq", { params: { count: 1000 } });
      const entry = (list.messages ?? []).find((m) => m.messageId === id);
      if (entry) {
        fill(
          dead,
          h("h2", {}, "Last response (dead letter)"),
          facts([
            ["Dead letter", h("a", { href: `#/dlq/${encodeURIComponent(entry.dlqId)}`, class: "mono" }, entry.dlqId)],
            ["Status", entry.responseStatus],
          ]),
          h("pre", { "aria-label": "Response body" }, pretty(entry.responseBody ?? entry.responseBodyBase64 ?? "")),
        );
      }
    }
  };
  fill(view, h("p", {}, h("a", { href: "#/events" }, "← Messages")), head, attempts, dead, request);
  live(tick, 2000);
}
