// Flow control: the tenant's keys (`GET /v2/flowControl`) with their live counters.

import { call } from "./api.js";
import { fill, filters, h, live, table, time } from "./ui.js";

const filterValues = { search: "" };

function limit(count, max) {
  return max ? `${count} / ${max}` : `${count} (no limit)`;
}

/** `#/flow-control`. */
export async function flowPage(view) {
  const body = h("div");
  const tick = async () => {
    const keys = await call("/v2/flowControl", { params: filterValues });
    fill(
      body,
      table(
        "Flow-control keys and their counters (live)",
        [
          ["Key", (k) => k.flowControlKey, "mono"],
          ["Waiting", (k) => k.waitListSize, "num"],
          ["In flight / parallelism", (k) => limit(k.parallelismCount, k.parallelismMax), "num"],
          ["Started in window / rate", (k) => limit(k.rateCount, k.rateMax), "num"],
          ["Period", (k) => (k.ratePeriod ? `${k.ratePeriod} s` : "–"), "num"],
          ["Window opened", (k) => (k.ratePeriodStart ? time(k.ratePeriodStart * 1000) : "–")],
        ],
        keys ?? [],
        "No flow-control keys yet: publish with Upstash-Flow-Control-Key and -Value.",
      ),
    );
  };
  fill(view, h("h1", {}, "Flow control"), filters([["search", "Key contains"]], filterValues, tick), body);
  live(tick);
}
