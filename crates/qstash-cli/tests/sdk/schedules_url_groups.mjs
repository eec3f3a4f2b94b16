// Every method of the official SDK's `client.schedules` and `client.urlGroups`, against the
// server at QSTASH_URL; throws (non-zero exit) on the first answer that is not as expected.
import { Client } from "@upstash/qstash";

const client = new Client({ baseUrl: process.env.QSTASH_URL, token: process.env.QSTASH_TOKEN });
const check = (cond, what) => {
  if (!cond) throw new Error(`not as expected: ${what}`);
};
const dest = process.env.DEST;

// URL groups.
await client.urlGroups.addEndpoints({
  name: "sdk-group",
  endpoints: [{ url: `${dest}/a` }, { name: "b", url: `${dest}/b` }],
});
let group = await client.urlGroups.get("sdk-group");
check(group.name === "sdk-group", `get name ${JSON.stringify(group)}`);
check(group.endpoints.length === 2 && group.endpoints[1].name === "b", "get endpoints");
check(group.createdAt > 0 && group.updatedAt >= group.createdAt, "get times");
const groups = await client.urlGroups.list();
check(groups.length === 1 && groups[0].name === "sdk-group", "list");
const published = await client.publish({ urlGroup: "sdk-group", body: "fan out" });
check(Array.isArray(published) && published.length === 2, `publish ${JSON.stringify(published)}`);
check(published.every((p) => p.messageId.startsWith("msg_") && p.url.startsWith(dest)), "publish answers");
await client.urlGroups.removeEndpoints({ name: "sdk-group", endpoints: [{ name: "b" }] });
group = await client.urlGroups.get("sdk-group");
check(group.endpoints.length === 1 && group.endpoints[0].url === `${dest}/a`, "removeEndpoints");

// Schedules.
const { scheduleId } = await client.schedules.create({
  destination: `${dest}/s`,
  cron: "*/10 * * * *",
  body: "tick",
  retries: 2,
  delay: 5,
  callback: `${dest}/cb`,
  headers: { "X-Custom": "1" },
});
check(scheduleId.startsWith("scd_"), `create ${scheduleId}`);
const { scheduleId: named } = await client.schedules.create({
  destination: "sdk-group",
  cron: "CRON_TZ=Europe/Paris 0 9 * * MON",
  scheduleId: "sdk-named",
});
check(named === "sdk-named", "create with an id");
let s = await client.schedules.get(scheduleId);
check(s.scheduleId === scheduleId && s.cron === "*/10 * * * *", `get ${JSON.stringify(s)}`);
check(s.destination === `${dest}/s` && s.method === "POST" && s.body === "tick", "get request");
check(s.retries === 2 && s.delay === 5 && s.callback === `${dest}/cb`, "get options");
check(s.isPaused === false && s.createdAt > 0, "get state");
const list = await client.schedules.list();
check(list.length === 2 && list.some((x) => x.scheduleId === "sdk-named" && x.destination === "sdk-group"), "list");
await client.schedules.pause({ schedule: scheduleId });
s = await client.schedules.get(scheduleId);
check(s.isPaused === true, "pause");
await client.schedules.resume({ schedule: scheduleId });
s = await client.schedules.get(scheduleId);
check(s.isPaused === false, "resume");
await client.schedules.delete(scheduleId);
await client.schedules.delete("sdk-named");
check((await client.schedules.list()).length === 0, "delete");
let missing = false;
try {
  await client.schedules.get(scheduleId);
} catch {
  missing = true;
}
check(missing, "a deleted schedule is not found");
await client.urlGroups.delete("sdk-group");
check((await client.urlGroups.list()).length === 0, "urlGroups.delete");
console.log("ok");
