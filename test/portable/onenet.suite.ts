// The OneNET device protocol, pinned: token (the documentation's worked example), topics, OneJSON
// payload shapes, config validation, reply correlation, property set/get, guards and pacing on a
// virtual clock. Runs in Node and inside XS (no Node APIs here), with the `crypt`, `hmac` and `base64`
// modules supplied by the lane.
import { suite, assert } from "./harness";
import { token, signature, stringToSign, tokenResource } from "../../onenet/token";
import { parseConfig, DEFAULT_ET, isBase64 } from "../../onenet/config";
import type { OneNetConfig } from "../../onenet/config";
import { ConfigError, OneNetError } from "../../onenet/errors";
import { Topics, DOWN_GET, DOWN_NONE, DOWN_POST_REPLY, DOWN_SET } from "../../onenet/topics";
import { IdCounter, eventPost, parseGet, parseReply, parseSet, propertyPost, reply, replyMeaning } from "../../onenet/payload";
import { OneNetDevice, checkConnect, checkPublish } from "../../onenet/device";
import type { OneNetLink, ReplyInfo } from "../../onenet/device";
import { utf8Decode, utf8Encode } from "../../lib/utf8";
import { SILENT } from "../../lib/log";
import { logTo } from "./logger";

// docs/onenet.md, "Token": the worked example from OneNET's documentation.
const DOC = { product: "EJyXIoGn8p", device: "test", key: "l3Vdt0EVyzPFR3kZs2XpQzn5v3Ht2VlvATmXxV0zdak=", et: 1596067735 };

const CONFIG: OneNetConfig = parseConfig({ product: "EJyXIoGn8p", device: "test", key: DOC.key });

const text = (b: Uint8Array): string => utf8Decode(b);
const json = (b: Uint8Array): unknown => JSON.parse(utf8Decode(b));

interface Sent {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

class FakeLink implements OneNetLink {
  sent: Sent[] = [];
  subscribed: string[][] = [];
  failNext = 0;
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("client outbox full");
    }
    this.sent.push({ topic, payload: text(payload), qos, retain });
  }
  subscribe(topics: readonly string[], _qos: 0 | 1): void {
    this.subscribed.push(topics.slice());
  }
}

function setup(options: {
  onSet?: (id: string, v: unknown) => boolean | string | void;
  canSet?: (id: string, v: unknown) => true | string;
  onGet?: (id: string) => unknown;
  epoch?: number;
  queueLimit?: number;
}) {
  const link = new FakeLink();
  const logs: string[] = [];
  const replies: ReplyInfo[] = [];
  const device = new OneNetDevice({
    config: CONFIG,
    link,
    onSet: options.onSet,
    canSet: options.canSet,
    onGet: options.onGet,
    onReply: (r) => replies.push(r),
    epochMs: () => options.epoch,
    log: logTo((level, _area, message) => logs.push(`${level} ${message}`)),
    queueLimit: options.queueLimit,
  });
  return { link, logs, replies, device };
}

/** Runs the device on a virtual clock from `from` to `to` ms, calling service() at each deadline. */
function runUntil(device: OneNetDevice, from: number, to: number): number {
  let now = from;
  for (let guard = 0; guard < 10000; guard++) {
    const next = device.service(now);
    if (next > to) return to;
    now = next > now ? next : now + 1;
  }
  throw new Error("runUntil: too many steps");
}

suite("onenet token", (test) => {
  test("the documentation's worked example (md5) gives its exact token string", () => {
    assert.equal(
      token({ ...DOC, method: "md5" }),
      "version=2018-10-31&res=products%2FEJyXIoGn8p%2Fdevices%2Ftest&et=1596067735&method=md5&sign=KjQ3tFpNOHv6Cm2rLjDV%2FA%3D%3D",
    );
  });
  test("sha1 and sha256 over the same inputs (values from node:crypto createHmac)", () => {
    assert.equal(signature("sha1", DOC.key, stringToSign(DOC.et, "sha1", "products/EJyXIoGn8p/devices/test")), "xzqXkjEBGKDRQIiOwA7Jq0mnrLQ=");
    assert.equal(
      token({ ...DOC, method: "sha256" }),
      "version=2018-10-31&res=products%2FEJyXIoGn8p%2Fdevices%2Ftest&et=1596067735&method=sha256&sign=CiUqmTCTrhH2SbrHZzoda57A8cysKXYAuybGx5BcJwk%3D",
    );
  });
  test("string to sign: et, method, res (not URL-encoded), version, joined by newlines", () => {
    assert.equal(stringToSign(1596067735, "md5", "products/EJyXIoGn8p/devices/test"), "1596067735\nmd5\nproducts/EJyXIoGn8p/devices/test\n2018-10-31");
  });
  test("product-level key: res = products/{pid}", () => {
    assert.equal(tokenResource("EJyXIoGn8p"), "products/EJyXIoGn8p");
    assert.equal(
      token({ product: "EJyXIoGn8p", key: DOC.key, et: 2145916800, method: "sha256" }),
      "version=2018-10-31&res=products%2FEJyXIoGn8p&et=2145916800&method=sha256&sign=Hbs7B4SAXmS9MQJne7uk0quETqS1ijU2hkqhZNaIGXo%3D",
    );
  });
  test("default et is fixed, far in the future and at most 2147483647", () => {
    assert.equal(CONFIG.et, DEFAULT_ET);
    assert.ok(DEFAULT_ET <= 2147483647 && DEFAULT_ET > 1900000000);
    assert.equal(CONFIG.method, "sha256");
  });
});

