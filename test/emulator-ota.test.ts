// The emulator's OTA side (tools/emulator/ota.ts, ota-http.ts; docs/onenet.md "OTA"): OneNET's fuse-ota
// HTTP API on the console's port and over HTTPS, spoken to with Node's fetch and https as a device
// would: version, check, download (whole and ranged), status steps; the device token as Authorization
// (refused when bad or expired, as the MQTT password is); bounded JSON bodies. Starting a task sends
// ota/inform to each online device of the product (MQTT.js logged in as the device), and its
// inform_reply is counted.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmulator, type Emulator } from "../tools/emulator/index.ts";
import { makeTestPki } from "../tools/emulator/pki.ts";
import { connectOk, deviceToken, publish, subscribe, until, untilOta, type TestDevice } from "../tools/emulator/testing.ts";

const key = (s: string) => Buffer.from(s.padEnd(32, "-")).toString("base64");
const A = { product: "Pota", device: "dev-a", key: key("ota-a") };
const B = { product: "Pota", device: "dev-b", key: key("ota-b") };
const C = { product: "Pother", device: "dev-c", key: key("ota-c") };
const IMAGE = randomBytes(8260);
const MD5 = createHash("md5").update(IMAGE).digest("hex");

let emu: Emulator;
const devices: TestDevice[] = [];
before(async () => {
  emu = await startEmulator({ devices: [A, B, C], port: 0, httpPort: 0, tlsPort: 0, apiTlsPort: 0, uplinkIntervalMs: 0, log: () => {} });
});
after(async () => {
  for (const d of devices) await d.end();
  await emu?.close();
});

