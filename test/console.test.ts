// The emulator's web console end to end in headless Chromium (Debian `chromium`, driven by
// playwright-core): an MQTT.js client acting as the device reports properties, the page shows the
// device online, the latest values and a chart; changing `interval` in the page sends a property set
// (docs/onenet.md: Payloads, "Property set (down)"), the device answers set_reply and reports at its
// new interval, and the page shows the reply and the new value. A refused write (code 100) shows as
// such; "Get all properties" sends a property get and shows the get_reply; an alarm event the device
// posts is answered 200 and listed. A page from another origin, or reached by another host name
// (DNS rebinding), cannot drive the console's API. The OTA panel uploads an image and a version (a task
// the fuse-ota API then offers) and shows each device's reported version, progress and result as the
// device posts them (docs/onenet.md, "OTA").
//
// Runs in every `npm test`: without Chromium it fails and says how to install it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { chromium, type Browser } from "playwright-core";
import { startEmulator, type Emulator } from "../tools/emulator/index.ts";
import { connectOk, deviceToken, publish, subscribe, until, type TestDevice } from "../tools/emulator/testing.ts";

const CHROMIUM = "/usr/bin/chromium";
const DEV = { product: "PconsoleT1", device: "bench-board", key: Buffer.from("console-test-key-0123456789abcde").toString("base64") };
const sel = (inner: string) => `[data-device="${DEV.product}/${DEV.device}"] ${inner}`;
/** A name an attacker controls, resolved to the console's address by Chromium itself. */
const REBOUND = "rebound.example";

let browser: Browser;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: the console tests need Debian's Chromium (apt-get install chromium)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
      `--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`,
    ],
  });
});
after(async () => {
  await browser?.close();
});