suite("onenet config", (test) => {
  test("defaults: TLS to mqttstls.heclouds.com:8883, interval, keepalive 60, sha256, tokens of a day", () => {
    assert.deepEqual(CONFIG, {
      product: "EJyXIoGn8p",
      device: "test",
      key: DOC.key,
      host: "mqttstls.heclouds.com",
      port: 8883,
      tls: true,
      interval: 10,
      keepalive: 60,
      method: "sha256",
      et: DEFAULT_ET,
      tokenTtl: 86400,
    });
  });
  test("strings from mcconfig are parsed; numbers pass", () => {
    const c = parseConfig({ product: "p1", device: "d-1.x@y", key: "AAAA", port: "8883", keepalive: 10, interval: "30", method: "md5", et: "2147483647" });
    assert.equal(c.port, 8883);
    assert.equal(c.keepalive, 10);
    assert.equal(c.interval, 30);
    assert.equal(c.et, 2147483647);
  });
  const bad: [string, { [k: string]: string | number }, RegExp][] = [
    ["product", { device: "d", key: "AAAA" }, /product: missing/],
    ["product", { product: "a/b", device: "d", key: "AAAA" }, /product: not a OneNET product id/],
    ["device", { product: "p", key: "AAAA" }, /device: missing/],
    ["device", { product: "p", device: "a+b", key: "AAAA" }, /device: not a OneNET device name/],
    ["key", { product: "p", device: "d" }, /key: missing/],
    ["key", { product: "p", device: "d", key: "not base64!" }, /key: not base64 \(copy the device key from the OneNET console\)/],
    ["host", { product: "p", device: "d", key: "AAAA", host: "a b" }, /host:/],
    ["port", { product: "p", device: "d", key: "AAAA", port: "0" }, /port: not an integer in 1\.\.65535/],
    ["interval", { product: "p", device: "d", key: "AAAA", interval: "ten" }, /interval: not an integer in 1\.\.86400/],
    ["keepalive", { product: "p", device: "d", key: "AAAA", keepalive: 5 }, /keepalive: not an integer in 10\.\.1800/],
    ["keepalive", { product: "p", device: "d", key: "AAAA", keepalive: "1801" }, /keepalive: not an integer in 10\.\.1800/],
    ["method", { product: "p", device: "d", key: "AAAA", method: "sm2" }, /method: not md5, sha1 or sha256/],
    ["et", { product: "p", device: "d", key: "AAAA", et: "2147483648" }, /et: not an integer in 1\.\.2147483647/],
  ];
  for (const [key, source, pattern] of bad) {
    test(`bad ${key} (${JSON.stringify(source[key] ?? "missing")}) throws ConfigError naming it`, () => {
      assert.throws(() => parseConfig(source), ConfigError, pattern);
      try {
        parseConfig(source);
      } catch (e) {
        assert.equal((e as ConfigError).key, key);
      }
    });
  }
  test("a bad key's value never appears in the error", () => {
    try {
      parseConfig({ product: "p", device: "d", key: "s3cr3t-value" });
      assert.ok(false, "should throw");
    } catch (e) {
      assert.ok((e as Error).message.indexOf("s3cr3t") < 0);
    }
  });
  test("isBase64 is strict (padding, alphabet, length)", () => {
    assert.ok(isBase64(DOC.key));
    assert.ok(!isBase64("AAA"));
    assert.ok(!isBase64("AA=A"));
    assert.ok(!isBase64("AA AA"));
    assert.ok(!isBase64("A==="));
  });
});