type Dev = typeof A;
const api = (dev: Dev, tail: string) => `${emu.apiUrl}/fuse-ota/${dev.product}/${dev.device}/${tail}`;
const auth = (dev: Dev, token = deviceToken(dev)) => ({ authorization: token });
async function json(r: Response): Promise<{ code: number; msg: string; request_id: string; data?: Record<string, unknown> }> {
  assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
  const body = (await r.json()) as { code: number; msg: string; request_id: string; data?: Record<string, unknown> };
  assert.match(body.request_id, /^[0-9a-f]{32}$/, "every answer carries a request_id");
  return body;
}
const check = (dev: Dev, version: string) => fetch(api(dev, `check?type=2&version=${version}`), { headers: auth(dev) });
const postJson = (dev: Dev, tail: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(api(dev, tail), { method: "POST", headers: { ...auth(dev), "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

test("fuse-ota: version is recorded; with no task, check answers code 11 not exist", async () => {
  const r = await postJson(A, "version", { s_version: "1.2.0" });
  assert.equal(r.status, 200);
  assert.deepEqual(await json(r).then(({ code, msg }) => ({ code, msg })), { code: 0, msg: "succ" });
  assert.equal(emu.otaState(A.device).version, "1.2.0");
  const c = await check(A, "1.2.0");
  assert.equal(c.status, 200);
  const body = await json(c);
  assert.equal(body.code, 11);
  assert.equal(body.msg, "not exist");
  assert.equal(body.data, undefined);
});

test("fuse-ota: Authorization is the device token, checked like the MQTT password: missing, bad sign, another device's, expired -> 401 code 10401", async () => {
  const expired = deviceToken(A, Math.floor(Date.now() / 1000) - 1);
  const otherKey = deviceToken({ ...A, key: key("not-a's-key") });
  const cases: [string, Record<string, string>][] = [
    ["missing", {}],
    ["garbage", { authorization: "hello" }],
    ["signed with another key", { authorization: otherKey }],
    ["device b's token", { authorization: deviceToken(B) }],
    ["expired", { authorization: expired }],
  ];
  for (const [what, headers] of cases) {
    for (const [url, init] of [
      [api(A, "version"), { method: "POST", body: JSON.stringify({ s_version: "9.9.9" }) }],
      [api(A, "check?type=2&version=9.9.9"), {}],
      [api(A, "1/download"), {}],
      [api(A, "1/status"), { method: "POST", body: JSON.stringify({ step: 1 }) }],
    ] as const) {
      const r = await fetch(url, { ...init, headers });
      assert.equal(r.status, 401, `${what}: ${url}`);
      const body = await json(r);
      assert.deepEqual({ code: body.code, msg: body.msg }, { code: 10401, msg: "auth failed" });
    }
  }
  assert.equal(emu.otaState(A.device).version, "1.2.0", "a refused request records nothing");
  // The same token with a far expiry passes (the refusals above are about the token, not the route).
  assert.equal((await postJson(A, "version", { s_version: "1.2.0" })).status, 200);
});

test("fuse-ota: bodies are bounded (1 KB) and must be JSON objects; steps and versions are validated; other paths are 404", async () => {
  const big = JSON.stringify({ s_version: "1.2.0", pad: "x".repeat(1100) });
  for (const [body, why] of [
    [big, /over 1024 bytes/],
    ["not json", /not JSON/],
    ["[1,2]", /not a JSON object/],
    [{ s_version: "" }, /s_version/],
    [{ s_version: "1.2.0 beta" }, /s_version/],
    [{ version: "1.2.0" }, /s_version/],
  ] as const) {
    const r = await postJson(A, "version", body);
    assert.equal(r.status, 400, String(body).slice(0, 40));
    const answer = await json(r);
    assert.notEqual(answer.code, 0);
    assert.match(answer.msg, why);
  }
  assert.equal((await fetch(api(A, "check?version=1.2.0"), { headers: auth(A) })).status, 400, "check without type");
  assert.equal((await fetch(api(A, "check?type=2"), { headers: auth(A) })).status, 400, "check without version");
  for (const [method, tail] of [["GET", "version"], ["POST", "check?type=2&version=1"], ["GET", "1/status"], ["GET", "x/download"], ["GET", "1/download/more"], ["GET", ""]] as const) {
    const r = await fetch(api(A, tail), { method, headers: auth(A), body: method === "POST" ? "{}" : undefined });
    assert.equal(r.status, 404, `${method} ${tail}`);
    assert.notEqual((await json(r)).code, 0);
  }
  assert.equal(emu.otaState(A.device).version, "1.2.0");
});

test("fuse-ota is exempt from the console's browser rules (devices send no JSON content type and may carry any Origin) but not from Authorization", async () => {
  const r = await fetch(api(A, "version"), { method: "POST", headers: { ...auth(A), "content-type": "text/plain", origin: "http://elsewhere.example" }, body: JSON.stringify({ s_version: "1.2.1" }) });
  assert.equal(r.status, 200);
  assert.equal(emu.otaState(A.device).version, "1.2.1");
  // The console's own API keeps its rules: the same request to /api/ota is refused.
  const w = await fetch(`${emu.consoleUrl}api/ota`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ version: "9.9.9", image: "AAAA" }) });
  assert.equal(w.status, 403);
  assert.deepEqual(emu.otaTasks(), []);
  await postJson(A, "version", { s_version: "1.2.0" });
});

let tid = 0;
test("a task (image + target): check offers target, tid, size and MD5; download whole (200) and ranged (206, Content-Range), 416 past the end, 404 for an unknown tid", async () => {
  const task = emu.startOta(IMAGE, "1.3.0", A.product);
  tid = task.tid;
  assert.deepEqual({ size: task.size, md5: task.md5, target: task.target, type: task.type }, { size: 8260, md5: MD5, target: "1.3.0", type: 1 });
  const c = await json(await check(A, "1.2.0"));
  assert.deepEqual({ code: c.code, data: c.data }, { code: 0, data: { target: "1.3.0", tid, size: 8260, md5: MD5, status: 1, type: 1 } });
  assert.equal((await json(await check(A, "1.3.0"))).code, 11, "a device already on the target has no task");
  assert.equal((await json(await check(C, "1.2.0"))).code, 11, "another product has no task");

  const whole = await fetch(api(A, `${tid}/download`), { headers: auth(A) });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get("content-type"), "application/octet-stream");
  assert.ok(Buffer.from(await whole.arrayBuffer()).equals(IMAGE), "the whole image");
  for (const [range, start, end] of [["bytes=0-1023", 0, 1023], ["bytes=4096-8191", 4096, 8191], ["bytes=8000-", 8000, 8259], ["bytes=8200-9999", 8200, 8259], ["bytes=-60", 8200, 8259], ["bytes=8259-8259", 8259, 8259]] as const) {
    const r = await fetch(api(A, `${tid}/download`), { headers: { ...auth(A), range } });
    assert.equal(r.status, 206, range);
    assert.equal(r.headers.get("content-range"), `bytes ${start}-${end}/8260`, range);
    assert.equal(r.headers.get("content-type"), "application/octet-stream");
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(IMAGE.subarray(start, end + 1)), `${range}: exactly those bytes`);
  }
  for (const range of ["bytes=8260-", "bytes=9000-9100", "bytes=10-5", "bytes=-0", "items=0-1"]) {
    const r = await fetch(api(A, `${tid}/download`), { headers: { ...auth(A), range } });
    assert.equal(r.status, 416, range);
    assert.equal(r.headers.get("content-range"), "bytes */8260");
    assert.notEqual((await json(r)).code, 0);
  }
  const unknown = await fetch(api(A, `${tid + 1000}/download`), { headers: auth(A) });
  assert.equal(unknown.status, 404);
  assert.notEqual((await json(unknown)).code, 0);
  const unknownStatus = await postJson(A, `${tid + 1000}/status`, { step: 10 });
  assert.equal(unknownStatus.status, 404);
  assert.equal((await fetch(api(C, `${tid}/download`), { headers: auth(C) })).status, 404, "another product's device cannot fetch the task");
  assert.equal(emu.otaState(A.device).downloads, 7);
});

