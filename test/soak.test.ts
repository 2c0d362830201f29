// The whole app (main.ts) in the real XS engine against the OneNET emulator, shortened from the
// `npm run soak` run (tools/soak/soak.ts): 26 virtual days of 600 s reports, the board's tick started
// 6 h before its sign flip (2^31 ms) so the run crosses the flip and, 24.9 days later, the wrap
// (2^32 ms), through Wi-Fi drops, the platform dropping the device, broker restarts, a 12-hour
// outage, refused logins, a broker that sends CONNACK twice [MQTT-3.2.0-1: one CONNACK], a refused
// subscription (SUBACK 0x80), flash failing, three boots on the same flash, and hostile downlinks
// (10,000-deep JSON, a 100 KB PUBLISH, invalid UTF-8 [MQTT-1.5.3-1], 1,000 sets in a second,
// 200-digit ids, params ["toString"], __proto__). Each check is one subtest named for what must hold.
import { test } from "node:test";
import assert from "node:assert/strict";
import { minDays, runSoak } from "../tools/soak/soak.ts";

const DAYS = minDays();
const INTERVAL = 600;

// Checks that fail on this branch because of firmware defects; they still run and print their
// detail, as TODO. Delete an entry once its fix is merged (a fixed check then guards the fix).
const CLIENT_CLOCK = "mqtt/client.ts gives the session raw Time.ticks: past the sign flip a deadline is negative, read as 'none' (fix: wrap-safe Uptime in mqtt/client)";
const KNOWN: ReadonlyMap<string, string> = new Map([
  [
    "readings are lost only while the outbox is full in the 12-hour outage",
    "drivers/board.ts: uptime = (Time.ticks - start) / 1000 goes negative at the sign flip, so every report after it is refused locally (uptime out of range)",
  ],
  ["connected across the boot 1 sign flip with a packet at least every keepalive (300 s)", `no PINGREQ after the flip: ${CLIENT_CLOCK}`],
  ["connected across the boot 1 wrap with a packet at least every keepalive (300 s)", `offline since a reconnect after the flip never came: ${CLIENT_CLOCK}`],
  ["each reconnect comes when the backoff said, across the flip and the wrap too", CLIENT_CLOCK],
  ["logins refused (after the sign flip): refused logins back off", `not exercised, the device is offline then: ${CLIENT_CLOCK}`],
  ["logins refused (after the wrap): refused logins back off", `not exercised, the device is offline then: ${CLIENT_CLOCK}`],
  ["the device answers get and set at the end", `offline since the broker outage across boot 3's flip: ${CLIENT_CLOCK}`],
  ["broker sends CONNACK twice: a connection that never proves itself does not reset the backoff", "mqtt/session.ts resets the backoff at every CONNACK (fix: reset only after a connection proves itself)"],
  ["at most 3 logins in any 5 s (the platform's limit)", "no login rate limit in mqtt/session.ts (fix: login rate limit)"],
  ["flash writes within budget (only what is queued offline, and interval saves)", "mqtt/outbox.ts writes every QoS 1 message to flash, online too (fix: outbox that does not write flash while online)"],
  [
    "after a refused subscription (SUBACK 0x80) the device subscribes again and answers get",
    `mqtt/session.ts forgets a refused subscription for good (fix: SUBACK 0x80 retry); and ${CLIENT_CLOCK}`,
  ],
]);

test(`soak: ${DAYS} virtual days at ${INTERVAL} s across the tick's sign flip and wrap`, { timeout: 600_000 }, async (t) => {
  const started = performance.now();
  const { checks, figures } = await runSoak({ days: DAYS, interval: INTERVAL });
  t.diagnostic(`ran ${DAYS} virtual days in ${((performance.now() - started) / 1000).toFixed(1)} s of real time`);
  t.diagnostic(`figures ${JSON.stringify(figures)}`);
  assert.ok(checks.length >= 20, "the soak ran its checks");
  for (const check of checks) {
    const todo = KNOWN.get(check.name);
    await t.test(check.name, todo === undefined ? {} : { todo }, () => {
      assert.ok(check.ok, check.detail);
    });
  }
});