test("console: live reports, chart, interval write with set_reply, events", { timeout: 120000 }, async () => {
  let emu: Emulator | undefined;
  let device: TestDevice | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    emu = await startEmulator({ devices: [DEV], log: () => {} });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    const external: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(emu!.consoleUrl)) external.push(r.url());
    });
    await page.goto(emu.consoleUrl);
    await page.locator(sel("[data-testid=status]")).filter({ hasText: "offline" }).waitFor({ timeout: 30000 });
    await page.locator("#link").filter({ hasText: "live" }).waitFor({ timeout: 30000 });

    // The device: reports every `interval` s, applies writable properties, refuses led writes (100).
    device = await connectOk(emu.brokerUrl, DEV);
    await subscribe(device, "thing/property/post/reply");
    await subscribe(device, "thing/property/set");
    await subscribe(device, "thing/property/get");
    await subscribe(device, "thing/event/post/reply");
    let interval = 1;
    let n = 0;
    const d = device;
    const report = (): void => {
      n++;
      publish(d, "thing/property/post", {
        id: String(n),
        version: "1.0",
        params: { temp: { value: 20 + (n % 5) * 0.5, time: Date.now() }, humi: { value: 40 + n }, interval: { value: interval } },
      }, 1).catch(() => {}); // in flight when the test ends the link
      timer = setTimeout(report, interval * 1000);
    };
    d.client.on("message", (topic, payload) => {
      const msg = JSON.parse(payload.toString()) as { id: string; params: Record<string, unknown> };
      if (topic.endsWith("/thing/property/get")) {
        void publish(d, "thing/property/get_reply", { id: msg.id, code: 200, msg: "success", data: { interval, led: false, uptime: 42 } }).catch(() => {});
        return;
      }
      if (!topic.endsWith("/thing/property/set")) return;
      if ("led" in msg.params) {
        void publish(d, "thing/property/set_reply", { id: msg.id, code: 100, msg: "led: not fitted on this board" }).catch(() => {});
        return;
      }
      if (typeof msg.params.interval === "number") interval = msg.params.interval;
      void publish(d, "thing/property/set_reply", { id: msg.id, code: 200, msg: "success" }).catch(() => {});
      if (timer) clearTimeout(timer);
      report(); // report the new interval at once, then keep the new cadence
    });
    report();

    await page.locator(sel("[data-testid=status]")).filter({ hasText: "online" }).waitFor({ timeout: 30000 });
    // (A string: this runs in the page, and the host tsconfig has no DOM types.)
    await page.waitForFunction(`Number(document.querySelector(${JSON.stringify(sel("svg[data-chart=temp]"))})?.getAttribute("data-points") ?? 0) >= 3`, undefined, { timeout: 60000 });
    const temp = await page.locator(sel("[data-value=temp] .v")).textContent();
    assert.match(temp ?? "", /^2\d(\.\d+)?$/, "latest temperature shown");
    assert.match((await page.locator(sel("[data-value=interval] .v")).textContent()) ?? "", /^1$/);

    await page.locator(sel("[data-input=interval]")).fill("2");
    await page.locator(sel("[data-set=interval]")).click();
    await page.locator(sel("[data-reply=interval]")).filter({ hasText: "code=200" }).waitFor({ timeout: 30000 });
    assert.match((await page.locator(sel("[data-reply=interval]")).textContent()) ?? "", /^set_reply id=\d+ code=200 success$/);
    await page.locator(sel("[data-value=interval] .v")).filter({ hasText: /^2$/ }).waitFor({ timeout: 30000 });
    assert.equal(interval, 2, "the device applied the write");
    // The new cadence: two more reports, and the page's gap (by the device's `time`, a lower bound set
    // by the device's 2 s timer, not by machine speed) is about 2 s.
    const cadence = page.locator(sel("[data-testid=cadence]"));
    const postsAfterSet = Number(await cadence.getAttribute("data-posts"));
    await page.waitForFunction(`Number(document.querySelector(${JSON.stringify(sel("[data-testid=cadence]"))})?.getAttribute("data-posts")) >= ${postsAfterSet + 2}`, undefined, { timeout: 60000 });
    assert.ok(Number(await cadence.getAttribute("data-gap-ms")) >= 1900, "reports now 2 s apart");
    assert.match((await cadence.textContent()) ?? "", /reports every \d+\.\d s/);

    await page.locator(sel("[data-input=led]")).selectOption("true");
    await page.locator(sel("[data-set=led]")).click();
    await page.locator(sel("[data-reply=led]")).filter({ hasText: "code=100" }).waitFor({ timeout: 30000 });
    assert.match((await page.locator(sel("[data-reply=led]")).textContent()) ?? "", /led: not fitted/);

    await page.locator(sel("[data-testid=get]")).click();
    await page.locator(sel("[data-testid=get-reply]")).filter({ hasText: "code=200" }).waitFor({ timeout: 30000 });
    assert.match((await page.locator(sel("[data-testid=get-reply]")).textContent()) ?? "", /data=\{"interval":2,"led":false,"uptime":42\}/);
    await page.locator(sel("[data-value=uptime] .v")).filter({ hasText: /^42$/ }).waitFor({ timeout: 30000 });

    // An alarm event (onenet/thing-model.json): the platform answers event/post/reply 200 and the page
    // lists it with its time, identifier and values.
    const alarmTime = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    await publish(d, "thing/event/post", { id: "9001", version: "1.0", params: { alarm: { value: { code: 3, msg: "sensor lost" }, time: alarmTime } } }, 1);
    assert.deepEqual((await d.next("thing/event/post/reply", (m) => m.json?.id === "9001")).json, { id: "9001", code: 200, msg: "success" });
    const row = page.locator(sel("[data-testid=events] li[data-event=alarm]"));
    await row.waitFor({ timeout: 30000 });
    assert.match((await row.locator(".id").textContent()) ?? "", /\(alarm\)$/);
    assert.equal(await row.locator(".values").textContent(), 'code=3 msg="sensor lost"');
    const shownTime = await page.evaluate(`new Date(${alarmTime}).toLocaleTimeString([], { hour12: false }) + ".678"`);
    assert.equal(await row.locator(".time").textContent(), shownTime);

    if (process.env.CONSOLE_SCREENSHOT) await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT, fullPage: true });

    if (timer) clearTimeout(timer);
    await page.locator(sel("[data-testid=disconnect]")).click();
    await d.closed; // the platform side closed the link
    await page.locator(sel("[data-testid=status]")).filter({ hasText: "offline" }).waitFor({ timeout: 30000 });
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(external, [], "no request leaves the emulator (closed network, no CDN)");
  } finally {
    if (timer) clearTimeout(timer);
    await device?.end();
    await emu?.close();
  }
});

