// The OneNET emulator enforces the platform's rules (docs/onenet.md, cited per test as
// "docs: <section>") against MQTT.js acting as a well- or mis-behaving device, and its console API
// refuses requests a foreign web page could make.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import mqttPacket from "mqtt-packet";
import { startEmulator, VirtualClock, type Emulator, type EmulatorEvent } from "../tools/emulator/index.ts";
import { makeToken, parseToken, tokenSignature, verifyToken } from "../tools/emulator/token.ts";
import { connect, connectOk, FAR_ET, publish, subscribe, until, type TestDevice } from "../tools/emulator/testing.ts";

const PID = "Pr0duct01";
const KEY_A = Buffer.from("device-a-secret-key-0123456789ab").toString("base64");
const KEY_B = Buffer.from("device-b-secret-key-0123456789ab").toString("base64");
const KEY_C = Buffer.from("device-c-secret-key-0123456789ab").toString("base64");
const PRODUCT_KEY = Buffer.from("product-level-secret-key-0123456").toString("base64");
const A = { product: PID, device: "dev-a", key: KEY_A };
const B = { product: PID, device: "dev-b", key: KEY_B };
const C = { product: PID, device: "dev-c", key: KEY_C };
const NOW = Date.UTC(2026, 0, 1);

const logLines: string[] = [];
let emu: Emulator;
let clock: VirtualClock;
const open: TestDevice[] = [];

async function device(entry = A, overrides = {}): Promise<TestDevice> {
  const d = await connectOk(emu.brokerUrl, entry, overrides);
  open.push(d);
  return d;
}

before(async () => {
  clock = new VirtualClock(NOW);
  emu = await startEmulator({
    devices: [A, B, C],
    products: [{ product: PID, key: PRODUCT_KEY }],
    clock,
    log: (line) => logLines.push(line),
  });
});

after(async () => {
  for (const d of open) await d.end();
  await emu.close();
});

