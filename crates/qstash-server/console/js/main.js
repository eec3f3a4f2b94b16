// The console's shell: login, navigation, and the hash router (`#/runs`, `#/runs/ID`, …).
// A new section (schedules, queues, URL groups) is one entry in SECTIONS and one module.

import { call, clearToken, onUnauthorized, setToken, token } from "./api.js";
import { eventsPage, messagePage } from "./events.js";
import { dlqEntryPage, dlqPage } from "./dlq.js";
import { flowPage } from "./flow.js";
import { runPage, runsPage } from "./runs.js";
import { serverPage } from "./server.js";
import { fill, h, say, stopLive } from "./ui.js";

/**
 * The sections, in navigation order: `[path, title, list page, detail page?]`. Sections the
 * server does not have yet are listed without a page (shown as "soon"), so that the
 * navigation keeps its shape when they come.
 */
const SECTIONS = [
  ["runs", "Runs", runsPage, runPage],
  ["events", "Messages", eventsPage, null],
  ["messages", null, null, messagePage],
  ["dlq", "DLQ", dlqPage, dlqEntryPage],
  ["flow-control", "Flow control", flowPage, null],
  ["schedules", "Schedules", null, null],
  ["queues", "Queues", null, null],
  ["url-groups", "URL groups", null, null],
  ["server", "Server", serverPage, null],
];

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const logout = document.getElementById("logout");

function renderNav(active) {
  fill(
    nav,
    SECTIONS.filter(([, title]) => title).map(([path, title, page], i) =>
      page
        ? h("a", { href: `#/${path}`, "aria-current": path === active ? "page" : null, title: `${title} (key ${i + 1})` }, title)
        : h("span", { class: "later", title: `${title}: not in this server yet` }, `${title} (soon)`),
    ),
  );
}

function loginPage(problem) {
  stopLive();
  nav.hidden = true;
  logout.hidden = true;
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in"),
    h("p", {}, "The console reads and acts with a tenant's API token: paste the token the server was started with (qstash dev prints it, and a link that logs in)."),
    h("label", { for: "token" }, "API token", input),
    problem ? h("p", { class: "error", role: "alert" }, problem) : null,
    h("button", { type: "submit" }, "Log in"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      await call("/console/api/info");
      if (!location.hash.startsWith("#/") || location.hash === "#/login") location.hash = "#/runs";
      route();
    } catch (err) {
      clearToken();
      loginPage(err.status === 401 ? "The server does not know this token." : err.message);
    }
  });
  fill(view, form);
  input.focus();
}

/** Shows the page of the current hash. */
async function route() {
  // `#token=…` (printed by qstash dev), optionally `&then=/runs/ID`, logs in once and is
  // removed from the address.
  const m = location.hash.match(/^#token=([^&]+)(?:&then=(\/[^&]*))?$/);
  if (m) {
    setToken(decodeURIComponent(m[1]));
    history.replaceState(null, "", `${location.pathname}#${m[2] ?? "/runs"}`);
  }
  if (!token()) return loginPage();
  const [path, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const section = SECTIONS.find(([p]) => p === (path || "runs"));
  if (!section) {
    location.hash = "#/runs";
    return;
  }
  stopLive();
  nav.hidden = false;
  logout.hidden = false;
  const [name, , list, detail] = section;
  renderNav(name === "messages" ? "events" : name);
  const id = rest.map(decodeURIComponent).join("/");
  const page = id && detail ? detail : list;
  if (!page) {
    location.hash = "#/runs";
    return;
  }
  fill(view);
  try {
    await page(view, id);
  } catch (e) {
    fill(view, h("p", { class: "error", role: "alert" }, e.message));
  }
  view.focus({ preventScroll: true });
}

onUnauthorized(() => {
  clearToken();
  loginPage("The token was refused: log in again.");
});

logout.addEventListener("click", () => {
  clearToken();
  location.hash = "#/login";
  loginPage();
  say("Logged out.");
});

// Keys: 1…5 open the sections, `/` goes to the page's first filter (not while typing).
document.addEventListener("keydown", (e) => {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName);
  if (typing || e.ctrlKey || e.metaKey || e.altKey || !token()) return;
  const pages = SECTIONS.filter(([, title, page]) => title && page);
  const n = Number(e.key);
  if (n >= 1 && n <= pages.length) {
    location.hash = `#/${pages[n - 1][0]}`;
  } else if (e.key === "/") {
    const first = view.querySelector("form.filters input, form.filters select");
    if (first) {
      e.preventDefault();
      first.focus();
    }
  }
});

window.addEventListener("hashchange", route);
route();
