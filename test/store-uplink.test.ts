// The uplink (store/uplink.ts) with the real OneNET device profile (onenet/device.ts, sans-I/O) and
// the real readings log over the simulator's NOR flash: what a lost reply and a refused batch do.
// The profile's link records what it would hand to MQTT; replies are fed back as platform payloads.
import { test } from "node:test";
import assert from "node:assert/strict";
import FlashStorage, { definePartition } from "../tools/sim/modules/embedded/storage/flash.ts";
import { ReadingLog } from "../store/ring.ts";
import { BATCH_BYTES, Uplink } from "../store/uplink.ts";
import { OneNetDevice } from "../onenet/device.ts";
import { parseConfig } from "../onenet/config.ts";
import type { Level } from "../lib/log.ts";

const EPOCH = 1_767_225_600_000;
const config = parseConfig({ product: "UplinkTest1", device: "uplink-dev", key: "dXBsaW5rLXRlc3Qta2V5LTAwMDAwMDAwMDAwMDAwMDE=" });
let n = 0;

function rig() {
  const name = `u${++n}`;
  definePartition(name, 4 * 4096);
  const lines: string[] = [];
  const log = { log: (level: Level, area: string, message: string, fields?: object) => lines.push(`${level} ${area}: ${message} ${JSON.stringify(fields ?? {})}`), enabled: () => true };
  const ring = new ReadingLog({ flash: FlashStorage.open({ path: name }), log });
  const sent: { topic: string; body: { id: string; params: unknown } }[] = [];
  let uplink: Uplink | undefined;
  const device = new OneNetDevice({
    config,
    boot: ring.boot,
    replyTimeoutMs: 30_000,
    maxMessageBytes: BATCH_BYTES + 256, // as the app sets it: a history batch and its topic
    link: { publish: (topic, payload) => void sent.push({ topic, body: JSON.parse(Buffer.from(payload).toString()) }), subscribe: () => {} },
    onReply: (r) => uplink!.onReply(r.id, r.code),
    onMissing: (id) => uplink!.onMissing(id),
    log,
  });
  let now = 0;
  uplink = new Uplink({
    ring,
    log,
    link: {
      get online() {
        return device.connected;
      },
      get queued() {
        return device.queued;
      },
      live: (params, time) => device.report(params, now, { time, qos: 0 }),
      history: (series, scratch) => device.postHistory(series, now, scratch),
    },
  });
  const reply = (topic: string, id: string, code: number): void => {
    device.onMessage(`${device.topics.prefix}thing/${topic}/post/reply`, new Uint8Array(Buffer.from(JSON.stringify({ id, code, msg: code === 200 ? "success" : "refused" }))), now);
  };
  const advance = (ms: number): void => {
    now += ms;
    device.service(now);
  };
  return { ring, uplink, device, sent, lines, reply, advance, history: () => sent.filter((m) => m.topic.endsWith("/thing/history/post")) };
}

test("a history batch whose reply never comes is sent again: same values, same times; the readings stay until a reply", () => {
  const { ring, uplink, device, sent, reply, advance, history } = rig();
  for (let i = 0; i < 30; i++) uplink.reading({ temp: 20 + i / 10, humi: 50 }, i * 10_000, EPOCH + i * 10_000);
  device.onConnected(0);
  uplink.onOnline(true);
  advance(1000);
  assert.equal(history().length, 1);
  const first = history()[0].body;
  assert.equal((first.params as { properties: { temp: unknown[] } }[])[0].properties.temp.length, 30);
  advance(31_000); // no reply within 30 s
  assert.equal(history().length, 2, "sent again");
  const second = history()[1].body;
  assert.notEqual(second.id, first.id, "a new id: a late reply to the first cannot confirm the second");
  assert.deepEqual(second.params, first.params, "same values, same times");
  assert.equal(ring.pending, 30);
  reply("history", second.id, 200);
  assert.equal(ring.pending, 0);
  assert.equal(uplink.stats.resent, 1);
  assert.ok(sent.every((m) => /^\d{1,13}$/.test(m.body.id)), "ids are numeric strings of at most 13 digits");
});

test("a batch the platform refuses is logged with the code's meaning and dropped, not sent again", () => {
  const { ring, uplink, device, lines, reply, advance, history } = rig();
  for (let i = 0; i < 5; i++) uplink.reading({ temp: 21 }, i * 10_000, EPOCH + i * 10_000);
  device.onConnected(0);
  uplink.onOnline(true);
  advance(1000);
  const batch = history()[0].body;
  reply("history", batch.id, 302);
  assert.equal(ring.pending, 0, "the refused readings left the log");
  assert.equal(uplink.stats.refused, 5);
  assert.ok(lines.some((l) => /ERROR store: history batch refused by the platform, dropped .*"code":302,"meaning":"data type error"/.test(l)), lines.join("\n"));
  for (let i = 0; i < 60; i++) advance(1000);
  assert.equal(history().length, 1, "not retried");
});

test("batches hold at most 100 values per identifier and fit the byte budget; the live reading goes as a property post with its own time", () => {
  const { uplink, device, reply, advance, history, sent, lines } = rig();
  for (let i = 0; i < 300; i++) uplink.reading({ temp: 20, humi: 50, press: 1000 }, i * 10_000, EPOCH + i * 10_000);
  device.onConnected(0);
  uplink.onOnline(true);
  let t = 300;
  for (let s = 0; s < 20; s++) {
    advance(1000);
    const last = history().at(-1);
    if (last) reply("history", last.body.id, 200);
    if (s === 3) uplink.reading({ temp: 25, humi: 50 }, t * 10_000, EPOCH + t++ * 10_000);
  }
  assert.ok(history().length >= 5, lines.join("\n"));
  const sizes = history().map((m) => JSON.stringify(m.body).length);
  for (const m of history()) {
    for (const list of Object.values((m.body.params as { properties: Record<string, unknown[]> }[])[0].properties)) assert.ok(list.length <= 100);
  }
  assert.ok(Math.max(...sizes) <= BATCH_BYTES, `sizes ${sizes}`);
  const live = sent.find((m) => m.topic.endsWith("/thing/property/post"));
  assert.deepEqual((live!.body.params as { temp: unknown }).temp, { value: 25, time: EPOCH + 300 * 10_000 });
  const times = history().flatMap((m) => (m.body.params as { properties: { temp: { time: number }[] } }[])[0].properties.temp.map((v) => v.time));
  assert.deepEqual(times, Array.from({ length: 300 }, (_, i) => EPOCH + i * 10_000), "the backlog, oldest first, each reading once");
});