suite("onenet topics", (test) => {
  const t = new Topics("pid", "dev");
  test("thing-model topics under $sys/{pid}/{device}/", () => {
    assert.equal(t.propertyPost, "$sys/pid/dev/thing/property/post");
    assert.equal(t.propertyPostReply, "$sys/pid/dev/thing/property/post/reply");
    assert.equal(t.propertySet, "$sys/pid/dev/thing/property/set");
    assert.equal(t.propertySetReply, "$sys/pid/dev/thing/property/set_reply");
    assert.equal(t.propertyGet, "$sys/pid/dev/thing/property/get");
    assert.equal(t.propertyGetReply, "$sys/pid/dev/thing/property/get_reply");
    assert.equal(t.eventPost, "$sys/pid/dev/thing/event/post");
    assert.equal(t.eventPostReply, "$sys/pid/dev/thing/event/post/reply");
    assert.equal(t.thingAll, "$sys/pid/dev/thing/#");
  });
  test("classify downlink; owns only the device's own space", () => {
    assert.equal(t.classify("$sys/pid/dev/thing/property/set"), DOWN_SET);
    assert.equal(t.classify("$sys/pid/dev/thing/property/get"), DOWN_GET);
    assert.equal(t.classify("$sys/pid/dev/thing/property/post/reply"), DOWN_POST_REPLY);
    assert.equal(t.classify("$sys/pid/other/thing/property/set"), DOWN_NONE);
    assert.ok(t.owns("$sys/pid/dev/thing/property/post"));
    assert.ok(!t.owns("$sys/pid/devX/thing/property/post"));
    assert.ok(!t.owns("$sys/pid/dev/"));
  });
});

suite("onenet payloads", (test) => {
  test("property post: id string, version, value wrapper and time in ms", () => {
    assert.equal(
      text(propertyPost("123", { temp: 23.6, led: true }, 1599534283111)),
      '{"id":"123","version":"1.0","params":{"temp":{"value":23.6,"time":1599534283111},"led":{"value":true,"time":1599534283111}}}',
    );
  });
  test("property post without a known clock carries no time", () => {
    assert.equal(text(propertyPost("1", { humi: 41 })), '{"id":"1","version":"1.0","params":{"humi":{"value":41}}}');
  });
  test("property post is written as text byte for byte as JSON.stringify writes the nested objects", () => {
    // The reference: the message as plain objects, serialised by the engine (what the platform parses).
    const nested = (id: string, params: { [k: string]: unknown }, time?: number): string => {
      const out: { [k: string]: unknown } = {};
      for (const k in params) if (params[k] !== undefined) out[k] = time === undefined ? { value: params[k] } : { value: params[k], time: Math.floor(time) };
      return JSON.stringify({ id, version: "1.0", params: out });
    };
    const cases: { [k: string]: unknown }[] = [
      { temp: 23.6, humi: 0.1 + 0.2, press: 1e21, rssi: -0, heap: 2147483647, tiny: -1.5e-7, big: 123456789012345680000 },
      { b: 1, 7: 2, a: 3, 0: true, skipped: undefined },
      { note: 'q"\\\n\u0001 温度 🌡', on: false, obj: { code: 1, msg: "x", list: [1, "二"] } },
      { odd: { toJSON: () => undefined }, n: 5 },
    ];
    for (const params of cases) {
      for (const time of [undefined, 1700000000000, 1700000000000.75, NaN]) {
        assert.equal(text(propertyPost("42", params, time)), nested("42", params, time), `${JSON.stringify(params)} at ${time}`);
      }
    }
  });
  test("report: the checked one-pass post has the bytes of the nested objects too", () => {
    const { device, link } = setup({ epoch: 1700000000000.5 });
    device.onConnected(0);
    const all = { temp: -40, humi: 100, press: 1013.25, rssi: -0, heap: 2147483647, uptime: 0, backlog: 7, interval: 10, led: true };
    device.report(all, 0);
    device.report({ temp: 0.1 + 0.2, humi: undefined }, 0, { time: undefined, qos: 0 });
    runUntil(device, 0, 3000);
    const out: { [k: string]: unknown } = {};
    for (const k in all) out[k] = { value: all[k as keyof typeof all], time: 1700000000000 };
    assert.equal(link.sent[0].payload, JSON.stringify({ id: "1", version: "1.0", params: out }));
    assert.equal(link.sent[1].payload, JSON.stringify({ id: "2", version: "1.0", params: { temp: { value: 0.1 + 0.2 } } }));
  });
  test("property post refuses NaN, Infinity and bad identifiers locally", () => {
    assert.throws(() => propertyPost("1", { temp: NaN }), OneNetError, /temp: value NaN/);
    assert.throws(() => propertyPost("1", { temp: Infinity }), OneNetError, /not a finite number/);
    assert.throws(() => propertyPost("1", { 'a"b': 1 }), OneNetError, /bad identifier/);
    assert.throws(() => propertyPost("1", {}), OneNetError, /no values/);
  });
  test("event post: value object and time", () => {
    assert.deepEqual(json(eventPost("7", "alarm", { code: 3, msg: "温度" }, 5)), {
      id: "7",
      version: "1.0",
      params: { alarm: { value: { code: 3, msg: "温度" }, time: 5 } },
    });
  });
  test("non-ASCII strings, odd ids from the cloud and large payloads are valid JSON", () => {
    assert.deepEqual(json(propertyPost("8", { note: "温度 °C \"q\" 🌡" })), { id: "8", version: "1.0", params: { note: { value: "温度 °C \"q\" 🌡" } } });
    assert.deepEqual(json(reply('a"b\\c', 100, "refused: é")), { id: 'a"b\\c', code: 100, msg: "refused: é" });
    const big: { [k: string]: number } = {};
    for (let i = 0; i < 60; i++) big[`p${i}`] = i * 1.5;
    const parsed = json(propertyPost("9", big, 1700000000000)) as { params: { [k: string]: { value: number; time: number } } };
    assert.equal(Object.keys(parsed.params).length, 60);
    assert.equal(parsed.params.p59.value, 88.5);
    assert.equal(parsed.params.p59.time, 1700000000000);
    // the shared scratch buffer is left clean after an error
    assert.throws(() => propertyPost("10", { temp: 1, bad: NaN }), OneNetError, /bad: value NaN/);
    assert.equal(text(propertyPost("11", { temp: 1 })), '{"id":"11","version":"1.0","params":{"temp":{"value":1}}}');
  });
  test("set/get replies", () => {
    assert.equal(text(reply("9", 200, "success")), '{"id":"9","code":200,"msg":"success"}');
    assert.equal(text(reply("9", 200, "success", { temp: 23.6 })), '{"id":"9","code":200,"msg":"success","data":{"temp":23.6}}');
  });
  test("ids: per-boot counter 1, 2, 3 …", () => {
    const ids = new IdCounter();
    assert.equal(ids.next(), "1");
    assert.equal(ids.next(), "2");
    assert.equal(ids.next(), "3");
  });
  test("parse reply / set / get", () => {
    assert.deepEqual(parseReply(utf8Encode('{"id":"123","code":309,"msg":"identifier not exist"}')), { id: "123", code: 309, msg: "identifier not exist" });
    assert.deepEqual(parseSet(utf8Encode('{"id":"5","version":"1.0","params":{"interval":30,"led":true}}')), { id: "5", params: { interval: 30, led: true } });
    assert.deepEqual(parseGet(utf8Encode('{"id":"6","version":"1.0","params":["temp","humi"]}')), { id: "6", params: ["temp", "humi"] });
  });
  test("reply code meanings", () => {
    assert.equal(replyMeaning(301), "bad JSON (payload format)");
    assert.equal(replyMeaning(302), "data type error");
    assert.equal(replyMeaning(309), "identifier does not exist");
    assert.equal(replyMeaning(312), "invalid message id");
    assert.equal(replyMeaning(313), "bad request");
  });
});