test("console API: a page from another origin, or a rebound host name, cannot write", { timeout: 60000 }, async () => {
  const emu = await startEmulator({ devices: [DEV], log: () => {} });
  // The attacker's page: any other origin on this machine.
  const evil: Server = createServer((_req, res) => res.end("<!doctype html><title>elsewhere</title>"));
  let device: TestDevice | undefined;
  try {
    await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
    const evilPort = (evil.address() as { port: number }).port;
    device = await connectOk(emu.brokerUrl, DEV);
    const online = () => emu.devices()[0]!.online;
    await until(online, "device online at the emulator");
    const body = JSON.stringify({ product: DEV.product, device: DEV.device });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${evilPort}/`);
    // A "simple" cross-origin POST (text/plain, no preflight) reaches the server; an opaque response
    // means the server answered, so the device still being online proves the write was refused.
    await page.evaluate(`fetch(${JSON.stringify(emu.consoleUrl + "api/disconnect")}, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: ${JSON.stringify(body)} }).then(() => "answered")`);
    assert.equal(online(), true, "text/plain write from another origin refused");
    // With application/json the browser must ask first (preflight), and the console never allows it.
    const cors = await page.evaluate(`fetch(${JSON.stringify(emu.consoleUrl + "api/disconnect")}, { method: "POST", headers: { "content-type": "application/json" }, body: ${JSON.stringify(body)} }).then(() => "sent", (e) => "blocked: " + e.message)`);
    assert.match(String(cors), /^blocked/);
    assert.equal(online(), true);
    // DNS rebinding: the attacker's name now resolves to 127.0.0.1, so the page is same-origin with
    // the console's port; the Host header still names the attacker, and the console refuses it.
    const rebound = await page.goto(`http://${REBOUND}:${emu.httpPort}/`);
    assert.equal(rebound?.status(), 403);
    const write = await page.evaluate(`fetch("/api/disconnect", { method: "POST", headers: { "content-type": "application/json" }, body: ${JSON.stringify(body)} }).then((r) => r.status)`);
    assert.equal(write, 403);
    assert.equal(online(), true, "rebound host cannot disconnect the device");
    const ota = JSON.stringify({ version: "6.6.6", image: "AAAA" });
    await page.goto(`http://127.0.0.1:${evilPort}/`);
    await page.evaluate(`fetch(${JSON.stringify(emu.consoleUrl + "api/ota")}, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: ${JSON.stringify(ota)} }).then(() => "answered")`);
    const otaCors = await page.evaluate(`fetch(${JSON.stringify(emu.consoleUrl + "api/ota")}, { method: "POST", headers: { "content-type": "application/json" }, body: ${JSON.stringify(ota)} }).then(() => "sent", (e) => "blocked: " + e.message)`);
    assert.match(String(otaCors), /^blocked/);
    assert.deepEqual(emu.otaTasks(), [], "another origin cannot start an OTA task");
    await page.close();
  } finally {
    await device?.end();
    await emu.close();
    await new Promise<void>((resolve) => evil.close(() => resolve()));
  }
});

