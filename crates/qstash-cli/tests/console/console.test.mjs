// The console in a real browser: the system Chromium driven by playwright-core, axe-core for
// accessibility. Started by tests/console.rs, which runs `qstash dev` and `qstash serve
// --console` with two tenants and passes (environment):
//   CONSOLE_CHROMIUM      the Chromium executable
//   CONSOLE_DEV_URL       qstash dev's base URL      CONSOLE_DEV_TOKEN   its token
//   CONSOLE_SERVE_URL     qstash serve's base URL    CONSOLE_TENANT_A, CONSOLE_TENANT_B
//   CONSOLE_SIGNING_KEYS  dev's current and next signing keys, comma-separated
//   CONSOLE_WORKFLOW_DIR  examples/workflow (its npm packages installed)
//   CONSOLE_SCREENSHOTS   where the screenshots go
// Any failed check throws: the process exits non-zero and the Rust test fails.

import { spawn } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run this through tests/console.rs)`);
  return v;
};
const DEV = env("CONSOLE_DEV_URL");
const DEV_TOKEN = env("CONSOLE_DEV_TOKEN");
const SERVE = env("CONSOLE_SERVE_URL");
const [TENANT_A, TENANT_B] = [env("CONSOLE_TENANT_A"), env("CONSOLE_TENANT_B")];
const [CURRENT_KEY, NEXT_KEY] = env("CONSOLE_SIGNING_KEYS").split(",");
const SHOTS = env("CONSOLE_SCREENSHOTS");
mkdirSync(SHOTS, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Calls a server's API. */
async function api(base, token, path, { method = "GET", headers = {}, body } = {}) {
  const r = await fetch(base + path, { method, headers: { Authorization: `Bearer ${token}`, ...headers }, body });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// --- Receivers: the example workflow endpoint, and a destination that fails until told not to.
const children = [];
process.on("exit", () => children.forEach((c) => c.kill()));

let flakyOk = false;
const receiver = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    if (req.url.startsWith("/flaky")) {
      res.writeHead(flakyOk ? 200 : 500, { "Content-Type": "application/json" });
      res.end(JSON.stringify(flakyOk ? { ok: true } : { error: "the flaky destination is down" }));
    } else {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("ok");
    }
  });
});
await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
const RECEIVER = `http://127.0.0.1:${receiver.address().port}`;

const wfPort = await new Promise((r) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => r(p));
  });
});
const wfEnv = { ...process.env, PORT: String(wfPort), QSTASH_URL: DEV, QSTASH_TOKEN: DEV_TOKEN, QSTASH_CURRENT_SIGNING_KEY: CURRENT_KEY, QSTASH_NEXT_SIGNING_KEY: NEXT_KEY };
const wf = spawn(process.execPath, ["server.mjs"], { cwd: env("CONSOLE_WORKFLOW_DIR"), env: wfEnv, stdio: ["ignore", "ignore", "inherit"] });
children.push(wf);
const WORKFLOW = `http://127.0.0.1:${wfPort}/workflow`;
await until("the workflow endpoint", () => fetch(`http://127.0.0.1:${wfPort}/health`).then((r) => r.ok, () => false));