test("status steps are recorded; 201 sets the device's version to the target and check then says no task; other steps are refused (400)", async () => {
  for (const step of [1.5, 108, 150, 200, 208, -1, "50", null]) {
    const r = await postJson(A, `${tid}/status`, { step });
    assert.equal(r.status, 400, `step ${JSON.stringify(step)}`);
    assert.notEqual((await json(r)).code, 0);
  }
  const seen: number[] = [];
  const onEvent = (e: { type: string; device?: string; step?: number; what?: string }) => {
    if (e.type === "ota" && e.device === A.device && e.what === "step") seen.push(e.step!);
  };
  emu.events.on("event", onEvent);
  try {
    for (const step of [0, 50, 100, 101]) {
      const r = await postJson(A, `${tid}/status`, { step });
      assert.equal(r.status, 200);
      assert.equal((await json(r)).code, 0);
    }
    assert.equal(emu.otaState(A.device).result, undefined, "101 is not a result");
    assert.equal((await json(await check(A, "1.2.0"))).code, 0, "still offered before the result");
    await postJson(A, `${tid}/status`, { step: 201 });
  } finally {
    emu.events.off("event", onEvent);
  }
  assert.deepEqual(seen, [0, 50, 100, 101, 201], "one ota event per step");
  const state = emu.otaState(A.device, A.product);
  assert.deepEqual({ version: state.version, tid: state.tid, steps: state.steps, result: state.result }, { version: "1.3.0", tid, steps: [0, 50, 100, 101, 201], result: 201 });
  assert.equal((await json(await check(A, "1.3.0"))).code, 11);
  assert.equal((await json(await check(A, "1.2.0"))).code, 11, "finished for this device");

  // Device b fails the check (205): that is its result and the task is over for it too.
  assert.equal((await json(await check(B, "1.0.0"))).code, 0);
  await postJson(B, `${tid}/status`, { step: 205 });
  const b = await untilOta(emu, B, (s) => s.result === 205);
  assert.deepEqual(b.steps, [205]);
  assert.equal(b.version, "1.0.0", "a failed upgrade leaves the version");
  assert.equal((await json(await check(B, "1.0.0"))).code, 11);
});