describe("token (docs: Token)", () => {
  it("reproduces the documentation's worked example and accepts it before et", () => {
    const token = makeToken({ key: "l3Vdt0EVyzPFR3kZs2XpQzn5v3Ht2VlvATmXxV0zdak=", res: "products/EJyXIoGn8p/devices/test", et: 1596067735, method: "md5" });
    assert.equal(token, "version=2018-10-31&res=products%2FEJyXIoGn8p%2Fdevices%2Ftest&et=1596067735&method=md5&sign=KjQ3tFpNOHv6Cm2rLjDV%2FA%3D%3D");
    assert.deepEqual(parseToken(token), { version: "2018-10-31", res: "products/EJyXIoGn8p/devices/test", et: "1596067735", method: "md5", sign: "KjQ3tFpNOHv6Cm2rLjDV/A==" });
    const keyFor = (level: string) => (level === "device" ? "l3Vdt0EVyzPFR3kZs2XpQzn5v3Ht2VlvATmXxV0zdak=" : undefined);
    assert.deepEqual(verifyToken({ token, product: "EJyXIoGn8p", device: "test", keyFor, nowSeconds: 1596067735 }), { ok: true, level: "device", method: "md5" });
    assert.deepEqual(verifyToken({ token, product: "EJyXIoGn8p", device: "test", keyFor, nowSeconds: 1596067736 }), { ok: false, code: 1104 });
  });

  it("the worked example logs in to an emulator whose clock is before et", async () => {
    const doc = { product: "EJyXIoGn8p", device: "test", key: "l3Vdt0EVyzPFR3kZs2XpQzn5v3Ht2VlvATmXxV0zdak=" };
    const docClock = new VirtualClock(Date.UTC(2020, 6, 1));
    const e = await startEmulator({ devices: [doc], clock: docClock, log: () => {} });
    try {
      const password = "version=2018-10-31&res=products%2FEJyXIoGn8p%2Fdevices%2Ftest&et=1596067735&method=md5&sign=KjQ3tFpNOHv6Cm2rLjDV%2FA%3D%3D";
      const ok = await connect(e.brokerUrl, doc, { password });
      assert.ok(ok.device, "CONNACK 0 before et");
      await ok.device.end();
      docClock.advance(40 * 86400 * 1000); // now after 2020-07-30T00:08:55Z = et
      assert.deepEqual(await connect(e.brokerUrl, doc, { password }), { refused: 4 });
    } finally {
      await e.close();
    }
  });

  for (const method of ["md5", "sha1", "sha256"] as const) {
    it(`accepts method ${method} at device level and product level`, async () => {
      const d1 = await device(A, { password: makeToken({ key: KEY_A, res: `products/${PID}/devices/dev-a`, et: FAR_ET, method }) });
      await d1.end();
      const d2 = await device(A, { password: makeToken({ key: PRODUCT_KEY, res: `products/${PID}`, et: FAR_ET, method }) });
      await d2.end();
    });
  }

  const tokenA = (over: { key?: string; res?: string; et?: number; method?: "md5" | "sha1" | "sha256" } = {}) =>
    makeToken({ key: KEY_A, res: `products/${PID}/devices/dev-a`, et: FAR_ET, ...over });
  const refusals: [string, Record<string, unknown>, string][] = [
    ["signature with another device's key", { password: tokenA({ key: KEY_B }) }, "1106"],
    ["product-level token signed with the device key", { password: tokenA({ res: `products/${PID}` }) }, "1106"],
    ["expired et", { password: tokenA({ et: NOW / 1000 - 1 }) }, "1104"],
    ["version other than 2018-10-31", { password: tokenA().replace("2018-10-31", "2018-10-30") }, "1111"],
    ["method sha512", { password: tokenA().replace("method=sha256", "method=sha512") }, "1110"],
    ["res naming another device", { password: makeToken({ key: KEY_A, res: `products/${PID}/devices/dev-b`, et: FAR_ET }) }, "1114"],
    ["clientId other than the device", { clientId: "dev-a-x" }, "1114"],
    ["username other than the product", { username: "OtherPid" }, "1114"],
    ["device not registered", { clientId: "ghost", password: makeToken({ key: KEY_A, res: `products/${PID}/devices/ghost`, et: FAR_ET }) }, "1107"],
    ["no password", { password: undefined }, "1101"],
    ["token that is not a token", { password: "hello" }, "1103"],
  ];
  for (const [what, overrides, code] of refusals) {
    it(`CONNACK 4 for ${what} (log code ${code})`, async () => {
      const before = logLines.length;
      assert.deepEqual(await connect(emu.brokerUrl, A, overrides), { refused: 4 });
      assert.ok(logLines.slice(before).some((l) => l.includes(`login failed: ${code}`)), `log names ${code}`);
    });
  }

  it("a sign left un-URL-encoded ('+' raw) fails like on the platform, encoded it passes", async () => {
    let et = FAR_ET;
    while (!tokenSignature(KEY_A, `products/${PID}/devices/dev-a`, et, "sha256").includes("+")) et--;
    const good = tokenA({ et });
    const raw = good.replace(/sign=.*$/, "sign=" + tokenSignature(KEY_A, `products/${PID}/devices/dev-a`, et, "sha256"));
    assert.deepEqual(await connect(emu.brokerUrl, A, { password: raw }), { refused: 4 });
    await (await device(A, { password: good })).end();
  });
});

describe("CONNECT rules (docs: CONNECT)", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["will flag set", { will: { topic: `$sys/${PID}/dev-a/thing/event/post`, payload: Buffer.from("bye"), qos: 0, retain: false } }],
    ["clean session 0", { clean: false }],
    ["keepalive 9 s", { keepalive: 9 }],
    ["keepalive 0 (off)", { keepalive: 0 }],
    ["keepalive 1801 s", { keepalive: 1801 }],
  ];
  for (const [what, overrides] of cases) {
    it(`refuses ${what}`, async () => {
      const outcome = await connect(emu.brokerUrl, A, overrides);
      assert.equal(outcome.device, undefined);
      assert.equal(outcome.refused, 5);
    });
  }
  it("accepts keepalive 10 and 1800 (the range's ends)", async () => {
    await (await device(A, { keepalive: 10 })).end();
    await (await device(A, { keepalive: 1800 })).end();
  });
  it("refuses MQTT 3.1 and 5 (3.1.1 only)", async () => {
    assert.equal((await connect(emu.brokerUrl, A, { protocolVersion: 3, protocolId: "MQIsdp" })).refused, 1);
    const v5 = await connect(emu.brokerUrl, A, { protocolVersion: 5 });
    assert.equal(v5.device, undefined);
  });
  it("disconnects a second CONNECT on a connection", async () => {
    const d = await device(A);
    (d.client.stream as NodeJS.WritableStream).write(mqttPacket.generate({ cmd: "connect", clientId: "dev-a", protocolVersion: 4, protocolId: "MQTT", clean: true, keepalive: 60 }));
    await d.closed;
  });
});

