// The securesocket shim (tools/sim/modules/securesocket.ts) in the Node lane, against real TLS servers
// (node:tls) with test certificates made by openssl (tools/emulator/pki.ts). Pins the board's
// SecureSocket semantics (types/securesocket.d.ts): callback(1) only after the handshake and its
// certificate checks; write() = free space - 128; all-or-nothing writes; at most 1024 bytes per readable
// callback; and what it refuses, with nothing of the application sent: a certificate from another CA,
// an expired one, one for another name, a server without TLS 1.2, a CA or server certificate outside
// its dates at the DEVICE's clock. The MQTT client over it sends CONNECT only after the handshake.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import SecureSocket from "securesocket";
import { MqttClient } from "../mqtt/client.ts";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { SEND_BUFFER } from "../tools/sim/modules/socket.ts";
import { PLAIN_CHUNK, TLS_OVERHEAD } from "../tools/sim/modules/securesocket.ts";
import { makeServerCertificate, makeTestPki, type TestPki } from "../tools/emulator/pki.ts";
import { logTo } from "./portable/logger.ts";
import { CA_RESOURCE, onenetTls } from "../onenet/tls.ts";
import { until } from "./helpers/wait.ts";

let pki: TestPki;
let other: TestPki;
let caDer: ArrayBuffer;
const servers: Server[] = [];

before(() => {
  pki = makeTestPki();
  other = makeTestPki();
  caDer = new Uint8Array(new X509Certificate(pki.ca.cert).raw).slice().buffer;
});
after(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  nodeLane.shutdown();
  pki?.remove();
  other?.remove();
});

interface Peer {
  port: number;
  /** Handshakes the server completed. */
  secured: number;
  /** Plaintext bytes the server received (anything the device's application sent). */
  received: Buffer[];
  /** Handshakes that failed on the server's side. */
  failures: string[];
  sockets: TLSSocket[];
}

/** A TLS server with `chain`/`key` that echoes what it gets (or answers with `reply`). */
async function peer(chain: string, key: string, options: { minVersion?: "TLSv1.2" | "TLSv1.3"; reply?: (s: TLSSocket, b: Buffer) => void } = {}): Promise<Peer> {
  const p: Peer = { port: 0, secured: 0, received: [], failures: [], sockets: [] };
  const server = createServer({ cert: chain, key, minVersion: options.minVersion ?? "TLSv1.2" }, (socket) => {
    p.secured++;
    p.sockets.push(socket);
    socket.on("data", (b: Buffer) => {
      p.received.push(b);
      if (options.reply) options.reply(socket, b);
      else socket.write(b);
    });
    socket.on("error", () => {});
  });
  server.on("tlsClientError", (e: Error & { code?: string }) => p.failures.push(e.code ?? e.message));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  p.port = (server.address() as { port: number }).port;
  return p;
}

interface Device {
  socket: SecureSocket;
  events: number[];
  /** Bytes read, per readable callback. */
  chunks: number[];
  data: number[];
}

function open(port: number, certificate: ArrayBuffer = caDer, host = "127.0.0.1", read = true): Device {
  const socket = new SecureSocket({ host, port, secure: { protocolVersion: 0x0303, certificate } });
  const d: Device = { socket, events: [], chunks: [], data: [] };
  socket.callback = (message, value) => {
    d.events.push(message);
    if (message === 2 && read) {
      const bytes = new Uint8Array(socket.read(ArrayBuffer));
      d.chunks.push(value ?? -1);
      d.data.push(...bytes);
    }
  };
  return d;
}

const failedLine = (): string | undefined => nodeLane.log.lines.find((l) => l.startsWith("securesocket: TLS handshake failed"));

