// The peers of the load benchmark (`load --peers`, see benches/src/peers.rs): BullMQ on Redis
// and graphile-worker on PostgreSQL, measured as the server is measured, printed as one line
// of JSON on stdout.
//
//   node bench.mjs bullmq redis://127.0.0.1:PORT [options]
//   node bench.mjs graphile postgres://…/db [options]
//   node bench.mjs graphile-tuned postgres://…/db [options]
//
// options: --seconds S (accept phase), --warmup S, --latency-seconds S, --backlog N,
//          --producers N (64), --concurrency N (the worker's jobs in flight)
//
// 1. accepts/s: `--producers` loops each adding one job at a time (BullMQ `queue.add`,
//    graphile-worker `addJob` through a pool of as many connections), every job due in a day,
//    counted for `--seconds` after `--warmup`.
// 2. run/s: `--backlog` jobs due now (added in bulk, not timed), then a worker with a no-op
//    task starts; jobs over the time from its start to the last job's completion.
// 3. add→start latency at 100 jobs/s: a worker running, one job added every 10 ms with the
//    adding instant in its data; the no-op task records how long ago that was.

import { performance } from "node:perf_hooks";

const [peer, url, ...rest] = process.argv.slice(2);
const opts = {
  seconds: 10,
  warmup: 1,
  "latency-seconds": 10,
  backlog: 100000,
  producers: 64,
  concurrency: 64,
};
for (let i = 0; i < rest.length; i += 2) {
  const name = rest[i].replace(/^--/, "");
  if (!(name in opts) || rest[i + 1] === undefined) {
    console.error(`bench.mjs: unknown option or missing value: ${rest[i]}`);
    process.exit(2);
  }
  opts[name] = Number(rest[i + 1]);
}
const DAY_MS = 24 * 3600 * 1000;
const PAYLOAD = { order: 42, items: ["a", "b", "c"] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `producers` loops calling `addOne` for warmup + seconds; the rate after the warmup. */
async function closedLoop(addOne) {
  let counting = false;
  let count = 0;
  let stop = false;
  const loops = [];
  for (let i = 0; i < opts.producers; i++) {
    loops.push(
      (async () => {
        while (!stop) {
          await addOne();
          if (counting) count++;
        }
      })(),
    );
  }
  await sleep(opts.warmup * 1000);
  counting = true;
  const start = performance.now();
  await sleep(opts.seconds * 1000);
  counting = false;
  const elapsed = (performance.now() - start) / 1000;
  stop = true;
  await Promise.all(loops);
  return count / elapsed;
}

/** Adds one job every 10 ms for `latency-seconds`; resolves with the recorded latencies. */
async function paced(addOne, latencies) {
  const n = Math.round(opts["latency-seconds"] * 100);
  const start = performance.now();
  const adds = [];
  for (let i = 0; i < n; i++) {
    const due = start + i * 10;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    adds.push(addOne(performance.now()));
  }
  await Promise.all(adds);
  const deadline = performance.now() + 10000;
  while (latencies.length < n && performance.now() < deadline) await sleep(20);
  return summary(latencies);
}

function summary(latencies) {
  const s = [...latencies].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN, count: s.length };
}

/** Resolves when `done()` has been true; polls every 5 ms. */
async function until(done, what) {
  const deadline = performance.now() + 600000;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function bullmq() {
  const { Queue, Worker } = await import("bullmq");
  const u = new URL(url);
  const connection = { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
  const quiet = (w) => w.on("error", (e) => console.error(`bullmq: ${e}`));

  const accepts = new Queue("accepts", { connection });
  const acceptRate = await closedLoop(() => accepts.add("job", PAYLOAD, { delay: DAY_MS }));
  await accepts.close();

  const drain = new Queue("drain", { connection });
  for (let done = 0; done < opts.backlog; done += 1000) {
    const n = Math.min(1000, opts.backlog - done);
    await drain.addBulk(Array.from({ length: n }, () => ({ name: "job", data: PAYLOAD })));
  }
  let completed = 0;
  let last = 0;
  const start = performance.now();
  const worker = new Worker("drain", async () => {}, { connection, concurrency: opts.concurrency });
  quiet(worker);
  worker.on("completed", () => {
    completed++;
    last = performance.now();
  });
  await until(() => completed >= opts.backlog, "the backlog");
  const runRate = completed / ((last - start) / 1000);
  await worker.close();
  await drain.close();

  const latencies = [];
  const lq = new Queue("latency", { connection });
  const lw = new Worker(
    "latency",
    async (job) => {
      latencies.push(performance.now() - job.data.t);
    },
    { connection, concurrency: opts.concurrency },
  );
  quiet(lw);
  await lw.waitUntilReady();
  await sleep(200);
  const latency = await paced((t) => lq.add("job", { t }), latencies);
  await lw.close();
  await lq.close();
  return { accepts: acceptRate, run: runRate, backlog: completed, ...latency };
}

async function graphile(tuned) {
  const { run, makeWorkerUtils, Logger } = await import("graphile-worker");
  const pg = (await import("pg")).default;
  const logger = new Logger(() => (level, message) => {
    if (level === "error") console.error(`graphile-worker: ${message}`);
  });
  const pool = new pg.Pool({ connectionString: url, max: opts.producers + opts.concurrency + 4 });
  pool.on("error", (e) => console.error(`graphile-worker pool: ${e}`));
  pool.on("connect", (c) => c.on("error", (e) => console.error(`graphile-worker client: ${e}`)));
  const utils = await makeWorkerUtils({ pgPool: pool, logger });
  await utils.migrate();

  const later = () => new Date(Date.now() + DAY_MS);
  const acceptRate = await closedLoop(() => utils.addJob("accepted", PAYLOAD, { runAt: later() }));

  for (let done = 0; done < opts.backlog; done += 1000) {
    const n = Math.min(1000, opts.backlog - done);
    await utils.addJobs(Array.from({ length: n }, () => ({ identifier: "drain", payload: PAYLOAD })));
  }
  const preset = tuned
    ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } }
    : undefined;
  const base = { pgPool: pool, logger, concurrency: opts.concurrency, noHandleSignals: true, preset };
  let completed = 0;
  let last = 0;
  const start = performance.now();
  const runner = await run({
    ...base,
    taskList: {
      drain: async () => {},
    },
  });
  runner.events.on("job:success", () => {
    completed++;
    last = performance.now();
  });
  await until(() => completed >= opts.backlog, "the backlog");
  const runRate = completed / ((last - start) / 1000);
  await runner.stop();

  const latencies = [];
  const lrunner = await run({
    ...base,
    taskList: {
      latency: async (payload) => {
        latencies.push(performance.now() - payload.t);
      },
    },
  });
  await sleep(200);
  const latency = await paced((t) => utils.addJob("latency", { t }), latencies);
  await lrunner.stop();
  await utils.release();
  await pool.end();
  return { accepts: acceptRate, run: runRate, backlog: completed, ...latency };
}

const figures =
  peer === "bullmq"
    ? await bullmq()
    : peer === "graphile"
      ? await graphile(false)
      : peer === "graphile-tuned"
        ? await graphile(true)
        : (() => {
            console.error("usage: node bench.mjs bullmq|graphile|graphile-tuned URL [options]");
            process.exit(2);
          })();
console.log(JSON.stringify(figures));
process.exit(0);
