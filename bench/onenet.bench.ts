// OneNET device costs inside XS (computrons: xsnap's deterministic metering, independent of machine
// load), per operation = (crank running it K times - crank running an empty loop K times) / K. Each
// anchor runs in the same lane, same run.
// - xs.onenet.token.sha256: the login token (HMAC-SHA256 in the pure-TS crypt/hmac modules the
//   simulator provides; on the board the native digest is much cheaper). Anchor: one SHA-256 of the
//   same string to sign (HMAC costs about two digests more).
// - xs.onenet.post.encode: our propertyPost (3 properties with the value wrapper and time, identifiers
//   and values checked) to UTF-8 bytes. Anchor: the naive way, JSON.stringify of the finished object
//   plus the device's native ArrayBuffer.fromString, with no checks.
// - xs.onenet.set.decode / xs.onenet.reply.decode: a property set and a post reply (downlinks) parsed
//   by parseSet / parseReply, which bound size and nesting before JSON.parse and check the id. Anchor:
//   the naive way, String.fromArrayBuffer + JSON.parse with no bounds (which a deeply nested payload
//   would crash: the XS stack overflow aborts the board).
// - xs.onenet.set.handle: a property set parsed, checked against the model, applied, reply queued.
// - xs.onenet.slots.after1000: live heap slots (after a full GC) once 1,000 report -> send -> reply
//   cycles have run, against the same after 10 cycles (anchor): the profile must not grow.
import { XsLane } from "../tools/sim/xs-lane.ts";
import type { Report } from "./run.ts";

const K = 50;

export default async function bench(report: Report): Promise<void> {
  const entryCode = `
    import { token, stringToSign } from "./onenet/token";
    import { propertyPost, parseSet, parseReply } from "./onenet/payload";
    import { OneNetDevice } from "./onenet/device";
    import { parseConfig } from "./onenet/config";
    import { SILENT } from "./lib/log";
    import { Digest } from "crypt";
    const key = "l3Vdt0EVyzPFR3kZs2XpQzn5v3Ht2VlvATmXxV0zdak=";
    const opts = { product: "EJyXIoGn8p", device: "test", key, et: 2145916800, method: "sha256" };
    const toSign = stringToSign(opts.et, "sha256", "products/EJyXIoGn8p/devices/test");
    const params = { temp: 23.5, humi: 45.2, rssi: -61 };
    const time = 1700000000000;
    const sent = [];
    const link = { publish(t, p) { sent.length = 0; sent.push(p); }, subscribe() {} };
    const device = new OneNetDevice({ config: parseConfig({ product: "EJyXIoGn8p", device: "test", key }), link, onSet: () => true, log: SILENT });
    device.onConnected(0);
    const bytes = (text) => new Uint8Array(ArrayBuffer.fromString(text));
    const set = bytes('{"id":"42","version":"1.0","params":{"interval":30,"led":true}}');
    const reply = bytes('{"id":"123","code":200,"msg":"success"}');
    const topic = device.topics.propertySet;
    let sink = 0, now = 0;
    globalThis.__sim.entry = {
      empty(k) { for (let i = 0; i < k; i++) sink += i; },
      token(k) { for (let i = 0; i < k; i++) sink += token(opts).length; },
      digest(k) { for (let i = 0; i < k; i++) sink += new Digest("SHA256").process(toSign).byteLength; },
      post(k) { for (let i = 0; i < k; i++) sink += propertyPost("123", params, time).length; },
      naivePost(k) {
        for (let i = 0; i < k; i++) {
          const o = { id: "123", version: "1.0", params: { temp: { value: 23.5, time }, humi: { value: 45.2, time }, rssi: { value: -61, time } } };
          sink += new Uint8Array(ArrayBuffer.fromString(JSON.stringify(o))).length;
        }
      },
      parseSet(k) { for (let i = 0; i < k; i++) sink += parseSet(set).id.length; },
      naiveSet(k) { for (let i = 0; i < k; i++) sink += JSON.parse(String.fromArrayBuffer(set.buffer)).id.length; },
      parseReply(k) { for (let i = 0; i < k; i++) sink += parseReply(reply).code; },
      naiveReply(k) { for (let i = 0; i < k; i++) sink += JSON.parse(String.fromArrayBuffer(reply.buffer)).code; },
      set(k) { for (let i = 0; i < k; i++) { device.onMessage(topic, set, now); now += 1000; device.service(now); } },
      cycle(k) {
        for (let i = 0; i < k; i++) {
          const id = device.report({ temp: 20 + (i % 10) / 10, humi: 40, uptime: i }, now);
          now += 1000;
          device.service(now);
          device.onMessage(device.topics.propertyPostReply, bytes('{"id":"' + id + '","code":200,"msg":"success"}'), now);
        }
      },
    };
  `;
  const lane = await XsLane.start({ entryCode, boot: false });
  try {
    const crank = async (name: string, k: number): Promise<number> => (await lane.evaluate(`globalThis.__sim.entry.${name}(${k})`)).compute;
    const names = ["empty", "token", "digest", "post", "naivePost", "parseSet", "naiveSet", "parseReply", "naiveReply", "set"];
    for (const name of names) await crank(name, 2);
    const empty = await crank("empty", K);
    const perOp = async (name: string): Promise<number> => Math.round(((await crank(name, K)) - empty) / K);
    const unit = "computrons/op (lower is better)";
    report({ name: "xs.onenet.token.sha256", value: await perOp("token"), unit, anchor: "xs.sha256.stringToSign", anchorValue: await perOp("digest") });
    report({ name: "xs.onenet.post.encode", value: await perOp("post"), unit, anchor: "xs.naive.JSON.stringify+ArrayBuffer.fromString", anchorValue: await perOp("naivePost") });
    report({ name: "xs.onenet.set.decode", value: await perOp("parseSet"), unit, anchor: "xs.naive.String.fromArrayBuffer+JSON.parse (set)", anchorValue: await perOp("naiveSet") });
    report({ name: "xs.onenet.reply.decode", value: await perOp("parseReply"), unit, anchor: "xs.naive.String.fromArrayBuffer+JSON.parse (reply)", anchorValue: await perOp("naiveReply") });
    report({ name: "xs.onenet.set.handle", value: await perOp("set"), unit });
    await crank("cycle", 10);
    const after10 = await lane.heapSlots();
    await crank("cycle", 990);
    const after1000 = await lane.heapSlots();
    report({ name: "xs.onenet.slots.after1000", value: after1000, unit: "heap slots (lower is better; = anchor means no growth)", anchor: "xs.onenet.slots.after10", anchorValue: after10 });
  } finally {
    await lane.close();
  }
}