test("handshake, then callback(1); write() = free - 128; all-or-nothing; at most 1024 bytes a readable; the echo comes back whole", async () => {
  nodeLane.useVirtualClock(Date.now());
  const server = await peer(pki.server.chain, pki.server.key);
  const d = open(server.port);
  assert.equal(d.socket.write(), 0, "no room before the handshake");
  assert.throws(() => d.socket.write("CONNECT"), /write before the TLS handshake finished/);
  await until(() => d.events.includes(1), "connected");
  assert.equal(server.secured, 1);
  assert.equal(d.socket.write(), SEND_BUFFER - TLS_OVERHEAD);
  assert.throws(() => d.socket.write(new Uint8Array(SEND_BUFFER - TLS_OVERHEAD + 1)), /can't write all data/);
  const sent = new Uint8Array(3000).map((_, i) => i & 0xff);
  d.socket.write(sent.subarray(0, 1000), sent.subarray(1000));
  await until(() => d.data.length === sent.length, "the echo");
  assert.deepEqual(Uint8Array.from(d.data), sent);
  assert.ok(d.chunks.every((n) => n > 0 && n <= PLAIN_CHUNK), `chunks ${d.chunks.join(",")}`);
  assert.deepEqual(Buffer.concat(server.received), Buffer.from(sent), "the server got exactly what was written");
  await until(() => d.events.includes(3), "writable once acknowledged");
  d.socket.close();
  assert.throws(() => d.socket.write("x"), /write on closed socket/);
});

test("what a readable callback leaves unread is dropped, as the SDK's SecureSocket drops it", async () => {
  nodeLane.useVirtualClock(Date.now());
  const server = await peer(pki.server.chain, pki.server.key);
  const d = open(server.port, caDer, "127.0.0.1", false);
  const got: number[] = [];
  d.socket.callback = (message) => {
    d.events.push(message);
    if (message === 2) got.push(...new Uint8Array(d.socket.read(ArrayBuffer, 2)));
  };
  await until(() => d.events.includes(1), "connected");
  d.socket.write("abcdef");
  await until(() => got.length >= 2, "a readable");
  d.socket.write("XY");
  await until(() => got.length >= 4, "the next readable");
  assert.equal(String.fromCharCode(...got), "abXY");
  assert.ok(nodeLane.log.lines.some((l) => l.includes("securesocket: 4 unread bytes dropped")));
  d.socket.close();
});

const refusals: { name: string; make: () => { chain: string; key: string; host?: string; minVersion?: "TLSv1.3" }; reason: RegExp }[] = [
  { name: "a server certificate from another CA", make: () => ({ chain: other.server.chain, key: other.server.key }), reason: /not signed by the trusted CA/ },
  {
    name: "an expired server certificate",
    make: () => {
      const expired = makeServerCertificate(pki.dir, pki.ca, { name: "expired", days: -1 });
      return { chain: expired.chain, key: expired.key };
    },
    reason: /has expired \(CERT_HAS_EXPIRED\)/,
  },
  {
    name: "a certificate for another name (subjectAltName; the CN is never used)",
    make: () => {
      const elsewhere = makeServerCertificate(pki.dir, pki.ca, { name: "elsewhere", names: ["example.com"] });
      return { chain: elsewhere.chain, key: elsewhere.key, host: "localhost" };
    },
    reason: /not for localhost \(subjectAltName: DNS:example\.com\)/,
  },
  { name: "a server that speaks only TLS 1.3 (the SDK's highest is 1.2)", make: () => ({ chain: pki.server.chain, key: pki.server.key, minVersion: "TLSv1.3" }), reason: /TLS refused: .*(protocol|version)/i },
];

for (const r of refusals) {
  test(`refused: ${r.name}: -2, never 1, not a byte of the application sent, the reason in one line`, async () => {
    nodeLane.useVirtualClock(Date.now());
    nodeLane.log.lines.length = 0;
    const m = r.make();
    const server = await peer(m.chain, m.key, { minVersion: m.minVersion });
    const d = open(server.port, caDer, m.host ?? "127.0.0.1");
    await until(() => d.events.includes(-2), "the error");
    assert.deepEqual(d.events, [-2]);
    assert.equal(server.received.length, 0, "the server received nothing");
    const line = failedLine();
    assert.ok(line !== undefined, nodeLane.log.lines.join("\n"));
    assert.match(line, r.reason);
    assert.equal(nodeLane.log.lines.filter((l) => l.startsWith("securesocket: TLS")).length, 1);
  });
}

test("a server that closes in order (FIN) during the handshake is -1, as the SDK's Socket reports \"disconnected\"; one that resets is -2", async () => {
  nodeLane.useVirtualClock(Date.now());
  for (const [how, expected] of [["end", -1], ["reset", -2]] as const) {
    let hello = 0;
    const server: TcpServer = createTcpServer((c) => {
      c.on("error", () => {});
      c.once("data", (b: Buffer) => {
        hello = b[0]!; // the ClientHello's record type
        if (how === "end") c.end();
        else c.resetAndDestroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const d = open((server.address() as { port: number }).port);
    await until(() => d.events.length > 0, `the ${how}`);
    assert.equal(hello, 22, "the server had the ClientHello");
    assert.deepEqual(d.events, [expected]);
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("onenetTls(resource, serverName): the name checked against the certificate (and sent as SNI) is serverName, not host; the CA is still checked", async () => {
  nodeLane.useVirtualClock(Date.now());
  nodeLane.setConfig({ ca: pki.ca.certPath }); // the CA resource is the test CA
  try {
    const server = await peer(pki.server.chain, pki.server.key);
    const connectWith = async (name: string | undefined): Promise<number[]> => {
      const socket = new SecureSocket({ host: "127.0.0.1", port: server.port, secure: onenetTls(CA_RESOURCE, name) });
      const events: number[] = [];
      socket.callback = (message) => void events.push(message);
      await until(() => events.length > 0, `the handshake with serverName ${String(name)}`);
      socket.close();
      return events;
    };
    // The test certificate names localhost, 127.0.0.1 and the OneNET endpoint.
    assert.deepEqual(await connectWith("mqttstls.heclouds.com"), [1]);
    nodeLane.log.lines.length = 0;
    assert.deepEqual(await connectWith("elsewhere.example"), [-2]);
    assert.match(failedLine() ?? "", /not for elsewhere\.example/);
    assert.deepEqual(await connectWith(undefined), [1], "without it, host (127.0.0.1) is checked");
    assert.equal(onenetTls(CA_RESOURCE).serverName, undefined);
  } finally {
    nodeLane.setConfig({});
  }
});

test("the device's clock decides dates: a CA not yet valid refuses at construction (the SDK's \"date validation failed\"); a server certificate expired at the device clock fails the handshake", async () => {
  const server = await peer(pki.server.chain, pki.server.key);
  nodeLane.useVirtualClock(0); // a board whose clock was never set: 1970
  assert.throws(() => open(server.port), /^Error: date validation failed$/);
  // 400 days ahead: the CA (825 days) still holds, the server certificate (397 days) has expired.
  nodeLane.useVirtualClock(Date.now() + 400 * 86_400_000);
  nodeLane.log.lines.length = 0;
  const d = open(server.port);
  await until(() => d.events.includes(-2), "the error");
  assert.deepEqual(d.events, [-2]);
  assert.match(failedLine() ?? "", /outside its dates at the device clock/);
  assert.equal(server.received.length, 0);
});

test("no CA given, or verify off: refused at construction (the simulator trusts exactly the CA the firmware pins)", () => {
  nodeLane.useVirtualClock(Date.now());
  assert.throws(() => new SecureSocket({ host: "127.0.0.1", port: 1, secure: {} }), /give secure\.certificate/);
  assert.throws(() => new SecureSocket({ host: "127.0.0.1", port: 1, secure: { certificate: caDer, verify: false } }), /verify false is not simulated/);
  assert.throws(() => new SecureSocket({ host: "127.0.0.1", port: 1, secure: { certificate: new ArrayBuffer(8) } }), /not a DER X\.509 certificate/);
});

test("the MQTT client over TLS: CONNECT only after the handshake; a refused handshake is one ERROR line, nothing sent, then the normal backoff", async () => {
  nodeLane.useVirtualClock(Date.now());
  // A server that answers CONNECT with CONNACK 0.
  const good = await peer(pki.server.chain, pki.server.key, { reply: (s, b) => void (b[0] === 0x10 && s.write(Buffer.from([0x20, 2, 0, 0]))) });
  const lines: string[] = [];
  const log = logTo((level, area, message, fields) => lines.push(`${level} ${area}: ${message} ${JSON.stringify(fields ?? {})}`));
  const client = new MqttClient({ host: "127.0.0.1", port: good.port, clientId: "c1", secure: { protocolVersion: 0x0303, certificate: caDer }, log });
  let connected = false;
  client.onConnect = () => (connected = true);
  client.connect();
  await until(() => connected, "CONNACK over TLS");
  assert.equal(good.received[0]?.[0], 0x10, "the first bytes the server read were CONNECT, inside TLS");
  client.end();

  const bad = await peer(other.server.chain, other.server.key);
  lines.length = 0;
  const refused = new MqttClient({ host: "127.0.0.1", port: bad.port, clientId: "c2", secure: { protocolVersion: 0x0303, certificate: caDer }, log, reconnectMin: 1000, random: () => 0.99 });
  refused.connect();
  await until(() => lines.some((l) => l.startsWith("ERROR mqtt: TLS handshake failed, no CONNECT sent")), "the handshake error");
  const errors = lines.filter((l) => l.includes("TLS handshake failed, no CONNECT sent"));
  assert.equal(errors.length, 1);
  assert.match(errors[0], /"cause":"no connection \(refused or reset\), or the certificate was refused \(not from the trusted CA, outside its dates, or not for this host\), or a TLS alert"/);
  assert.ok(lines.some((l) => /reconnect scheduled .*"delay":995/.test(l)), lines.join("\n"));
  // The backoff: no second attempt before the delay, one after it.
  await nodeLane.advance(994);
  assert.equal(lines.filter((l) => l.startsWith("INFO mqtt: connecting")).length, 1);
  await nodeLane.advance(1);
  await until(() => lines.filter((l) => l.includes("TLS handshake failed, no CONNECT sent")).length === 2, "the second refusal");
  // (Node checks the certificate once the handshake is done, so this server may count handshakes; the
  // board's SDK aborts inside it. Either way the application never writes.)
  assert.equal(bad.received.length, 0, "no MQTT byte ever reached the server");
  refused.end();
});
