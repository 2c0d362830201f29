// OneNetClient tells its MQTT client that the connection works once the platform answers a post with
// code 200 (onenet/client.ts): only then does the reconnect backoff start over, so a platform that
// accepts logins and drops the link at once sees the delays grow. Against the OneNET emulator
// (tools/emulator, aedes), on the Node lane's virtual clock.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { startEmulator } from "../tools/emulator/index.ts";
import { OneNetClient } from "../onenet/client.ts";
import { parseConfig } from "../onenet/config.ts";
import { until } from "./helpers/wait.ts";
import { lineLogger } from "./helpers/virtual-client.ts";

after(() => nodeLane.shutdown());

const PRODUCT = "Pr0duct01";
const DEVICE = "dev-proved";
const KEY = Buffer.from("onenet-proved-test-key-012345678").toString("base64");

/** Fails three connection attempts (backoff 750, 1500, 3000 ms), then lets the device log in. */
async function afterThreeFailures(post: boolean): Promise<number> {
  nodeLane.useVirtualClock();
  const emu = await startEmulator({ devices: [{ product: PRODUCT, device: DEVICE, key: KEY }], log: () => {} });
  const logs: string[] = [];
  const url = new URL(emu.brokerUrl);
  const onenet = new OneNetClient({
    config: parseConfig({ product: PRODUCT, device: DEVICE, key: KEY, host: url.hostname, port: url.port }),
    log: lineLogger(logs),
    mqtt: { random: () => 0.5 }, // jitter pinned: each delay is 3/4 of its nominal value
  });
  const delays = (): number[] => logs.filter((l) => l.includes("reconnect scheduled")).map((l) => (JSON.parse(l.slice(l.indexOf("{"))) as { delay: number }).delay);
  try {
    nodeLane.link.refuse(true);
    onenet.connect();
    for (const [i, delay] of [750, 1500, 3000].entries()) {
      await until(() => delays().length === i + 1, `failure ${i + 1}`);
      if (i === 2) nodeLane.link.refuse(false);
      await nodeLane.advance(delay);
    }
    await until(() => onenet.online, "login");
    if (post) {
      onenet.report({ temp: 23.5 });
      await until(() => onenet.device.stats.replies === 1, "the platform's reply");
      assert.equal(onenet.device.stats.refusedByPlatform, 0, logs.join("\n"));
    }
    nodeLane.link.reset(); // the platform drops the device
    await until(() => delays().length === 4, "the loss");
    return delays()[3];
  } finally {
    onenet.end();
    await emu.close();
  }
}

test("a post answered with code 200 proves the connection: the next loss reconnects after the first delay again", async () => {
  assert.equal(await afterThreeFailures(true), 750);
});

test("a connection dropped before anything proved it keeps the grown backoff", async () => {
  assert.equal(await afterThreeFailures(false), 6000);
});
