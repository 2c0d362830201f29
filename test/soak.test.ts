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

test(`soak: ${DAYS} virtual days at ${INTERVAL} s across the tick's sign flip and wrap`, { timeout: 600_000 }, async (t) => {
  const started = performance.now();
  const { checks, figures } = await runSoak({ days: DAYS, interval: INTERVAL });
  t.diagnostic(`ran ${DAYS} virtual days in ${((performance.now() - started) / 1000).toFixed(1)} s of real time`);
  t.diagnostic(`figures ${JSON.stringify(figures)}`);
  assert.ok(checks.length >= 20, "the soak ran its checks");
  for (const check of checks) {
    await t.test(check.name, () => {
      assert.ok(check.ok, check.detail);
    });
  }
});