test("the fuse-ota API over HTTPS (apiTlsPort) with the emulator's test CA; a client trusting another CA refuses the server", async () => {
  assert.match(emu.apiTlsUrl ?? "", /^https:\/\/127\.0\.0\.1:\d+$/);
  const get = (ca: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(`${emu.apiTlsUrl}/fuse-ota/${A.product}/${A.device}/check?type=2&version=1.0.0`, { ca, headers: auth(A), minVersion: "TLSv1.2" }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  const ok = await get(emu.tlsCa!);
  assert.equal(ok.status, 200);
  assert.equal((JSON.parse(ok.body) as { code: number }).code, 11);
  const other = makeTestPki();
  try {
    await assert.rejects(get(other.ca.cert), (e: NodeJS.ErrnoException) => /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/.test(e.code ?? ""));
  } finally {
    other.remove();
  }
});

test("ota/inform: a new task notifies each online, subscribed device of its product (QoS 0, fresh numeric id); inform_reply to a sent id is counted, others are not", async () => {
  const a = await connectOk(emu.brokerUrl, A);
  const b = await connectOk(emu.brokerUrl, B);
  const c = await connectOk(emu.brokerUrl, C);
  devices.push(a, b, c);
  for (const d of [a, b, c]) assert.equal(await subscribe(d, "ota/inform", 1), 0, "granted QoS 0");

  const image = randomBytes(300);
  const task = emu.startOta(image, "1.4.0", A.product);
  const na = await a.next("ota/inform");
  const nb = await b.next("ota/inform");
  for (const n of [na, nb]) {
    assert.deepEqual(n.json, { id: n.json!.id, version: "1.0", params: { tid: task.tid, type: 1, target: "1.4.0" } });
    assert.match(String(n.json!.id), /^\d+$/);
  }
  assert.notEqual(na.json!.id, nb.json!.id, "a fresh id per notice");
  assert.equal(emu.otaState(C.device).informs, 0, "another product's device is not notified");
  assert.deepEqual(c.messages.filter((m) => m.topic.endsWith("/ota/inform")), []);
  const fresh = emu.otaState(A.device);
  assert.deepEqual({ steps: fresh.steps, result: fresh.result, tid: fresh.tid, informs: fresh.informs }, { steps: [], result: undefined, tid: task.tid, informs: 1 }, "the new task resets the device's steps and result");
  assert.equal((await json(await check(A, "1.3.0"))).data?.tid, task.tid, "the new task is offered");

  // Replies are handled in order: the bad ones first, so once the good one is counted they were seen.
  await publish(a, "ota/inform_reply", "{not json");
  await publish(a, "ota/inform_reply", { id: "99999999", code: 200, msg: "ok" });
  await publish(a, "ota/inform_reply", { id: na.json!.id, code: "200" });
  await publish(a, "ota/inform_reply", { id: na.json!.id, code: 200, msg: "ok" });
  const counted = await untilOta(emu, A, (s) => s.informReplies > 0);
  assert.equal(counted.informReplies, 1);
  const log = emu.devices().find((d) => d.device === A.device)!.log.map((l) => l.text);
  assert.equal(log.filter((t) => t.startsWith("ota/inform_reply refused")).length, 3, log.join("\n"));
  // The same id again: that notice was answered already.
  await publish(a, "ota/inform_reply", { id: na.json!.id, code: 200, msg: "ok" });
  await publish(b, "ota/inform_reply", { id: nb.json!.id, code: 200, msg: "ok" });
  await untilOta(emu, B, (s) => s.informReplies === 1);
  await until(() => emu.devices().find((d) => d.device === A.device)!.log.filter((l) => l.text.startsWith("ota/inform_reply refused")).length === 4, "the repeated reply refused");
  assert.equal(emu.otaState(A.device).informReplies, 1);
});

test("`npm run emulator -- ota=<file> otaVersion=<v>` prints the API address and starts the task; a missing file or an empty version is one clear line", { timeout: 60000 }, async () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const file = join(tmpdir(), `ota-cli-${process.pid}.bin`);
  writeFileSync(file, IMAGE);
  const run = (args: string[], until?: RegExp) =>
    new Promise<{ out: string; code: number | null }>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", "tools/emulator/cli.ts", "port=0", "httpPort=0", `product=${A.product}`, `device=${A.device}`, `key=${A.key}`, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`timed out:\n${out}`)); }, 45000);
      const look = (chunk: Buffer) => {
        out += chunk.toString();
        if (until?.test(out)) child.kill("SIGTERM");
      };
      child.stdout.on("data", look);
      child.stderr.on("data", look);
      child.once("exit", (code) => { clearTimeout(timer); resolve({ out, code }); });
    });
  const ok = await run([`ota=${file}`, "otaVersion=2.0.0"], /^ota task: .*$/m);
  assert.match(ok.out, /^fuse-ota api on http:\/\/127\.0\.0\.1:\d+$/m);
  assert.match(ok.out, new RegExp(`^ota task: tid=\\d+ target=2\\.0\\.0 size=8260 md5=${MD5} `, "m"));
  assert.equal(ok.out.includes(A.key), false);
  const missing = await run([`ota=${file}.missing`, "otaVersion=2.0.0"]);
  assert.equal(missing.code, 2);
  assert.equal(missing.out.trim(), `emulator: ota=${file}.missing: cannot read the image (ENOENT)`);
  const empty = await run([`ota=${file}`, "otaVersion="]);
  assert.equal(empty.code, 2);
  assert.equal(empty.out.trim(), `emulator: ota=${file} needs otaVersion=<version>`);
});
