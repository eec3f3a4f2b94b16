// Small DOM helpers shared by the pages: an element builder (text is always text, never
// HTML), formatting of times and states, tables, and the live refresh of a page.

/** An element: `h("a", {href: "#/runs", class: "x"}, "text", child…)`. */
export function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "polyline", "line", "rect"].includes(tag);
  const el = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  // A block that may scroll is reachable with the keyboard.
  if (tag === "pre" && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "0");
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const c of children.flat(Infinity)) {
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A time in ms since the epoch, as local date and time. */
export function time(ms) {
  if (!ms) return "–";
  const d = new Date(Number(ms));
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

/** A duration in ms, short (`850 ms`, `3.2 s`, `4 m 05 s`). */
export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "–";
  ms = Math.max(0, Math.round(ms));
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  if (m < 60) return `${m} m ${String(s).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} m`;
}

/** A value as readable text: JSON (also JSON inside a string) pretty-printed. */
export function pretty(value) {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") {
    try {
      const parsed = JSON.parse(value);
      if (typeof parsed === "object" && parsed !== null) return JSON.stringify(parsed, null, 2);
    } catch {
      return value;
    }
    return value;
  }
  return JSON.stringify(value, null, 2);
}

const TONES = {
  ok: ["DELIVERED", "RUN_SUCCESS", "STEP_SUCCESS", "CALLBACK_SUCCESS"],
  bad: ["FAILED", "ERROR", "RUN_FAILED", "STEP_FAILED", "CALLBACK_FAIL"],
  warn: ["RETRY", "STEP_RETRY", "CANCEL_REQUESTED", "CANCELLED", "RUN_CANCELED"],
  info: ["ACTIVE", "CREATED", "RUN_STARTED"],
};

/** A state as a coloured badge (its name is its text: colour is never the only signal). */
export function badge(state) {
  const tone = Object.keys(TONES).find((t) => TONES[t].includes(state)) ?? "";
  return h("span", { class: `badge ${tone}` }, state ?? "–");
}

/**
 * A table: `columns` are `[heading, (row) => cell, className?]`; an empty list shows `empty`.
 */
export function table(caption, columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map(([head]) => h("th", { scope: "col" }, head)))),
    h(
      "tbody",
      {},
      rows.map((r) => h("tr", {}, columns.map(([, cell, cls]) => h("td", { class: cls }, cell(r))))),
    ),
  );
}

/** A `<dl>` of facts: `[[term, value], …]` (rows with an empty value are left out). */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

/** Shows a short message in the status area for a few seconds. */
export function say(message) {
  const el = document.getElementById("status");
  fill(el, message);
  clearTimeout(say.timer);
  say.timer = setTimeout(() => fill(el), 6000);
}

/** The page's live refresh: the one timer of the open page (cleared when the page changes). */
let current = null;

/**
 * Runs `tick` now and every `ms` while the page is open and the tab visible: one request per
 * interval and page, none while hidden. A failing tick is shown, and the walk goes on.
 */
export function live(tick, ms = 2500) {
  stopLive();
  const run = { stopped: false, timer: null };
  current = run;
  const step = async () => {
    if (run.stopped) return;
    if (document.visibilityState === "visible") {
      try {
        await tick();
        fill(document.getElementById("live"), `live · updated ${new Date().toLocaleTimeString()}`);
      } catch (e) {
        if (!run.stopped) fill(document.getElementById("live"), `live · ${e.message}`);
      }
    }
    if (!run.stopped) run.timer = setTimeout(step, ms);
  };
  step();
}

/** Stops the open page's refresh. */
export function stopLive() {
  if (current) {
    current.stopped = true;
    clearTimeout(current.timer);
    current = null;
  }
}

/** The filter form of a list page: its fields as `[name, label, options?]`. */
export function filters(fields, values, onChange) {
  const form = h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() });
  for (const [name, label, options] of fields) {
    const id = `filter-${name}`;
    const input = options
      ? h("select", { id, name }, options.map((o) => h("option", { value: o, selected: values[name] === o }, o || "any")))
      : h("input", { id, name, type: "search", value: values[name] ?? "", autocomplete: "off" });
    input.addEventListener(options ? "change" : "input", () => {
      values[name] = input.value.trim();
      onChange();
    });
    form.append(h("label", { for: id }, label, input));
  }
  return form;
}

/** A button that runs `action` once at a time and shows its outcome. */
export function action(label, fn, cls = "") {
  const b = h("button", { type: "button", class: cls });
  b.textContent = label;
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      const message = await fn();
      if (message) say(message);
    } catch (e) {
      say(`${label} failed: ${e.message}`);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}