describe("publish rules (docs: QoS, retain, limits)", () => {
  const violations: [string, (d: TestDevice) => void][] = [
    ["QoS 2 PUBLISH", (d) => d.client.publish(d.prefix + "thing/property/post", "{}", { qos: 2 })],
    ["retained PUBLISH", (d) => d.client.publish(d.prefix + "thing/property/post", "{}", { qos: 0, retain: true })],
    ["PUBLISH to another device's space", (d) => d.client.publish(`$sys/${PID}/dev-b/thing/property/post`, "{}", { qos: 0 })],
    ["PUBLISH outside $sys", (d) => d.client.publish("hello/world", "{}", { qos: 1 })],
    ["PUBREC from the device", (d) => (d.client.stream as NodeJS.WritableStream).write(mqttPacket.generate({ cmd: "pubrec", messageId: 7 }))],
    ["PUBREL from the device", (d) => (d.client.stream as NodeJS.WritableStream).write(mqttPacket.generate({ cmd: "pubrel", messageId: 7 }))],
    ["PUBCOMP from the device", (d) => (d.client.stream as NodeJS.WritableStream).write(mqttPacket.generate({ cmd: "pubcomp", messageId: 7 }))],
  ];
  for (const [what, act] of violations) {
    it(`disconnects on ${what}, and the console shows the device offline with the reason`, async () => {
      const d = await device(C);
      await until(() => emu.devices().find((v) => v.device === "dev-c")!.online, "dev-c online");
      act(d);
      await d.closed;
      await until(() => !emu.devices().find((v) => v.device === "dev-c")!.online, "dev-c offline");
      const log = emu.devices().find((v) => v.device === "dev-c")!.log;
      assert.ok(log.some((l) => l.text.startsWith("disconnected by the platform")), "device log says why");
    });
  }

  it("grants subscriptions at most QoS 0 and refuses topics outside the device's space", async () => {
    const d = await device(B);
    assert.equal(await subscribe(d, "thing/property/set", 2), 0);
    assert.equal(await subscribe(d, "thing/property/get", 1), 0);
    // SUBACK return code 0x80 (failure); MQTT.js reports it as an error carrying the SUBACK.
    const other = await new Promise<unknown>((resolve) =>
      d.client.subscribe(`$sys/${PID}/dev-a/thing/#`, { qos: 0 }, (e, g) => resolve(e ? (e as Error & { packet?: unknown }).packet : g)),
    );
    assert.deepEqual((other as { granted?: number[] }).granted, [128]);
    assert.equal(d.isClosed(), false);
    await d.end();
  });
});

