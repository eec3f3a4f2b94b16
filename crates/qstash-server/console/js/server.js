// The server: its version and store (`GET /console/api/info`) and the headline numbers of
// `/metrics` as small charts (accepted, delivered and retried per second; the due backlog),
// when `/metrics` is open to this token (always on `qstash dev`; on `serve` with
// `--metrics-token` set to it).

import { call } from "./api.js";
import { facts, fill, h, live } from "./ui.js";

const POINTS = 60;

/** The value of every sample of `name` in a Prometheus text exposition, summed. */
function sample(text, name) {
  let sum = null;
  for (const line of text.split("\n")) {
    if (line.startsWith(name) && (line[name.length] === " " || line[name.length] === "{")) {
      const v = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (!Number.isNaN(v)) sum = (sum ?? 0) + v;
    }
  }
  return sum;
}

function chart(title, unit) {
  const value = h("div", { class: "value" }, "–");
  const line = h("polyline", { points: "" });
  const svg = h("svg", { viewBox: `0 0 ${POINTS - 1} 40`, preserveAspectRatio: "none", role: "img", "aria-label": `${title}, the last ${POINTS} readings` }, line);
  const fig = h("figure", { class: "chart" }, h("figcaption", {}, title), value, svg);
  const values = [];
  return {
    fig,
    push(v) {
      values.push(v);
      if (values.length > POINTS) values.shift();
      value.textContent = `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
      const max = Math.max(1, ...values);
      line.setAttribute(
        "points",
        values.map((x, i) => `${i + POINTS - values.length},${(40 - (x / max) * 38 - 1).toFixed(1)}`).join(" "),
      );
    },
  };
}

/** `#/server`. */
export async function serverPage(view) {
  const info = await call("/console/api/info");
  const metricsBox = h("div");
  const charts = {
    accepted: chart("Accepted", "/s"),
    delivered: chart("Delivered", "/s"),
    retried: chart("Retried", "/s"),
    backlog: chart("Due backlog", "messages"),
  };
  let before = null;
  let shown = false;
  const tick = async () => {
    let text;
    try {
      text = await call("/metrics", { raw: true });
    } catch (e) {
      if (e.status === 401 || e.status === 404) {
        fill(metricsBox, h("p", { class: "muted" }, "The metrics are not open to this token (on qstash serve: --metrics-token)."));
        return;
      }
      throw e;
    }
    if (!shown) {
      shown = true;
      fill(metricsBox, h("div", { class: "charts" }, Object.values(charts).map((c) => c.fig)));
    }
    const now = {
      t: performance.now(),
      accepted: sample(text, "qstash_messages_accepted_total") ?? 0,
      delivered: sample(text, "qstash_deliveries_delivered_total") ?? 0,
      retried: sample(text, "qstash_deliveries_retried_total") ?? 0,
    };
    if (before) {
      const secs = Math.max(0.001, (now.t - before.t) / 1000);
      for (const k of ["accepted", "delivered", "retried"]) charts[k].push(Math.max(0, (now[k] - before[k]) / secs));
    }
    charts.backlog.push(sample(text, "qstash_due_backlog") ?? 0);
    before = now;
  };
  fill(
    view,
    h("h1", {}, "Server"),
    facts([
      ["Version", info.version],
      ["Store", info.store ?? "not described"],
      ...(info.tenants === undefined ? [] : [["Tenants", String(info.tenants)]]),
      ["Console", "this tenant's work only, read through the API with its token"],
    ]),
    h("h2", {}, "Throughput"),
    metricsBox,
  );
  live(tick, 2000);
}
