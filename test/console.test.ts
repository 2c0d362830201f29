// The emulator's web console end to end in headless Chromium (Debian `chromium`, driven by
// playwright-core): an MQTT.js client acting as the device reports properties, the page shows the
// device online, the latest values and a chart; changing `interval` in the page sends a property set
// (facts: Payloads, "Property set (down)"), the device answers set_reply and reports at its new
// interval, and the page shows the reply and the new value. A refused write (code 100) shows as such;
// "Get all properties" sends a property get and shows the get_reply.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { startEmulator, type Emulator } from "../tools/emulator/index.ts";
import { connectOk, publish, subscribe, type TestDevice } from "../tools/emulator/testing.ts";

const CHROMIUM = "/usr/bin/chromium";
const DEV = { product: "PconsoleT1", device: "bench-board", key: Buffer.from("console-test-key-0123456789abcde").toString("base64") };
const sel = (inner: string) => `[data-device="${DEV.product}/${DEV.device}"] ${inner}`;

// On a developer machine without chromium the test is skipped; in CI (.ci/run installs chromium) a
// missing browser is a failure, so a broken install cannot pass silently.
const skip = !existsSync(CHROMIUM) && !process.env.CI && "Debian chromium not installed (apt-get install chromium)";
test("console: live reports, chart, interval write with set_reply", { skip, timeout: 120000 }, async () => {
  let emu: Emulator | undefined;
  let browser: Browser | undefined;
  let device: TestDevice | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    emu = await startEmulator({ devices: [DEV], log: () => {} });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
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
    await browser?.close();
    await emu?.close();
  }
});