describe("OneJSON replies (docs: Payloads)", () => {
  let d: TestDevice;
  let seq = 0;
  before(async () => {
    d = await device(B);
    await subscribe(d, "thing/property/post/reply");
    await subscribe(d, "thing/event/post/reply");
  });
  // Each post needs 1 s of (virtual) time after the previous one: advance the clock before each.
  async function post(body: unknown, id: string): Promise<Record<string, unknown>> {
    clock.advance(1000);
    await publish(d, "thing/property/post", body, 1);
    return (await d.next("thing/property/post/reply", (m) => m.json?.id === id)).json!;
  }
  const nextId = () => String(1000 + ++seq);

  it("checks against the project's thing model, onenet/thing-model.json", () => {
    assert.match(emu.thingModelPath, /onenet[\\/]thing-model\.json$/);
    assert.deepEqual([...emu.model.properties.keys()].sort(), ["backlog", "heap", "humi", "interval", "led", "press", "rssi", "temp", "uptime"]);
    assert.deepEqual([...emu.model.properties.values()].filter((p) => p.writable).map((p) => p.identifier).sort(), ["interval", "led"]);
  });
  it("answers a good post 200 and records the values", async () => {
    const id = nextId();
    const reply = await post({ id, version: "1.0", params: { temp: { value: 23.6, time: NOW - 5 }, led: { value: true }, rssi: { value: -61 } } }, id);
    assert.deepEqual(reply, { id, code: 200, msg: "success" });
    const view = emu.devices().find((v) => v.device === "dev-b")!;
    assert.deepEqual(view.latest.temp, { value: 23.6, time: NOW - 5 });
    assert.equal(view.latest.led!.value, true);
    assert.deepEqual(view.history.temp!.at(-1), [NOW - 5, 23.6]);
  });
  it("answers malformed JSON 301 (with the id when it can be read) and keeps the link", async () => {
    const id = nextId();
    const reply = await post(`{"id":"${id}","params":{"temp":{"value":1}`, id);
    assert.equal(reply.code, 301);
    const id2 = nextId();
    assert.equal((await post({ id: id2, params: { temp: { value: 2 } } }, id2)).code, 200);
    assert.equal(d.isClosed(), false);
  });
  it("answers a wrong type 302", async () => {
    const id = nextId();
    assert.equal((await post({ id, params: { temp: { value: "hot" } } }, id)).code, 302);
    const id2 = nextId();
    assert.equal((await post({ id: id2, params: { rssi: { value: -61.5 } } }, id2)).code, 302, "int32 needs an integer");
    const id3 = nextId();
    assert.equal((await post({ id: id3, params: { led: { value: 1 } } }, id3)).code, 302, "bool needs true/false");
  });
  it("answers a post without the value wrapper 302", async () => {
    const id = nextId();
    assert.equal((await post({ id, params: { temp: 23.6 } }, id)).code, 302);
  });
  it("answers an unknown identifier 309", async () => {
    const id = nextId();
    assert.equal((await post({ id, params: { temp: { value: 1 }, colour: { value: 3 } } }, id)).code, 309);
  });
  it("answers a non-numeric id 312", async () => {
    assert.equal((await post({ id: "abc", params: { temp: { value: 1 } } }, "abc")).code, 312);
  });
  it("answers event posts: 200 for the model's alarm event, 302/309 for a wrong type, unknown event or field", async () => {
    const event = async (params: unknown): Promise<Record<string, unknown>> => {
      clock.advance(1000);
      const id = nextId();
      await publish(d, "thing/event/post", { id, version: "1.0", params }, 1);
      return (await d.next("thing/event/post/reply", (m) => m.json?.id === id)).json!;
    };
    const ok = await event({ alarm: { value: { code: 3, msg: "sensor lost" }, time: NOW } });
    assert.deepEqual(ok, { id: ok.id, code: 200, msg: "success" });
    assert.equal((await event({ alarm: { value: { code: "3" } } })).code, 302);
    assert.equal((await event({ alarm: { value: { level: 1 } } })).code, 309);
    assert.equal((await event({ fire: { value: {} } })).code, 309);
  });
  it("records accepted events (time, identifier, values) for the console, and streams them", async () => {
    const streamed: EmulatorEvent[] = [];
    const listener = (e: EmulatorEvent) => streamed.push(e);
    emu.events.on("event", listener);
    try {
      clock.advance(1000);
      const id = nextId();
      await publish(d, "thing/event/post", { id, params: { alarm: { value: { code: 7, msg: "bus stuck" } } } }, 1);
      assert.equal((await d.next("thing/event/post/reply", (m) => m.json?.id === id)).json!.code, 200);
      const recorded = { id, identifier: "alarm", value: { code: 7, msg: "bus stuck" }, time: clock.now() }; // no time: arrival
      const events = emu.devices().find((v) => v.device === "dev-b")!.events;
      assert.deepEqual(events.at(-1), recorded);
      assert.deepEqual(events.at(-2)?.value, { code: 3, msg: "sensor lost" }, "the earlier accepted alarm, with its own time");
      assert.equal(events.at(-2)?.time, NOW);
      assert.equal(events.filter((e) => e.value.code === "3" || "level" in e.value).length, 0, "refused events are not recorded");
      assert.deepEqual(streamed.filter((e) => e.type === "event"), [{ type: "event", product: PID, device: "dev-b", event: recorded }]);
    } finally {
      emu.events.off("event", listener);
    }
  });
});

