// A small workflow endpoint made with the official `@upstash/workflow` SDK, served by node:http.
//
//   POST /workflow   the workflow (serve()): steps "double", "add-ten", a sleep "pause", "describe",
//                    and a context.call "echo" to POST /echo
//   POST /echo       a third party: answers 201 {"echo": <value>}
//   GET  /events     what happened so far, as JSON: [{"type": "step"|"failure", "runId", ...}]
//   GET  /health     200 "ok" once listening
//
//   POST /three      the three-step workflow of the runs benchmark (see below)
//   POST /invoker    context.invoke of the workflow beside it: {"target": "three", "n": N}
//   POST /features   a second workflow (serve()) for the other step kinds, see below
//   POST /notify     {"eventId", "eventData"}: the SDK's Client.notify; answers its result
//   POST /flags/NAME sets flag NAME (a "flaky" step of /features fails until it is set)
//   POST /resume     {"dlqId"}: the SDK's Client.dlq.resume; answers its result
//
// Input (JSON): {"n": 3, "tag": "x", "sleep": 1, "fail": false}
//   double   -> n * 2
//   add-ten  -> double + 10          (throws when "fail" is true)
//   pause    -> context.sleep for "sleep" seconds (default 1)
//   describe -> "<tag>:<add-ten>"
//   echo     -> context.call of POST /echo with {"value": <add-ten>}
// The run returns {"result": <describe>, "echoStatus": 201, "echo": <the call's body>}.
//
// /features input (JSON): {"tag": "x", "parallel": 3, "failUntil": "flag", "wait": "event-id",
// "waitTimeout": "30s"}, every key optional:
//   first      -> "first:<tag>"
//   part-i     -> i * i for i < parallel, run in parallel (Promise.all of context.run)
//   flaky      -> "flaky:<tag>"                 (throws while flag "failUntil" is not set)
//   wait       -> context.waitForEvent("wait", <wait>, {timeout: <waitTimeout>})
//   last       -> "last:<tag>"
// It returns {"first", "parts", "flaky", "waited": {"timeout", "eventData"}, "last"}.
//
// Environment: PORT (default 3000), QSTASH_URL, QSTASH_TOKEN, and QSTASH_CURRENT_SIGNING_KEY with
// QSTASH_NEXT_SIGNING_KEY (when both are set, the SDK verifies the signature of every request).
// EVENTS_FILE: when set, every event is also appended to this file as one JSON line.
// It exits when the process that started it is gone (`npm start` runs it with exec).

import { appendFileSync } from "node:fs";
import { createServer } from "node:http";
import { Client, serve } from "@upstash/workflow";

const port = Number(process.env.PORT ?? 3000);
const eventsFile = process.env.EVENTS_FILE;
const events = [];

function record(event) {
  const e = { ...event, at: Date.now() };
  events.push(e);
  if (eventsFile) appendFileSync(eventsFile, JSON.stringify(e) + "\n");
}

const { handler: workflow } = serve(
  async (context) => {
    const input = context.requestPayload ?? {};
    const runId = context.workflowRunId;
    const n = Number(input.n ?? 0);

    const doubled = await context.run("double", () => {
      record({ type: "step", step: "double", runId });
      return n * 2;
    });

    const added = await context.run("add-ten", () => {
      record({ type: "step", step: "add-ten", runId });
      if (input.fail) {
        throw new Error(`add-ten refuses to run for ${n}`);
      }
      return doubled + 10;
    });

    await context.sleep("pause", Number(input.sleep ?? 1));

    const described = await context.run("describe", () => {
      record({ type: "step", step: "describe", runId });
      return `${input.tag ?? "run"}:${added}`;
    });

    // A call to a third party (here this server's /echo) through the QStash server.
    const echoed = await context.call("echo", {
      url: `http://127.0.0.1:${port}/echo`,
      method: "POST",
      body: JSON.stringify({ value: added }),
      headers: { "content-type": "application/json" },
    });

    return { result: described, echoStatus: echoed.status, echo: echoed.body };
  },
  {
    failureFunction: async ({ context, failStatus, failResponse }) => {
      record({
        type: "failure",
        runId: context.workflowRunId,
        failStatus,
        failResponse,
      });
      return `failure handled for ${context.workflowRunId}`;
    },
  },
);

const flags = new Set();

