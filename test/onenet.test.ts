// OneNET device side, Node-only checks: the token against node:crypto (an independent HMAC and base64)
// on random keys, times and names; the firmware's model table against onenet/thing-model.json (the
// file users import in the OneNET console, in the console's export format); token URL-encoding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { token } from "../onenet/token.ts";
import { DEFAULT_MODEL } from "../onenet/model.ts";
import { parseConfig } from "../onenet/config.ts";

interface TmProperty {
  identifier: string;
  accessMode: string;
  functionMode: string;
  functionType: string;
  dataType: { type: string; specs: { min?: string; max?: string; unit?: string; step?: string; length?: number } };
}
const thingModel = JSON.parse(readFileSync(new URL("../onenet/thing-model.json", import.meta.url), "utf8")) as {
  version: string;
  profile: Record<string, string>;
  properties: TmProperty[];
  events: { identifier: string; functionMode: string; eventType: string; outputData: unknown[] }[];
  services: unknown[];
};

test("token equals an independent computation with node:crypto (random keys, et, methods, names)", () => {
  const methods = ["md5", "sha1", "sha256"] as const;
  for (let i = 0; i < 300; i++) {
    const method = methods[i % 3];
    const keyBytes = randomBytes(1 + Math.floor(Math.random() * 64));
    const key = keyBytes.toString("base64");
    const product = randomBytes(6).toString("hex");
    const device = ["dev", "a.b@c", "x-y_z", "温"][i % 4] + i;
    const et = 1 + Math.floor(Math.random() * 2147483646);
    const deviceLevel = i % 5 !== 0;
    const res = deviceLevel ? `products/${product}/devices/${device}` : `products/${product}`;
    const sign = createHmac(method, keyBytes).update(`${et}\n${method}\n${res}\n2018-10-31`).digest("base64");
    const got = token({ product, device: deviceLevel ? device : undefined, key, et, method });
    // field order and exact encoding: version, res, et, method, sign; res and sign percent-encoded
    assert.equal(got, `version=2018-10-31&res=${encodeURIComponent(res)}&et=${et}&method=${method}&sign=${encodeURIComponent(sign)}`);
    // and it parses back to the same values with a standard query parser
    const parsed = new URLSearchParams(got);
    assert.equal(parsed.get("res"), res);
    assert.equal(parsed.get("sign"), sign);
    assert.ok(!/[+=/]/.test(got.slice(got.indexOf("sign=") + 5)), "sign has no raw + / =");
  }
});

test("the token contains % escapes, so it is never passed through a printf-style formatter (facts: makers trip over it)", () => {
  const t = token({ product: "EJyXIoGn8p", device: "test", key: "l3Vdt0EVyzPFR3kZs2XpQzn5v3Ht2VlvATmXxV0zdak=", et: 1596067735, method: "md5" });
  assert.match(t, /%2F/);
});

test("thing-model.json is in the console's export format and matches the firmware's model table", () => {
  assert.equal(thingModel.version, "1.0");
  assert.ok("productId" in thingModel.profile);
  assert.deepEqual(thingModel.services, []);
  const ids = thingModel.properties.map((p) => p.identifier);
  assert.deepEqual(ids, ["temp", "humi", "press", "rssi", "heap", "uptime", "backlog", "interval", "led"]);
  assert.deepEqual(Object.keys(DEFAULT_MODEL), ids);
  const units: Record<string, string> = { temp: "°C", humi: "%RH", press: "hPa", rssi: "dBm", heap: "B", uptime: "s", backlog: "readings", interval: "s" };
  for (const p of thingModel.properties) {
    const spec = DEFAULT_MODEL[p.identifier];
    assert.equal(p.functionMode, "property");
    assert.equal(p.functionType, "u");
    assert.equal(p.accessMode, spec.writable ? "rw" : "r", p.identifier);
    assert.equal(p.dataType.type, spec.type, p.identifier);
    if (spec.type !== "bool") {
      assert.equal(Number(p.dataType.specs.min), spec.min, `${p.identifier} min`);
      assert.equal(Number(p.dataType.specs.max), spec.max, `${p.identifier} max`);
      assert.ok(p.dataType.specs.unit?.endsWith(`/ ${units[p.identifier]}`), `${p.identifier} unit ${p.dataType.specs.unit}`);
    }
  }
  assert.equal(thingModel.events[0].identifier, "alarm");
  assert.equal(thingModel.events[0].functionMode, "event");
});

test("config interval bounds match the thing model's interval range", () => {
  const interval = thingModel.properties.find((p) => p.identifier === "interval")!;
  const base = { product: "p", device: "d", key: "AAAA" };
  assert.equal(parseConfig({ ...base, interval: interval.dataType.specs.min! }).interval, 1);
  assert.equal(parseConfig({ ...base, interval: interval.dataType.specs.max! }).interval, 86400);
  assert.throws(() => parseConfig({ ...base, interval: String(Number(interval.dataType.specs.max) + 1) }), /interval/);
});