// --- The browser, with every console error and uncaught exception recorded.
const browser = await chromium.launch({ executablePath: env("CONSOLE_CHROMIUM"), headless: true, args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
const page = await context.newPage();
const problems = [];
// Answers the test provokes on purpose (another tenant's dead letter, metrics closed on serve).
const expected = [];
page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
page.on("console", (m) => {
  if (m.type() !== "error") return;
  const where = m.location()?.url ?? "";
  if (expected.some((e) => where.startsWith(e))) return;
  problems.push(`console error: ${m.text()} (${where})`);
});

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Runs axe-core on the page: no critical or serious violations. */
async function accessible(name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "critical" || v.impact === "serious");
  for (const v of bad) console.log(`axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes)`);
  check(bad.length === 0, `no critical or serious accessibility violation on ${name}`);

}

async function login(base, token) {
  await page.goto(`${base}/console/`);
  // A fresh login: the token kept by an earlier one in this tab is forgotten.
  await page.evaluate(() => sessionStorage.clear());
  await page.reload();
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("nav a[aria-current=page]").waitFor();
}

// --- 1. Login page, then the runs list; a run triggered now appears without a reload.
await page.goto(`${DEV}/console/`);
await page.getByLabel("API token").waitFor();
await shot("01-login");
await accessible("login");
await login(DEV, DEV_TOKEN);
await page.getByRole("heading", { name: "Runs" }).waitFor();
const loadsBefore = await page.evaluate(() => performance.getEntriesByType("navigation").length);
const marker = await page.evaluate(() => (window.__sameDocument = Math.random()));

const trigger = await api(DEV, DEV_TOKEN, `/v2/trigger/${WORKFLOW}`, {
  method: "POST",
  headers: { "Content-Type": "application/json", "Upstash-Label": "console-test" },
  body: JSON.stringify({ n: 3, tag: "console", sleep: 1 }),
});
const runId = trigger.workflowRunId;
const runLink = page.getByRole("link", { name: runId });
await runLink.waitFor({ timeout: 15_000 });
await page.locator("#runs-list tr", { hasText: runId }).getByText("RUN_SUCCESS").waitFor({ timeout: 60_000 });
check((await page.evaluate(() => window.__sameDocument)) === marker, "the run appeared without a reload");
check((await page.evaluate(() => performance.getEntriesByType("navigation").length)) === loadsBefore, "no navigation");
await shot("02-runs");
await accessible("runs");

// --- 2. The run's page: every step with its output, as a timeline.
await runLink.click();
await page.getByRole("heading", { name: `Run ${runId}` }).waitFor();
const steps = page.locator("ol.timeline > li");
await until("the run's steps", async () => (await steps.count()) >= 6);
const names = await page.locator(".step-name").allTextContents();
for (const name of ["init", "double", "add-ten", "pause", "describe", "echo"]) {
  check(names.includes(name), `step ${name} is shown (shown: ${names.join(", ")})`);
}
const outputOf = async (name) => (await page.locator("ol.timeline > li", { has: page.locator(".step-name", { hasText: new RegExp(`^${name}$`) }) }).locator("pre").allTextContents()).join("\n");
check((await outputOf("double")).trim() === "6", "double's output is 6");
check((await outputOf("add-ten")).trim() === "16", "add-ten's output is 16");
check((await outputOf("describe")).includes("console:16"), "describe's output");
const echoOut = await outputOf("echo");
check(echoOut.includes('"status": 201'), `echo's output is the call's answer, pretty-printed: ${echoOut}`);
check((await outputOf("init")).includes('"tag": "console"'), "the initial payload, pretty-printed");
check(await page.locator(".bar.gap").count() >= 1, "the sleep is drawn as a gap");
await page.getByText("RUN_SUCCESS").first().waitFor();
await shot("03-run");
await accessible("run");

// --- 2b. A step that fails before it succeeds shows its failed attempts.
const FEATURES = WORKFLOW.replace(/\/workflow$/, "/features");
const flakyRun = await api(DEV, DEV_TOKEN, `/v2/trigger/${FEATURES}`, {
  method: "POST",
  headers: { "Content-Type": "application/json", "Upstash-Retries": "5", "Upstash-Retry-Delay": "300" },
  body: JSON.stringify({ tag: "retry", failUntil: "console-flag" }),
});
// The link form qstash dev --demo prints: it logs in and opens the run's page.
await page.evaluate(() => sessionStorage.clear());
await page.goto(`${DEV}/console/#token=${encodeURIComponent(DEV_TOKEN)}&then=/runs/${flakyRun.workflowRunId}`);
await page.reload();
await page.getByRole("heading", { name: `Run ${flakyRun.workflowRunId}` }).waitFor();
await until("a failed attempt of the flaky step", async () => {
  const ev = await api(DEV, DEV_TOKEN, `/v2/events?state=RETRY`);
  return ev.events.length > 0;
});
await fetch(FEATURES.replace(/\/features$/, "/flags/console-flag"), { method: "POST" });
await page.getByText("RUN_SUCCESS").first().waitFor({ timeout: 30_000 });
const flakyStep = page.locator("ol.timeline > li", { has: page.locator(".step-name", { hasText: /^flaky$/ }) });
await flakyStep.getByText(/failed attempts? before/).waitFor({ timeout: 10_000 });
check((await flakyStep.locator("ul.retries li").count()) >= 1, "the flaky step lists its failed attempts");
check((await flakyStep.locator("pre").textContent()).includes("flaky:retry"), "the flaky step's output");
await shot("03b-run-retries");

// --- 2c. A failed run is restarted from its page.
const failedRun = await api(DEV, DEV_TOKEN, `/v2/trigger/${WORKFLOW}`, {
  method: "POST",
  headers: { "Content-Type": "application/json", "Upstash-Retries": "0", "Upstash-Label": "will-fail" },
  body: JSON.stringify({ n: 4, fail: true }),
});
await page.goto(`${DEV}/console/#/runs/${failedRun.workflowRunId}`);
await page.getByText("RUN_FAILED").first().waitFor({ timeout: 30_000 });
await page.getByRole("button", { name: "Resume run" }).waitFor();
await page.getByRole("button", { name: "Restart run" }).click();
const restartedId = await until("the restarted run's page", async () => {
  const hash = await page.evaluate(() => location.hash);
  const id = decodeURIComponent(hash.slice("#/runs/".length));
  return hash.startsWith("#/runs/wfr_") && id !== failedRun.workflowRunId ? id : null;
});
await page.getByRole("heading", { name: `Run ${restartedId}` }).waitFor();
const restarted = await api(DEV, DEV_TOKEN, `/v2/workflows/logs?workflowRunId=${restartedId}`);
check(restarted.runs.length === 1, "the restart is a new run of this tenant");

// --- 3. A failing message lands in the DLQ page; its retry button makes it succeed.
const failing = await api(DEV, DEV_TOKEN, `/v2/publish/${RECEIVER}/flaky`, {
  method: "POST",
  headers: { "Content-Type": "application/json", "Upstash-Retries": "0", "Upstash-Label": "flaky" },
  body: JSON.stringify({ order: 42 }),
});
await page.locator("nav").getByRole("link", { name: "DLQ", exact: true }).click();
await page.getByRole("heading", { name: "Dead-letter queue" }).waitFor();
const dlqRow = page.locator("tr", { hasText: `${RECEIVER}/flaky` });
await dlqRow.waitFor({ timeout: 30_000 });
await shot("04-dlq");
await accessible("dlq");
await dlqRow.getByRole("link").first().click();
await page.getByRole("heading", { name: /^Dead letter / }).waitFor();
check((await page.getByLabel("Request body").textContent()).includes('"order": 42'), "the dead letter's request body");
check((await page.getByLabel("Response body").textContent()).includes("the flaky destination is down"), "the dead letter's response body");
await shot("05-dlq-entry");
await accessible("dlq entry");
await page.getByRole("link", { name: "← DLQ" }).click();
await dlqRow.waitFor();
flakyOk = true;
await dlqRow.getByRole("button", { name: "Retry" }).click();
const retried = await until("the retry's message id", async () => {
  const t = await page.locator("#status").textContent();
  return t.match(/Retried as (msg_\S+?)\.?$/)?.[1];
});
check(retried !== failing.messageId, "the retry is a new message");
await until("the retried message delivered", async () => {
  const ev = await api(DEV, DEV_TOKEN, `/v2/events?messageId=${retried}`);
  return ev.events.some((e) => e.state === "DELIVERED");
});
await until("the dead letter gone from the list", async () => (await dlqRow.count()) === 0);
// Bulk: every dead letter left (the failed runs') selected and deleted at once.
// (The failed run and its restart, which fails too, each left one.)
const rowsLeft = await until("both failed runs' dead letters", async () => {
  const l = (await api(DEV, DEV_TOKEN, "/v2/dlq")).messages.length;
  return l >= 2 && (await page.locator("main tbody tr").count()) === l ? l : null;
});
await page.getByLabel("Select all").check();
await page.getByText(`${rowsLeft} selected`).waitFor();
await page.getByRole("button", { name: "Delete selected" }).click();
await page.getByText("The DLQ is empty.").waitFor({ timeout: 10_000 });
check((await api(DEV, DEV_TOKEN, "/v2/dlq")).messages.length === 0, "the server's DLQ is empty");

// --- 4. Messages: the event stream, and a message cancelled from the console.
const delayed = await api(DEV, DEV_TOKEN, `/v2/publish/${RECEIVER}/later`, {
  method: "POST",
  headers: { "Upstash-Delay": "1h", "Upstash-Label": "to-cancel" },
  body: "later",
});
await page.locator("nav").getByRole("link", { name: "Messages", exact: true }).click();
await page.getByRole("heading", { name: "Messages" }).waitFor();
await page.locator("#events-list").getByRole("link", { name: delayed.messageId }).first().waitFor();
await page.getByLabel("Label").fill("to-cancel");
await until("the label filter", async () => {
  const rows = await page.locator("#events-list tbody tr").allTextContents();
  return rows.length > 0 && rows.every((r) => r.includes("to-cancel"));
});
await shot("06-events");
await accessible("events");
await page.locator("#events-list").getByRole("link", { name: delayed.messageId }).first().click();
await page.getByRole("heading", { name: `Message ${delayed.messageId}` }).waitFor();
await page.getByRole("button", { name: "Cancel message" }).click();
await page.locator("table").getByText("CANCELLED").first().waitFor({ timeout: 15_000 });
const cancelled = await api(DEV, DEV_TOKEN, `/v2/events?messageId=${delayed.messageId}`);
check(cancelled.events.some((e) => e.state === "CANCELLED"), "the message is cancelled on the server");
await shot("07-message");
await accessible("message");

// --- 5. Flow-control keys and the server page.
await api(DEV, DEV_TOKEN, `/v2/publish/${RECEIVER}/fc`, {
  method: "POST",
  headers: { "Upstash-Flow-Control-Key": "console-key", "Upstash-Flow-Control-Value": "parallelism=2, rate=10, period=1m" },
  body: "fc",
});
await page.locator("nav").getByRole("link", { name: "Flow control", exact: true }).click();
await page.getByRole("cell", { name: "console-key" }).waitFor({ timeout: 15_000 });
await shot("08-flow-control");
await accessible("flow control");
await page.locator("nav").getByRole("link", { name: "Server", exact: true }).click();
await page.locator("figure.chart").first().waitFor();
await until("two metrics readings", async () => (await page.locator("figure.chart polyline").first().getAttribute("points"))?.includes(" "));
check((await page.locator("main").textContent()).includes("SQLite"), "the store is shown");
await shot("09-server");
await accessible("server");

// --- 6. Keyboard: the sections open with their keys.
await page.locator("body").press("1");
await page.getByRole("heading", { name: "Runs" }).waitFor();

// --- 7. Tenants: A's work is invisible to B, on qstash serve --console.
flakyOk = false;
const aRun = await api(SERVE, TENANT_A, `/v2/trigger/${RECEIVER}/a-workflow`, { method: "POST", headers: { "Upstash-Label": "tenant-a" }, body: "{}" });
const aFailed = await api(SERVE, TENANT_A, `/v2/publish/${RECEIVER}/flaky-a`, { method: "POST", headers: { "Upstash-Retries": "0", "Upstash-Label": "tenant-a" }, body: "a" });
await api(SERVE, TENANT_A, `/v2/publish/${RECEIVER}/flaky`, { method: "POST", headers: { "Upstash-Retries": "0", "Upstash-Flow-Control-Key": "tenant-a-key", "Upstash-Flow-Control-Value": "parallelism=1" }, body: "a" });
const aDlq = await until("A's dead letters", async () => {
  const l = await api(SERVE, TENANT_A, "/v2/dlq");
  return l.messages.length >= 1 ? l.messages : null;
});
await login(SERVE, TENANT_B);
await page.getByText("No runs yet").waitFor();
await page.locator("nav").getByRole("link", { name: "Messages", exact: true }).click();
await page.getByText("No events yet").waitFor();
await page.locator("nav").getByRole("link", { name: "DLQ", exact: true }).click();
await page.getByText("The DLQ is empty.").waitFor();
await page.locator("nav").getByRole("link", { name: "Flow control", exact: true }).click();
await page.getByText("No flow-control keys yet").waitFor();
await shot("10-tenant-b");
// B asks for A's run and dead letter by id: not found (404 answers expected here).
expected.push(`${SERVE}/v2/dlq/`, `${SERVE}/metrics`);
await page.goto(`${SERVE}/console/#/runs/${aRun.workflowRunId}`);
await page.getByRole("heading", { name: "Run not found" }).waitFor();
await page.goto(`${SERVE}/console/#/dlq/${aDlq[0].dlqId}`);
await page.getByRole("alert").filter({ hasText: "not found" }).waitFor();
const text = await page.locator("body").textContent();
check(!text.includes(aFailed.messageId), "B never sees A's message id");
// The same pages with A's token show A's work (the check above could fail).
await login(SERVE, TENANT_A);
await page.getByRole("link", { name: aRun.workflowRunId }).waitFor();
await page.locator("nav").getByRole("link", { name: "DLQ", exact: true }).click();
await page.getByRole("link", { name: aDlq[0].dlqId }).waitFor();
await page.locator("nav").getByRole("link", { name: "Server", exact: true }).click();
await page.getByText("The metrics are not open to this token").waitFor();
await shot("11-tenant-a");

await browser.close();
receiver.close();
check(problems.length === 0, `no errors in the browser console:\n${problems.join("\n")}`);
console.log(`console browser test passed; screenshots in ${SHOTS}`);
process.exit(0);
