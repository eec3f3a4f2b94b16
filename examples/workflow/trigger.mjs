// Starts a run with the SDK's own client (`Client.trigger` of `@upstash/workflow`), which
// publishes the run's Init message through `POST {QSTASH_URL}/v2/batch`.
//
//   node trigger.mjs <workflow url> '<JSON body>' [retries] [retryDelay]
//
// Prints {"workflowRunId": "..."} on stdout. Needs QSTASH_URL and QSTASH_TOKEN.

import { Client } from "@upstash/workflow";

const [url, body = "{}", retries, retryDelay] = process.argv.slice(2);
if (!url) {
  console.error("usage: node trigger.mjs <workflow url> '<JSON body>' [retries] [retryDelay]");
  process.exit(2);
}

const client = new Client({
  baseUrl: process.env.QSTASH_URL,
  token: process.env.QSTASH_TOKEN,
});
const result = await client.trigger({
  url,
  body: JSON.parse(body),
  ...(retries === undefined ? {} : { retries: Number(retries) }),
  ...(retryDelay === undefined ? {} : { retryDelay }),
});
console.log(JSON.stringify(result));
