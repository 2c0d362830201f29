// `npm run emulator -- …`: flag parsing (several devices by repeated flags or a registry file) and the
// process itself printing the `broker: mqtt://…` and `console: http://…` lines (issue #5).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "../tools/emulator/cli.ts";
import { connectOk } from "../tools/emulator/testing.ts";

const KEY = Buffer.from("cli-test-key-0123456789abcdef012").toString("base64");
// Short valid base64 keys (the firmware refuses keys that are not base64 of at least 4 characters).
const KA = "S0FLQQ==", KB = "S0JLQg==", KC = "S0NLQw==";

test("repeated device=/key= flags make several devices; product= carries over", () => {
  const o = parseArgs(["port=0", "--httpPort=0", "product=P1", "device=a", `key=${KA}`, "device=b", `key=${KB}`, "product=P2", "device=c", `key=${KC}`]);
  assert.equal(o.port, 0);
  assert.equal(o.httpPort, 0);
  assert.deepEqual(o.devices, [
    { product: "P1", device: "a", key: KA },
    { product: "P1", device: "b", key: KB },
    { product: "P2", device: "c", key: KC },
  ]);
  assert.deepEqual(parseArgs(["device=a", "product=P", `key=${KA}`]).devices, [{ product: "P", device: "a", key: KA }], "any order within one device");
});

test("flag errors name the flag", () => {
  assert.throws(() => parseArgs([]), /no device/);
  assert.throws(() => parseArgs(["product=P", "device=a"]), /device a: key= missing/);
  assert.throws(() => parseArgs(["port=x", "product=P", "device=a", `key=${KA}`]), /port=x/);
  assert.throws(() => parseArgs(["colour=red"]), /unknown flag colour=/);
});

test("keys the firmware would refuse (not base64 of at least 4 characters) are refused, without the value", () => {
  for (const bad of ["KA", "K", "S0FLQQ=", "not base64!"]) {
    assert.throws(() => parseArgs(["product=P", "device=a", `key=${bad}`]), (e: Error) => /device a: key= is not base64/.test(e.message) && !e.message.includes(bad));
  }
  assert.throws(() => parseArgs(["product=P", "productKey=PK", "device=a", `key=${KA}`]), /productKey= is not base64/);
});

test("registry=file.json", () => {
  const dir = mkdtempSync(join(tmpdir(), "emu-reg-"));
  try {
    const file = join(dir, "devices.json");
    writeFileSync(file, JSON.stringify({ devices: [{ product: "P", device: "a", key: KA }], products: [{ product: "P", key: KB }] }));
    const o = parseArgs([`registry=${file}`]);
    assert.deepEqual(o.devices, [{ product: "P", device: "a", key: KA }]);
    assert.deepEqual(o.products, [{ product: "P", key: KB }]);
    writeFileSync(file, JSON.stringify([{ product: "P", device: "a", key: "KA" }]));
    assert.throws(() => parseArgs([`registry=${file}`]), /device a: key is not base64/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the CLI prints broker: and console: lines, serves the console and accepts a device", { timeout: 60000 }, async () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", "tools/emulator/cli.ts", "host=127.0.0.1", "port=0", "httpPort=0", "product=Pcli", "device=d1", `key=${KEY}`], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  try {
    const lines = await new Promise<{ broker: string; console: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no broker/console lines; output:\n${out}`)), 45000);
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const b = /^broker: (mqtt:\/\/\S+)$/m.exec(out);
        const c = /^console: (http:\/\/\S+)$/m.exec(out);
        if (b && c) {
          clearTimeout(timer);
          resolve({ broker: b[1]!, console: c[1]! });
        }
      });
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.once("exit", (code) => reject(new Error(`exited ${code}:\n${out}`)));
    });
    const page = await fetch(lines.console);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /OneNET emulator/);
    const device = await connectOk(lines.broker, { product: "Pcli", device: "d1", key: KEY });
    await device.end();
    assert.equal(out.includes(KEY), false, "the key is never printed");
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  }
});