const { handler: features } = serve(async (context) => {
  const input = context.requestPayload ?? {};
  const runId = context.workflowRunId;
  const tag = input.tag ?? "run";
  const step = (name, fn) =>
    context.run(name, () => {
      record({ type: "step", step: name, runId, tag });
      return fn();
    });

  const first = await step("first", () => `first:${tag}`);

  let parts;
  if (input.parallel) {
    const count = Number(input.parallel);
    parts = await Promise.all(
      Array.from({ length: count }, (_, i) => step(`part-${i}`, () => i * i)),
    );
  }

  let flaky;
  if (input.failUntil) {
    flaky = await step("flaky", () => {
      if (!flags.has(input.failUntil)) {
        throw new Error(`flaky waits for flag ${input.failUntil}`);
      }
      return `flaky:${tag}`;
    });
  }

  let waited;
  if (input.wait) {
    const { timeout, eventData } = await context.waitForEvent("wait", input.wait, {
      timeout: input.waitTimeout ?? "30s",
    });
    waited = { timeout, eventData };
  }

  const last = await step("last", () => `last:${tag}`);
  return { first, parts, flaky, waited, last };
});

// /three: the three-step workflow of the runs benchmark (benches/src/runs.rs --endpoints), on
// {"n": N}: double -> 2N, increment -> 2N + 1, describe -> "N -> <increment>"; it returns
// {"n", "result": <increment>, "text": <describe>}.
const { handler: three } = serve(async (context) => {
  const n = Number(context.requestPayload?.n ?? 0);
  const doubled = await context.run("double", () => n * 2);
  const incremented = await context.run("increment", () => doubled + 1);
  const text = await context.run("describe", () => `${n} -> ${incremented}`);
  return { n, result: incremented, text };
});

// /invoker: context.invoke of the workflow served beside it (this URL with its last segment
// replaced by "target", default "three") with {"n": N}; returns {body, isFailed, isCanceled}.
const { handler: invoker } = serve(async (context) => {
  const input = context.requestPayload ?? {};
  return await context.invoke("invoke", {
    workflow: { workflowId: input.target ?? "three" },
    body: { n: Number(input.n ?? 0) },
  });
});

const sdkClient = () =>
  new Client({ baseUrl: process.env.QSTASH_URL, token: process.env.QSTASH_TOKEN });

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString() || "{}");
}

function answerJson(res, status, value) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value ?? null));
}

// node:http -> the fetch-style handler serve() returns, and back.
async function toRequest(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) value.forEach((v) => headers.append(name, v));
    else if (value !== undefined) headers.set(name, value);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(`http://${req.headers.host}${req.url}`, {
    method: req.method,
    headers,
    body: hasBody ? Buffer.concat(chunks) : undefined,
  });
}

async function send(res, response) {
  const headers = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

const server = createServer(async (req, res) => {
  try {
    const path = new URL(req.url, "http://localhost").pathname;
    if (path === "/workflow") {
      await send(res, await workflow(await toRequest(req)));
    } else if (path === "/invoker") {
      await send(res, await invoker(await toRequest(req)));
    } else if (path === "/three") {
      await send(res, await three(await toRequest(req)));
    } else if (path === "/features") {
      await send(res, await features(await toRequest(req)));
    } else if (path === "/notify" && req.method === "POST") {
      const { eventId, eventData } = await readJson(req);
      answerJson(res, 200, await sdkClient().notify({ eventId, eventData }));
    } else if (path.startsWith("/flags/") && req.method === "POST") {
      flags.add(decodeURIComponent(path.slice("/flags/".length)));
      answerJson(res, 200, [...flags]);
    } else if (path === "/resume" && req.method === "POST") {
      const { dlqId } = await readJson(req);
      answerJson(res, 200, await sdkClient().dlq.resume({ dlqId }));
    } else if (path === "/echo" && req.method === "POST") {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const { value } = JSON.parse(Buffer.concat(chunks).toString() || "{}");
      record({ type: "echo", value });
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ echo: value }));
    } else if (path === "/events" && req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(events));
    } else if (path === "/health") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  } catch (err) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(err?.stack ?? err));
  }
});

server.listen(port, "127.0.0.1", () => {
  console.log(`workflow endpoint: http://127.0.0.1:${port}/workflow`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

// The endpoint lives as long as whatever started it (`npm start`, `qstash dev --demo`): when
// that process is gone, even killed with SIGKILL, this one is handed to another parent and
// exits instead of holding its port.
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch (err) {
    if (err.code === "ESRCH") process.exit(0);
  }
}, 500).unref();