describe("downlink needs a subscription (docs: Topics)", () => {
  it("sends the post reply only once the device has subscribed", async () => {
    const d = await device(C);
    clock.advance(1000);
    await publish(d, "thing/property/post", { id: "1", params: { temp: { value: 1 } } }, 1);
    await until(() => emu.devices().find((v) => v.device === "dev-c")!.log.some((l) => l.text.includes("1022")), "1022 in the device log");
    await subscribe(d, "thing/property/post/reply");
    clock.advance(1000);
    await publish(d, "thing/property/post", { id: "2", params: { temp: { value: 2 } } }, 1);
    const reply = await d.next("thing/property/post/reply");
    assert.equal(reply.json!.id, "2", "the first reply was never delivered");
    const set = await emu.setProperties(PID, "dev-c", { interval: 5 });
    assert.equal(set.ok, false);
    assert.match(set.error!, /1022/);
    await d.end();
  });
});

describe("uplink pacing: 1 message/s per device, excess delayed (docs: Rates)", () => {
  it("holds the 2nd and 3rd of a burst until 1 s and 2 s later on the virtual clock", async () => {
    const d = await device(A);
    await subscribe(d, "thing/property/post/reply");
    clock.advance(5000);
    for (const id of ["71", "72", "73"]) await publish(d, "thing/property/post", { id, params: { uptime: { value: Number(id) } } }, 0);
    await d.next("thing/property/post/reply", (m) => m.json?.id === "71");
    const paced = () => emu.devices().find((v) => v.device === "dev-a")!.log.filter((l) => l.text.startsWith("uplink paced")).length;
    await until(() => paced() >= 2, "both later posts queued by the pacer");
    const replies = () => d.messages.filter((m) => m.topic.endsWith("post/reply")).map((m) => m.json!.id);
    clock.advance(999);
    // Nothing can move until the virtual clock reaches +1000 ms; a round trip proves nothing is in flight.
    await subscribe(d, "thing/property/get");
    assert.deepEqual(replies(), ["71"]);
    clock.advance(1);
    await d.next("thing/property/post/reply", (m) => m.json?.id === "72");
    await subscribe(d, "thing/property/set");
    assert.deepEqual(replies(), ["71", "72"]);
    clock.advance(1000);
    await d.next("thing/property/post/reply", (m) => m.json?.id === "73");
    assert.deepEqual(replies(), ["71", "72", "73"]);
    await d.end();
  });
});

describe("property set/get from the cloud (docs: Payloads)", () => {
  it("set waits for the device's set_reply; get returns data", async () => {
    const d = await device(A);
    await subscribe(d, "thing/property/#");
    d.client.on("message", (topic, payload) => {
      const msg = JSON.parse(payload.toString()) as { id: string; params: unknown };
      if (topic.endsWith("thing/property/set")) {
        void publish(d, "thing/property/set_reply", { id: msg.id, code: 200, msg: "success" });
      } else if (topic.endsWith("thing/property/get")) {
        void publish(d, "thing/property/get_reply", { id: msg.id, code: 200, msg: "success", data: { interval: 30, led: false } });
      }
    });
    clock.advance(1000);
    const set = await emu.setProperties(PID, "dev-a", { interval: 30, led: true });
    assert.equal(set.ok, true);
    assert.equal(set.code, 200);
    const down = d.messages.find((m) => m.topic.endsWith("thing/property/set"))!;
    assert.deepEqual(down.json, { id: set.id, version: "1.0", params: { interval: 30, led: true } }, "no value wrapper on set");
    clock.advance(1000);
    const get = await emu.getProperties(PID, "dev-a", ["interval", "led"]);
    assert.deepEqual(get.data, { interval: 30, led: false });
    assert.equal((await emu.setProperties(PID, "dev-a", { temp: 3 })).error, "property temp is read-only");
    assert.equal((await emu.setProperties(PID, "dev-a", { interval: "x" })).error, "property interval must be int32");
    await d.end();
    await until(() => !emu.devices().find((v) => v.device === "dev-a")!.online, "dev-a offline");
    assert.equal((await emu.setProperties(PID, "dev-a", { interval: 5 })).error, "device offline");
  });

  it("a set the device does not answer times out (virtual clock)", async () => {
    const d = await device(B);
    await subscribe(d, "thing/property/set");
    const pending = emu.setProperties(PID, "dev-b", { led: false });
    await d.next("thing/property/set");
    clock.advance(10000);
    const result = await pending;
    assert.equal(result.ok, false);
    assert.match(result.error!, /no set_reply/);
    await d.end();
  });
});

