// OneNET device costs inside XS (computrons: xsnap's deterministic metering, independent of machine
// load), per operation = (crank running it K times - crank running an empty loop K times) / K.
// - xs.onenet.token.sha256: the login token (HMAC-SHA256 in the pure-TS crypt/hmac modules the
//   simulator provides; on the board the native digest is much cheaper). Anchor: one SHA-256 of the
//   same string to sign (HMAC costs about two digests more).
// - xs.onenet.post.encode: a 3-property OneJSON post (value wrapper + time) to UTF-8 bytes.
//   Anchor: the naive way, JSON.stringify of the same object + utf8Encode.
// - xs.onenet.set.handle: a property set parsed, checked against the model, applied, reply queued.
// - xs.onenet.slots.after1000: live heap slots (after a full GC) once 1,000 report -> send -> reply
//   cycles have run, against the same after 10 cycles (anchor): the profile must not grow.
import { XsLane } from "../tools/sim/xs-lane.ts";
import type { Report } from "./run.ts";

const K = 50;

export default async function bench(report: Report): Promise<void> {
  const entryCode = `
    import { token, stringToSign } from "./onenet/token";
    import { propertyPost } from "./onenet/payload";
    import { OneNetDevice } from "./onenet/device";
    import { parseConfig } from "./onenet/config";
    import { utf8Encode } from "./lib/utf8";
    import { Digest } from "crypt";
    const key = "l3Vdt0EVyzPFR3kZs2XpQzn5v3Ht2VlvATmXxV0zdak=";
    const opts = { product: "EJyXIoGn8p", device: "test", key, et: 2145916800, method: "sha256" };
    const toSign = stringToSign(opts.et, "sha256", "products/EJyXIoGn8p/devices/test");
    const params = { temp: 23.5, humi: 45.2, rssi: -61 };
    const time = 1700000000000;
    const sent = [];
    const link = { publish(t, p) { sent.length = 0; sent.push(p); }, subscribe() {} };
    const device = new OneNetDevice({ config: parseConfig({ product: "EJyXIoGn8p", device: "test", key }), link, onSet: () => true });
    device.onConnected(0);
    const set = utf8Encode('{"id":"42","version":"1.0","params":{"interval":30,"led":true}}');
    const topic = device.topics.propertySet;
    let sink = 0, now = 0;
    globalThis.__sim.entry = {
      empty(k) { for (let i = 0; i < k; i++) sink += i; },
      token(k) { for (let i = 0; i < k; i++) sink += token(opts).length; },
      digest(k) { for (let i = 0; i < k; i++) sink += new Digest("SHA256").process(toSign).byteLength; },
      post(k) { for (let i = 0; i < k; i++) sink += propertyPost("123", params, time).length; },
      naive(k) {
        for (let i = 0; i < k; i++) {
          const o = { id: "123", version: "1.0", params: { temp: { value: 23.5, time }, humi: { value: 45.2, time }, rssi: { value: -61, time } } };
          sink += utf8Encode(JSON.stringify(o)).length;
        }
      },
      set(k) { for (let i = 0; i < k; i++) { device.onMessage(topic, set, now); now += 1000; device.service(now); } },
      cycle(k) {
        for (let i = 0; i < k; i++) {
          const id = device.report({ temp: 20 + (i % 10) / 10, humi: 40, uptime: i }, now);
          now += 1000;
          device.service(now);
          device.onMessage(device.topics.propertyPostReply, utf8Encode('{"id":"' + id + '","code":200,"msg":"success"}'), now);
        }
      },
    };
  `;
  const lane = await XsLane.start({ entryCode, boot: false });
  try {
    const crank = async (name: string, k: number): Promise<number> => (await lane.evaluate(`globalThis.__sim.entry.${name}(${k})`)).compute;
    for (const name of ["empty", "token", "digest", "post", "naive", "set"]) await crank(name, 2);
    const empty = await crank("empty", K);
    const perOp = async (name: string): Promise<number> => Math.round(((await crank(name, K)) - empty) / K);
    report({ name: "xs.onenet.token.sha256", value: await perOp("token"), unit: "computrons/op (lower is better)", anchor: "xs.sha256.stringToSign", anchorValue: await perOp("digest") });
    report({ name: "xs.onenet.post.encode", value: await perOp("post"), unit: "computrons/op (lower is better)", anchor: "xs.JSON.stringify+utf8Encode", anchorValue: await perOp("naive") });
    report({ name: "xs.onenet.set.handle", value: await perOp("set"), unit: "computrons/op (lower is better)" });
    await crank("cycle", 10);
    const after10 = await lane.heapSlots();
    await crank("cycle", 990);
    const after1000 = await lane.heapSlots();
    report({ name: "xs.onenet.slots.after1000", value: after1000, unit: "heap slots (lower is better; = anchor means no growth)", anchor: "xs.onenet.slots.after10", anchorValue: after10 });
  } finally {
    await lane.close();
  }
}
