// The OneNET device's uplink when the MQTT client calls back into it while a publish is under way: on
// the board the client's publish runs its service loop, which tells the app the outbox drained
// (onDrain), and the OneNET client services the device again from there. Seen in the XS lane during a
// TLS drain after an outage (the nested loop also doubled the stack's depth). The nested service must
// neither hand the message being published over a second time nor let the outer call drop the next one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OneNetDevice } from "../onenet/device.ts";
import { parseConfig } from "../onenet/config.ts";

const config = parseConfig({ product: "Reentry001", device: "reentry-dev", key: "cmVlbnRyeS10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDE=" });

test("a service() re-entered from inside the link's publish sends nothing twice and loses nothing; pacing holds (1 message/s)", () => {
  const sent: { id: string; at: number }[] = [];
  let now = 0;
  let reenter = true;
  // eslint-disable-next-line prefer-const
  let device: OneNetDevice;
  device = new OneNetDevice({
    config,
    replyTimeoutMs: 30_000,
    link: {
      publish: (_topic, payload) => {
        sent.push({ id: (JSON.parse(Buffer.from(payload).toString()) as { id: string }).id, at: now });
        if (reenter) device.service(now); // the client's onDrain -> the OneNET client's #service
      },
      subscribe: () => {},
    },
  });
  device.onConnected(now, 0);
  const ids = [1, 2, 3, 4, 5].map((i) => device.report({ temp: 20 + i }, now));
  for (let t = 0; t <= 6000; t += 250) {
    now = t;
    device.service(now);
  }
  reenter = false;
  assert.deepEqual(sent.map((s) => s.id), ids, "each post handed over once, in order");
  for (let i = 1; i < sent.length; i++) assert.ok(sent[i].at - sent[i - 1].at >= 1000, `paced: ${JSON.stringify(sent)}`);
  assert.equal(device.queued, 0);
});