describe("link faults and resends", () => {
  it("disconnect() closes the device's link from the platform side; a resent id is pointed out", async () => {
    const d = await device(C);
    await subscribe(d, "thing/property/post/reply");
    clock.advance(1000);
    await publish(d, "thing/property/post", { id: "500", params: { temp: { value: 5, time: NOW } } }, 1);
    await d.next("thing/property/post/reply", (m) => m.json?.id === "500");
    assert.equal(emu.disconnect(PID, "dev-c"), true);
    await d.closed;
    assert.equal(emu.disconnect(PID, "dev-c"), false, "not online any more");
    const again = await device(C);
    await subscribe(again, "thing/property/post/reply");
    clock.advance(1000);
    await publish(again, "thing/property/post", { id: "500", params: { temp: { value: 5, time: NOW } } }, 1);
    assert.equal((await again.next("thing/property/post/reply", (m) => m.json?.id === "500")).json!.code, 200);
    const log = emu.devices().find((v) => v.device === "dev-c")!.log.map((l) => l.text);
    assert.ok(log.some((t) => t.includes("id=500 is a resend")), log.join("\n"));
    await again.end();
  });
});

describe("console HTTP API: only the console's own page may write", () => {
  interface Answer {
    status: number;
    body: string;
  }
  // node:http, not fetch: fetch will not send a Host header of our choosing.
  function call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: emu.httpPort, method, path, headers }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }
  const own = () => `127.0.0.1:${emu.httpPort}`;
  const json = { "content-type": "application/json" };
  const offline = JSON.stringify({ product: PID, device: "ghost" }); // no such device online: {ok: false}
  const write = (headers: Record<string, string>) => call("POST", "/api/disconnect", { host: own(), ...headers }, offline);

  it("accepts a same-origin JSON write (with or without Origin, from 127.0.0.1 or localhost)", async () => {
    for (const headers of [json, { ...json, origin: `http://${own()}` }, { "content-type": "application/json; charset=utf-8" }, { ...json, host: `localhost:${emu.httpPort}`, origin: `http://localhost:${emu.httpPort}` }]) {
      const answer = await write(headers);
      assert.equal(answer.status, 200, JSON.stringify(headers));
      assert.deepEqual(JSON.parse(answer.body), { ok: false, error: "device not online" });
    }
  });
  const refused: [string, () => Record<string, string>][] = [
    ["no Content-Type", () => ({})],
    ["Content-Type text/plain (a form or a no-cors fetch)", () => ({ "content-type": "text/plain" })],
    ["Content-Type application/x-www-form-urlencoded", () => ({ "content-type": "application/x-www-form-urlencoded" })],
    ["a foreign Origin", () => ({ ...json, origin: "http://attacker.example" })],
    ["Origin on another port of this machine", () => ({ ...json, origin: "http://127.0.0.1:1" })],
    ["Origin null (sandboxed frame, file:)", () => ({ ...json, origin: "null" })],
    ["Origin https with the console's host", () => ({ ...json, origin: `https://${own()}` })],
    ["a Host header naming another site (DNS rebinding)", () => ({ ...json, host: `attacker.example:${emu.httpPort}` })],
  ];
  for (const [what, headers] of refused) {
    it(`answers 403 to a write with ${what}`, async () => {
      const answer = await write(headers());
      assert.equal(answer.status, 403);
      assert.equal((JSON.parse(answer.body) as { ok: boolean }).ok, false);
    });
  }
  it("answers 403 to any request, page or API, whose Host is not the console's", async () => {
    for (const path of ["/", "/api/state", "/api/events", "/console.js"]) {
      assert.equal((await call("GET", path, { host: `attacker.example:${emu.httpPort}` })).status, 403, path);
    }
    assert.equal((await call("GET", "/api/state", { host: `localhost:${emu.httpPort}` })).status, 200);
  });
});

describe("logs", () => {
  it("never contain a key or a token", () => {
    const all = logLines.join("\n");
    assert.ok(logLines.length > 10);
    for (const secret of [KEY_A, KEY_B, KEY_C, PRODUCT_KEY, "sign="]) assert.equal(all.includes(secret), false, secret);
  });
});
