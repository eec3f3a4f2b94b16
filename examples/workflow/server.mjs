// A small workflow endpoint made with the official `@upstash/workflow` SDK, served by node:http.
//
//   POST /workflow   the workflow (serve()): steps "double", "add-ten", a sleep "pause", "describe"
//   GET  /events     what happened so far, as JSON: [{"type": "step"|"failure", "runId", ...}]
//   GET  /health     200 "ok" once listening
//
// Input (JSON): {"n": 3, "tag": "x", "sleep": 1, "fail": false}
//   double   -> n * 2
//   add-ten  -> double + 10          (throws when "fail" is true)
//   pause    -> context.sleep for "sleep" seconds (default 1)
//   describe -> "<tag>:<add-ten>"
// The run returns {"result": <describe>}.
//
// Environment: PORT (default 3000), QSTASH_URL, QSTASH_TOKEN, and QSTASH_CURRENT_SIGNING_KEY with
// QSTASH_NEXT_SIGNING_KEY (when both are set, the SDK verifies the signature of every request).
// EVENTS_FILE: when set, every event is also appended to this file as one JSON line.

import { appendFileSync } from "node:fs";
import { createServer } from "node:http";
import { serve } from "@upstash/workflow";

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

    return { result: described };
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
    } else if (path === "/events" && req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(events));
    } else if (path === "/health") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
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