suite("onenet device", (test) => {
  test("connect options: clientId = device, username = product, password = token, clean, keepalive", () => {
    const { device } = setup({});
    const o = device.connectOptions();
    assert.equal(o.clientId, "test");
    assert.equal(o.username, "EJyXIoGn8p");
    assert.equal(o.clean, true);
    assert.equal(o.keepalive, 60);
    assert.equal(text(o.password), token({ product: "EJyXIoGn8p", device: "test", key: DOC.key, et: DEFAULT_ET, method: "sha256" }));
  });
  test("guards: will, clean 0, keepalive out of 10..1800, identity mismatch", () => {
    const base = { clientId: "test", username: "EJyXIoGn8p", clean: true, keepalive: 60 };
    checkConnect(CONFIG, base);
    assert.throws(() => checkConnect(CONFIG, { ...base, will: { topic: "x" } }), OneNetError, /will refused/);
    assert.throws(() => checkConnect(CONFIG, { ...base, clean: false }), OneNetError, /clean session 0 refused/);
    assert.throws(() => checkConnect(CONFIG, { ...base, keepalive: 9 }), OneNetError, /keepalive 9 refused/);
    assert.throws(() => checkConnect(CONFIG, { ...base, keepalive: 1801 }), OneNetError, /keepalive 1801 refused/);
    assert.throws(() => checkConnect(CONFIG, { ...base, clientId: "x" }), OneNetError, /clientId/);
  });
  test("guards: QoS 2, retain and foreign topics refused locally, nothing sent", () => {
    const { device, link } = setup({});
    const t = device.topics;
    assert.throws(() => checkPublish(t, t.propertyPost, 2, false), OneNetError, /QoS 2 refused/);
    assert.throws(() => device.publish(t.propertyPost, new Uint8Array(1), 2, false, 0), OneNetError, /QoS 2 refused/);
    assert.throws(() => device.publish(t.propertyPost, new Uint8Array(1), 1, true, 0), OneNetError, /retain refused/);
    assert.throws(() => device.publish("$sys/EJyXIoGn8p/other/thing/property/post", new Uint8Array(1), 0, false, 0), OneNetError, /may publish only under/);
    device.onConnected(0);
    runUntil(device, 0, 5000);
    assert.equal(link.sent.length, 0);
  });
  test("subscribes right after CONNACK in one SUBSCRIBE; thing/# on request", () => {
    const { device, link } = setup({});
    device.onConnected(0);
    assert.deepEqual(link.subscribed, [device.topics.subscriptions()]);
    const l2 = new FakeLink();
    const d2 = new OneNetDevice({ config: CONFIG, link: l2, subscribeAll: true, log: SILENT });
    d2.onConnected(0);
    assert.deepEqual(l2.subscribed, [["$sys/EJyXIoGn8p/test/thing/#"]]);
  });
  test("reconnect: subscribes again, unless the client restores subscriptions itself", () => {
    const { device, link } = setup({});
    device.onConnected(0);
    device.onDisconnected(10);
    device.onConnected(20);
    assert.equal(link.subscribed.length, 2);
    const l2 = new FakeLink();
    const restoring = { publish: l2.publish.bind(l2), subscribe: l2.subscribe.bind(l2), restoresSubscriptions: true };
    const d2 = new OneNetDevice({ config: CONFIG, link: restoring, log: SILENT });
    d2.onConnected(0);
    d2.onDisconnected(10);
    d2.onConnected(20);
    assert.equal(l2.subscribed.length, 1);
  });
  test("report: QoS 1 OneJSON on property/post, ids 1, 2, 3, time from the clock", () => {
    const { device, link } = setup({ epoch: 1700000000000 });
    device.onConnected(0);
    assert.equal(device.report({ temp: 21.5, humi: 40 }, 0), "1");
    assert.equal(device.report({ temp: 21.6 }, 0), "2");
    assert.equal(device.postEvent("alarm", { code: 1, msg: "x" }, 0), "3");
    runUntil(device, 0, 3000);
    assert.equal(link.sent.length, 3);
    assert.equal(link.sent[0].topic, "$sys/EJyXIoGn8p/test/thing/property/post");
    assert.equal(link.sent[0].qos, 1);
    assert.equal(link.sent[0].retain, false);
    assert.equal(link.sent[0].payload, '{"id":"1","version":"1.0","params":{"temp":{"value":21.5,"time":1700000000000},"humi":{"value":40,"time":1700000000000}}}');
    assert.equal(link.sent[2].topic, "$sys/EJyXIoGn8p/test/thing/event/post");
  });
  test("report refuses unknown identifiers (309) and wrong types (302) locally", () => {
    const { device } = setup({});
    assert.throws(() => device.report({ tmp: 1 }, 0), OneNetError, /tmp is not in the thing model \(the platform would answer 309\)/);
    assert.throws(() => device.report({ uptime: 1.5 }, 0), OneNetError, /uptime not an integer \(the platform would answer 302\)/);
    assert.throws(() => device.report({ led: 1 }, 0), OneNetError, /led not a boolean/);
    assert.equal(device.report({ uptime: 2 }, 0), "1", "refused reports take no id");
  });
  test("pacing: at most one uplink message per second, the excess queued in order, none dropped", () => {
    const { device, link } = setup({});
    const times: number[] = [];
    const orig = link.publish.bind(link);
    let now = 0;
    link.publish = (t, p, q, r) => {
      times.push(now);
      orig(t, p, q, r);
    };
    device.onConnected(0);
    for (let i = 0; i < 10; i++) device.report({ uptime: i }, 0);
    for (now = 0; now <= 20000; now += 50) device.service(now);
    assert.equal(link.sent.length, 10);
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 1000, `gap ${times[i] - times[i - 1]} ms`);
    for (let i = 0; i < 10; i++) assert.equal((json(utf8Encode(link.sent[i].payload)) as { id: string }).id, String(i + 1));
  });
  test("bounded queue: a report beyond the limit is refused with an error, not dropped silently", () => {
    const { device } = setup({ queueLimit: 3 });
    device.report({ uptime: 1 }, 0);
    device.report({ uptime: 2 }, 0);
    device.report({ uptime: 3 }, 0);
    assert.throws(() => device.report({ uptime: 4 }, 0), OneNetError, /uplink queue full/);
  });
  test("offline: QoS 1 posts go straight to the client's (persisted) outbox with their id and time; refused ones wait in order", () => {
    let epoch = 1700000000000;
    const link = new FakeLink();
    const device = new OneNetDevice({ config: CONFIG, link, epochMs: () => epoch, log: SILENT });
    device.report({ temp: 20 }, 0);
    assert.equal(device.service(0), Infinity, "offline: no timer needed");
    assert.equal(link.sent.length, 1);
    assert.equal(link.sent[0].payload, '{"id":"1","version":"1.0","params":{"temp":{"value":20,"time":1700000000000}}}');
    // the client's outbox is full: later posts stay here, in order, and are not dropped
    link.failNext = 1;
    epoch += 60000;
    device.report({ temp: 21 }, 60000);
    device.report({ temp: 22 }, 60000);
    device.service(60000);
    assert.equal(link.sent.length, 1);
    assert.equal(device.queued, 2);
    epoch += 60000;
    device.onConnected(120000);
    runUntil(device, 120000, 123000);
    assert.deepEqual(link.sent.map((m) => m.payload), [
      '{"id":"1","version":"1.0","params":{"temp":{"value":20,"time":1700000000000}}}',
      '{"id":"2","version":"1.0","params":{"temp":{"value":21,"time":1700000060000}}}',
      '{"id":"3","version":"1.0","params":{"temp":{"value":22,"time":1700000060000}}}',
    ]);
    assert.equal(device.awaitingReplies, 3);
  });
  test("a publish the client refuses is retried later with the same bytes (same id and time)", () => {
    const { device, link, logs } = setup({ epoch: 1700000000000 });
    device.onConnected(0);
    device.report({ temp: 20 }, 0);
    link.failNext = 2;
    device.service(0);
    device.service(1000);
    assert.equal(link.sent.length, 0);
    device.service(2000);
    assert.equal(link.sent.length, 1);
    assert.equal(link.sent[0].payload, '{"id":"1","version":"1.0","params":{"temp":{"value":20,"time":1700000000000}}}');
    assert.ok(logs.some((l) => l.startsWith("WARN publish deferred id=1")));
  });
  test("replies correlated by id; non-200 logged with its meaning; missing replies time out", () => {
    const { device, link, logs, replies } = setup({});
    device.onConnected(0);
    device.report({ temp: 1 }, 0);
    device.report({ temp: 2 }, 0);
    device.report({ temp: 3 }, 0);
    runUntil(device, 0, 2500);
    assert.equal(device.awaitingReplies, 3);
    const t = device.topics;
    device.onMessage(t.propertyPostReply, utf8Encode('{"id":"2","code":200,"msg":"success"}'), 2600);
    device.onMessage(t.propertyPostReply, utf8Encode('{"id":"1","code":309,"msg":"identifier not exist"}'), 2700);
    assert.equal(device.awaitingReplies, 1);
    assert.deepEqual(replies.map((r) => [r.id, r.code, r.kind]), [["2", 200, "property"], ["1", 309, "property"]]);
    assert.ok(logs.indexOf('WARN property post id=1 refused code=309 (identifier does not exist) msg="identifier not exist"') >= 0, logs.join("\n"));
    runUntil(device, 2700, 40000);
    assert.equal(device.awaitingReplies, 0);
    assert.equal(device.stats.missingReplies, 1);
    assert.ok(logs.some((l) => l.startsWith("WARN no reply to property post id=3")));
    assert.equal(link.sent.length, 3);
  });
  test("property set: writable values applied through the app, set_reply 200 with the same id", () => {
    const applied: [string, unknown][] = [];
    const { device, link } = setup({ onSet: (id, v) => void applied.push([id, v]) });
    device.onConnected(0);
    device.onMessage(device.topics.propertySet, utf8Encode('{"id":"42","version":"1.0","params":{"interval":30,"led":true}}'), 0);
    device.service(0);
    assert.deepEqual(applied, [["interval", 30], ["led", true]]);
    assert.equal(link.sent[0].topic, "$sys/EJyXIoGn8p/test/thing/property/set_reply");
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), { id: "42", code: 200, msg: "success" });
  });
  test("property set: read-only, unknown or badly typed values refused with 100 naming them, none applied", () => {
    const applied: string[] = [];
    const { device, link } = setup({ onSet: (id) => void applied.push(id) });
    device.onConnected(0);
    device.onMessage(device.topics.propertySet, utf8Encode('{"id":"43","params":{"interval":0,"temp":5,"foo":1,"led":"on"}}'), 0);
    device.service(0);
    assert.deepEqual(applied, []);
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), {
      id: "43",
      code: 100,
      msg: "refused: interval (out of range 1..86400), temp (read-only), foo (unknown identifier), led (not a boolean)",
    });
  });
  test("property set: the app may refuse one value with a reason", () => {
    const { device, link } = setup({ onSet: (id) => (id === "led" ? "no LED on this board" : true) });
    device.onConnected(0);
    device.onMessage(device.topics.propertySet, utf8Encode('{"id":"44","params":{"led":false}}'), 0);
    device.service(0);
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), { id: "44", code: 100, msg: "refused: led (no LED on this board)" });
  });
  test("property set is all or nothing: a value the app cannot apply (canSet) stops every other one", () => {
    const applied: string[] = [];
    const { device, link } = setup({
      canSet: (id) => (id === "led" ? "no LED on this board" : true),
      onSet: (id) => void applied.push(id),
    });
    device.onConnected(0);
    device.onMessage(device.topics.propertySet, utf8Encode('{"id":"45","params":{"interval":7,"led":true}}'), 0);
    device.service(0);
    assert.deepEqual(applied, [], "interval was not applied either");
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), { id: "45", code: 100, msg: "refused: led (no LED on this board)" });
  });
  test("property set that is not JSON is logged; with a readable id it is answered 100", () => {
    const { device, link, logs } = setup({});
    device.onConnected(0);
    device.onMessage(device.topics.propertySet, utf8Encode("{not json"), 0);
    device.onMessage(device.topics.propertySet, utf8Encode('{"id":"45","params":[1]}'), 0);
    runUntil(device, 0, 3000);
    assert.equal(link.sent.length, 1);
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), { id: "45", code: 100, msg: "bad request: set 45: params is not an object" });
    assert.ok(logs.some((l) => l === "WARN bad property set: payload is not JSON"));
  });
  test("property get: get_reply with data from the app or the last report", () => {
    const { device, link } = setup({ onGet: (id) => (id === "led" ? true : undefined) });
    device.onConnected(0);
    device.report({ temp: 22.5 }, 0);
    device.onMessage(device.topics.propertyGet, utf8Encode('{"id":"50","version":"1.0","params":["temp","led"]}'), 0);
    runUntil(device, 0, 2500);
    // replies go before queued posts
    assert.equal(link.sent[0].topic, "$sys/EJyXIoGn8p/test/thing/property/get_reply");
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), { id: "50", code: 200, msg: "success", data: { temp: 22.5, led: true } });
    device.onMessage(device.topics.propertyGet, utf8Encode('{"id":"51","params":["humi"]}'), 3000);
    runUntil(device, 3000, 5000);
    assert.deepEqual(json(utf8Encode(link.sent[2].payload)), { id: "51", code: 100, msg: "no value for: humi", data: {} });
  });
  test("property get: a refused report leaves the last reported values as they were", () => {
    const { device, link } = setup({});
    device.onConnected(0);
    device.report({ temp: 22.5, humi: 40 }, 0);
    assert.throws(() => device.report({ temp: 23, humi: 101 }, 0), OneNetError, /humi out of range/);
    assert.throws(() => device.report({ temp: 24, tmp: 1 }, 0), OneNetError, /309/);
    device.onMessage(device.topics.propertyGet, utf8Encode('{"id":"52","params":["temp","humi"]}'), 0);
    runUntil(device, 0, 100);
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), { id: "52", code: 200, msg: "success", data: { temp: 22.5, humi: 40 } });
  });
  test("hostile get: inherited names (toString, __proto__, constructor) are unknown identifiers, answered 100, nothing thrown", () => {
    const { device, link } = setup({});
    device.onConnected(0);
    device.onMessage(device.topics.propertyGet, utf8Encode('{"id":"60","params":["toString","__proto__","constructor","hasOwnProperty"]}'), 0);
    runUntil(device, 0, 100);
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), {
      id: "60", code: 100, msg: "no value for: toString, __proto__, constructor, hasOwnProperty", data: {},
    });
  });
  test("hostile set: __proto__ and toString are unknown identifiers; nothing is applied, no prototype changes", () => {
    const applied: string[] = [];
    const { device, link } = setup({ onSet: (id) => void applied.push(id) });
    device.onConnected(0);
    device.onMessage(device.topics.propertySet, utf8Encode('{"id":"61","params":{"__proto__":{"writable":true},"toString":1}}'), 0);
    runUntil(device, 0, 100);
    assert.deepEqual(applied, []);
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), { id: "61", code: 100, msg: "refused: __proto__ (unknown identifier), toString (unknown identifier)" });
    assert.equal(({} as { writable?: boolean }).writable, undefined);
  });
  test("deep JSON is refused on the bytes, before JSON.parse can overflow the 512-slot stack", () => {
    const { device, link, logs } = setup({});
    device.onConnected(0);
    const deep = '{"id":"62","params":{"led":' + "[".repeat(7000) + "]".repeat(7000) + "}}";
    device.onMessage(device.topics.propertySet, utf8Encode(deep), 0);
    const nested = '{"id":"63","params":{"led":' + "[".repeat(300) + "]".repeat(300) + "}}";
    device.onMessage(device.topics.propertySet, utf8Encode(nested), 0);
    runUntil(device, 0, 100);
    assert.ok(logs.some((l) => l === "WARN bad property set: payload of 14029 bytes is over 4096"), logs.join("\n"));
    assert.ok(logs.some((l) => l === "WARN bad property set: payload nested deeper than 8"), logs.join("\n"));
    assert.equal(link.sent.length, 0, "no id could be read safely: nothing to answer");
  });
  test("brackets inside strings do not count as depth; invalid UTF-8 is refused", () => {
    const { device, link, logs } = setup({ onSet: () => true });
    device.onConnected(0);
    device.onMessage(device.topics.propertySet, utf8Encode('{"id":"64","params":{"interval":5},"note":"' + "[{".repeat(40) + '"}'), 0);
    device.onMessage(device.topics.propertySet, new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 0);
    runUntil(device, 0, 100);
    assert.deepEqual(json(utf8Encode(link.sent[0].payload)), { id: "64", code: 200, msg: "success" });
    assert.ok(logs.some((l) => l === "WARN bad property set: payload is not UTF-8"), logs.join("\n"));
  });
  test("ids that are not the platform's 1..13 digits are refused, never echoed (a 200-digit id)", () => {
    const { device, link, logs } = setup({});
    device.onConnected(0);
    device.onMessage(device.topics.propertyGet, utf8Encode('{"id":"' + "9".repeat(200) + '","params":["temp"]}'), 0);
    runUntil(device, 0, 100);
    assert.equal(link.sent.length, 0);
    assert.ok(logs.some((l) => l === "WARN bad property get: payload has no valid id (1..13 digits)"), logs.join("\n"));
  });
  test("a set flood keeps only the newest replies (bounded queue, drops counted); the last value wins", () => {
    const applied: unknown[] = [];
    const { device, link } = setup({ onSet: (_id, v) => void applied.push(v) });
    device.onConnected(0);
    for (let i = 1; i <= 1000; i++) {
      device.onMessage(device.topics.propertySet, utf8Encode(`{"id":"${i}","params":{"interval":${(i % 50) + 1}}}`), 0);
    }
    assert.equal(device.queued, 8);
    assert.equal(device.stats.repliesDropped, 992);
    assert.equal(applied[applied.length - 1], (1000 % 50) + 1);
    runUntil(device, 0, 10000);
    assert.deepEqual(link.sent.map((m) => (json(utf8Encode(m.payload)) as { id: string }).id), ["993", "994", "995", "996", "997", "998", "999", "1000"]);
  });
  test("a reply that echoes a long refusal is capped; a message larger than the link takes is dropped, not retried forever", () => {
    const { device, link, logs } = setup({ onSet: () => true });
    device.onConnected(0);
    const names = Array.from({ length: 60 }, (_, i) => `"bogus_identifier_number_${i}":1`).join(",");
    device.onMessage(device.topics.propertySet, utf8Encode(`{"id":"70","params":{${names}}}`), 0);
    runUntil(device, 0, 100);
    const msg = (json(utf8Encode(link.sent[0].payload)) as { msg: string }).msg;
    assert.equal(msg.length, 120);
    assert.ok(msg.endsWith("…"));
    // a post that can never fit: dropped at once with an error, and the next one still goes out
    device.publish(device.topics.prefix + "thing/custom", new Uint8Array(5000), 0, false, 2000);
    device.report({ temp: 20 }, 2000);
    runUntil(device, 2000, 4000);
    assert.equal(device.stats.tooLarge, 1);
    assert.ok(logs.some((l) => /^ERROR message of 5\d\d\d bytes dropped/.test(l)), logs.join("\n"));
    assert.equal(link.sent[1].topic, device.topics.propertyPost);
  });
  test("messages on other topics are not taken", () => {
    const { device } = setup({});
    assert.equal(device.onMessage("$sys/EJyXIoGn8p/test/thing/service/x/invoke", utf8Encode("{}"), 0), false);
  });
});
