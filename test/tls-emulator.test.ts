// The emulator's TLS listener (tools/emulator/server.ts, pki.ts): `npm run emulator -- tlsPort=…` makes
// a test CA and server certificate at start (nothing private in the repository), prints the TLS URL and
// the CA's path, takes MQTT.js over TLS with that CA, and deletes the files when it stops. The
// certificate is what the board's SDK needs: RSA-2048, the CA in the chain the server sends, the
// OneNET endpoint, localhost and 127.0.0.1 in subjectAltName. Over TLS the platform's rules hold as
// over TCP: an expired token is CONNACK 4 (device log code 1104).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { startEmulator, VirtualClock, makeToken, type Emulator } from "../tools/emulator/index.ts";
import { connect, connectOk } from "../tools/emulator/testing.ts";

const KEY = Buffer.from("tls-emulator-test-device-key-001").toString("base64");
const DEVICE = { product: "Ptls", device: "d-tls", key: KEY };
const emulators: Emulator[] = [];
after(async () => {
  for (const e of emulators) await e.close();
});

test("`npm run emulator -- tlsPort=0`: prints the TLS URL and the CA's path, accepts MQTT.js over TLS with that CA, deletes the test CA when it stops", { timeout: 60000 }, async () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", "tools/emulator/cli.ts", "host=127.0.0.1", "port=0", "httpPort=0", "tlsPort=0", "product=Ptls", "device=d-tls", `key=${KEY}`], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    const found = await new Promise<{ url: string; ca: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no TLS lines; output:\n${out}`)), 45000);
      const look = (chunk: Buffer): void => {
        out += chunk.toString();
        const url = /^broker \(TLS\): (mqtts:\/\/\S+)$/m.exec(out);
        const ca = /^CA: (\S+\.pem) /m.exec(out);
        if (url && ca) {
          clearTimeout(timer);
          resolve({ url: url[1]!, ca: ca[1]! });
        }
      };
      child.stdout.on("data", look);
      child.stderr.on("data", look);
      child.once("exit", (code) => reject(new Error(`exited ${code}:\n${out}`)));
    });
    const device = await connectOk(found.url, DEVICE, { ca: readFileSync(found.ca, "utf8"), rejectUnauthorized: true });
    await device.end();
    child.kill("SIGTERM");
    await exited;
    assert.equal(existsSync(found.ca), false, "the test CA is deleted at exit");
    assert.equal(out.includes(KEY), false);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  }
});

test("the test certificate is what the board's TLS needs: RSA-2048, chain with the CA, the OneNET endpoint, localhost and 127.0.0.1; TLS 1.2", async () => {
  const e = await startEmulator({ host: "127.0.0.1", port: 0, tlsPort: 0, httpPort: 0, devices: [DEVICE], log: () => {} });
  emulators.push(e);
  const socket = tlsConnect({ host: "127.0.0.1", port: e.tlsPort!, ca: [e.tlsCa!], servername: "mqttstls.heclouds.com", maxVersion: "TLSv1.2" });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  assert.equal(socket.authorized, true);
  assert.equal(socket.getProtocol(), "TLSv1.2");
  const leaf = socket.getPeerX509Certificate()!;
  assert.equal(leaf.subjectAltName, "DNS:localhost, IP Address:127.0.0.1, DNS:mqttstls.heclouds.com");
  assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  const ca = new X509Certificate(e.tlsCa!);
  assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  socket.destroy();
  // The server sends its CA too (the SDK's check wants the chain: docs/moddable.md "TLS"), as openssl shows.
  const client = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${e.tlsPort}`, "-showcerts", "-tls1_2"], { stdio: ["pipe", "pipe", "ignore"] });
  let shown = "";
  client.stdout.on("data", (d: Buffer) => (shown += d.toString()));
  client.stdin.end();
  await new Promise((resolve) => client.once("exit", resolve));
  const subjects = [...shown.matchAll(/^ (\d) s:(.*)$/gm)].map((m) => m[2]);
  assert.equal(subjects.length, 2, shown);
  assert.match(subjects[1], /CN ?= ?OneNET emulator test CA/);
});

test("over TLS as over TCP: a token past its et is refused with CONNACK 4 (device log 1104), a current one accepted", async () => {
  const clock = new VirtualClock(Date.now());
  const e = await startEmulator({ host: "127.0.0.1", port: 0, tlsPort: 0, httpPort: 0, devices: [DEVICE], clock, log: () => {} });
  emulators.push(e);
  const res = `products/${DEVICE.product}/devices/${DEVICE.device}`;
  const et = Math.floor(clock.now() / 1000) + 300;
  const tls = { ca: e.tlsCa!, rejectUnauthorized: true };
  const ok = await connect(e.brokerTlsUrl!, DEVICE, { ...tls, password: makeToken({ key: KEY, res, et }) });
  assert.ok(ok.device, `refused: ${String(ok.refused)}`);
  await ok.device.end();
  clock.advance(301_000);
  const late = await connect(e.brokerTlsUrl!, DEVICE, { ...tls, password: makeToken({ key: KEY, res, et }) });
  assert.equal(late.refused, 4);
  const view = e.devices().find((d) => d.device === DEVICE.device)!;
  assert.ok(view.log.some((l) => /login failed \(CONNACK 4\): 1104 token expired/.test(l.text)), JSON.stringify(view.log));
});