test("console OTA panel: upload an image and a version -> the task is listed and offered; the device's version, progress and result follow its status posts", { timeout: 120000 }, async () => {
  const emu = await startEmulator({ devices: [DEV], log: () => {} });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(emu.consoleUrl);
    await page.locator("#link").filter({ hasText: "live" }).waitFor({ timeout: 30000 });
    const row = page.locator(`[data-ota-device="${DEV.product}/${DEV.device}"]`);
    assert.equal(await row.locator(".version").textContent(), "–");

    const image = randomBytes(70000); // more than one 32 KB chunk of the page's base64 encoder
    const md5 = createHash("md5").update(image).digest("hex");
    await page.locator("[data-testid=ota-image]").setInputFiles({ name: "firmware.bin", mimeType: "application/octet-stream", buffer: image });
    await page.locator("[data-testid=ota-version]").fill("1.3.0");
    await page.locator("[data-testid=ota-start]").click();
    await page.locator("[data-testid=ota-reply]").filter({ hasText: "task started" }).waitFor({ timeout: 30000 });
    const [task] = emu.otaTasks();
    assert.ok(task, "the emulator has the task");
    assert.deepEqual({ target: task.target, size: task.size, md5: task.md5, products: task.products }, { target: "1.3.0", size: 70000, md5, products: [DEV.product] });
    assert.equal(await page.locator(`[data-testid=ota-tasks] li[data-task="${task.tid}"]`).textContent(), `product ${DEV.product}: tid=${task.tid} target=1.3.0 size=70000 md5=${md5}`);
    await row.locator(".task").filter({ hasText: String(task.tid) }).waitFor({ timeout: 30000 });

    // The device, through the fuse-ota API.
    const base = `${emu.apiUrl}/fuse-ota/${DEV.product}/${DEV.device}`;
    const headers = { authorization: deviceToken(DEV), "content-type": "application/json" };
    const post = async (tail: string, body: unknown) => {
      const r = await fetch(`${base}/${tail}`, { method: "POST", headers, body: JSON.stringify(body) });
      assert.equal(((await r.json()) as { code: number }).code, 0, tail);
    };
    await post("version", { s_version: "1.2.0" });
    const offered = (await (await fetch(`${base}/check?type=2&version=1.2.0`, { headers })).json()) as { data: { tid: number; md5: string } };
    assert.deepEqual([offered.data.tid, offered.data.md5], [task.tid, md5], "the uploaded image is the one offered");
    const bytes = Buffer.from(await (await fetch(`${base}/${task.tid}/download`, { headers })).arrayBuffer());
    assert.ok(bytes.equals(image), "the uploaded image is the one served");
    await row.locator(".version").filter({ hasText: /^1\.2\.0$/ }).waitFor({ timeout: 30000 });
    await post(`${task.tid}/status`, { step: 42 });
    await row.locator(".progress").filter({ hasText: /^42%$/ }).waitFor({ timeout: 30000 });
    assert.equal(await row.locator(".progress progress").getAttribute("value"), "42");
    assert.equal(await row.locator(".result").textContent(), "–");
    await post(`${task.tid}/status`, { step: 101 });
    await row.locator(".progress").filter({ hasText: "101 downloaded and verified" }).waitFor({ timeout: 30000 });
    await post(`${task.tid}/status`, { step: 205 });
    await row.locator(".result").filter({ hasText: /^205 MD5 mismatch$/ }).waitFor({ timeout: 30000 });

    // A reload draws the same from /api/state; then a fixed image succeeds and the version follows.
    await page.reload();
    await page.locator("#link").filter({ hasText: "live" }).waitFor({ timeout: 30000 });
    assert.equal(await row.locator(".result").textContent(), "205 MD5 mismatch");
    assert.equal(await row.locator(".version").textContent(), "1.2.0");
    await page.locator("[data-testid=ota-image]").setInputFiles({ name: "fixed.bin", mimeType: "application/octet-stream", buffer: image.subarray(0, 1000) });
    await page.locator("[data-testid=ota-version]").fill("1.3.1");
    await page.locator("[data-testid=ota-start]").click();
    await page.locator("[data-testid=ota-reply]").filter({ hasText: "target=1.3.1" }).waitFor({ timeout: 30000 });
    const second = emu.otaTasks()[0]!;
    await row.locator(".result").filter({ hasText: /^–$/ }).waitFor({ timeout: 30000 });
    await post(`${second.tid}/status`, { step: 201 });
    await row.locator(".result").filter({ hasText: /^201 upgraded$/ }).waitFor({ timeout: 30000 });
    await row.locator(".version").filter({ hasText: /^1\.3\.1$/ }).waitFor({ timeout: 30000 });
    assert.deepEqual(await page.evaluate(`[...document.querySelectorAll("[data-testid=ota-tasks] li")].map((e) => e.getAttribute("data-task"))`), [String(second.tid)], "the new task replaced the old one");
    assert.deepEqual(pageErrors, []);
    await page.close();
  } finally {
    await emu.close();
  }
});
