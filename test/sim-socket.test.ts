// The simulated Moddable socket (sim/modules/socket.ts) in the Node lane against a real TCP peer.
// Pins the board semantics of modules/network/socket/lwip/modSocket.c (Moddable SDK): callback
// messages 1/2/3/-1/-2; read only inside the readable callback; write all-or-nothing, throwing
// "can't write all data" over the free send space (lwIP tcp_sndbuf, 5744 bytes on ESP32); write()
// returns the free space; the writable callback (3) once everything written was acknowledged.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket as NetSocket } from "node:net";
import { Socket } from "socket";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { SEND_BUFFER, SEGMENT } from "../tools/sim/modules/socket.ts";

interface Peer {
  server: Server;
  port: number;
  conns: NetSocket[];
  received: Buffer[];
}

async function peer(): Promise<Peer> {
  const p: Peer = { server: createServer(), port: 0, conns: [], received: [] };
  p.server.on("connection", (c) => {
    p.conns.push(c);
    c.on("data", (d) => p.received.push(d));
    c.on("error", () => {});
  });
  await new Promise<void>((r) => p.server.listen(0, "127.0.0.1", () => r()));
  p.port = (p.server.address() as { port: number }).port;
  return p;
}

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type Msg = [number, number | undefined];

function open(port: number, onReadable?: (s: Socket, value: number) => void): { socket: Socket; messages: Msg[] } {
  const messages: Msg[] = [];
  const socket = new Socket({ address: "127.0.0.1", port });
  socket.callback = (message, value) => {
    messages.push([message, value]);
    if (message === 2 && onReadable) onReadable(socket, value ?? 0);
  };
  return { socket, messages };
}

const peers: Peer[] = [];
after(() => {
  nodeLane.shutdown();
  for (const p of peers) {
    for (const c of p.conns) c.destroy();
    p.server.close();
  }
});

test("connect: callback(1); write() is the free send space (5744, ESP32 lwIP TCP_SND_BUF)", async () => {
  const p = await peer();
  peers.push(p);
  const { socket, messages } = open(p.port);
  await until(() => messages.length > 0, "connected");
  assert.deepEqual(messages[0], [1, undefined]);
  assert.equal(socket.write(), SEND_BUFFER);
  socket.close();
});

test("write sends all arguments (string as UTF-8, number as one byte, buffers); callback(3, free) once all is acknowledged", async () => {
  const p = await peer();
  peers.push(p);
  const { socket, messages } = open(p.port);
  await until(() => messages.length > 0, "connected");
  socket.write("hé", 0x21, Uint8Array.of(1, 2), Uint8Array.of(3).buffer);
  await until(() => Buffer.concat(p.received).length === 7, "peer receives 7 bytes");
  assert.deepEqual([...Buffer.concat(p.received)], [0x68, 0xc3, 0xa9, 0x21, 1, 2, 3]);
  await until(() => messages.some(([m]) => m === 3), "writable callback");
  assert.deepEqual(messages.find(([m]) => m === 3), [3, SEND_BUFFER]);
  socket.close();
});

test("readable: one callback per segment (<= 1436 bytes, ESP32 TCP_MSS); read(ArrayBuffer) inside it; read outside throws", async () => {
  const p = await peer();
  peers.push(p);
  const got: number[] = [];
  let sizes: number[] = [];
  const { socket, messages } = open(p.port, (s, value) => {
    sizes.push(value);
    assert.equal(s.read(), value);
    const head = s.read(ArrayBuffer, 10);
    const rest = s.read(ArrayBuffer);
    got.push(...new Uint8Array(head), ...new Uint8Array(rest));
    assert.equal(s.read(), 0);
  });
  await until(() => p.conns.length === 1 && messages.length > 0, "connected");
  const data = Buffer.alloc(4000);
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
  p.conns[0].write(data);
  await until(() => got.length === 4000, "4000 bytes read");
  assert.deepEqual(Buffer.from(got), data);
  assert.ok(sizes.every((n) => n > 0 && n <= SEGMENT), `segment sizes ${sizes.join(",")}`);
  assert.throws(() => socket.read(ArrayBuffer), /outside the readable callback/);
  sizes = [];
  socket.close();
});

test("read(String, terminator), read(Number), read(null, n) follow the SDK's read()", async () => {
  const p = await peer();
  peers.push(p);
  const parts: unknown[] = [];
  const { messages } = open(p.port, (s) => {
    parts.push(s.read(String, "\n"), s.read(Number), s.read(null, 2), s.read(String));
  });
  await until(() => p.conns.length === 1 && messages.length > 0, "connected");
  p.conns[0].write("ab\nXyzrest");
  await until(() => parts.length === 4, "read");
  assert.deepEqual(parts, ["ab\n", 0x58, 2, "rest"]);
});

test("write is all-or-nothing: over the free space it throws \"can't write all data\" and sends nothing", async () => {
  const p = await peer();
  peers.push(p);
  const { socket, messages } = open(p.port);
  await until(() => p.conns.length === 1 && messages.length > 0, "connected");
  nodeLane.link.blackhole(true); // nothing is acknowledged: the send space stays used
  try {
    socket.write(new Uint8Array(5000));
    assert.equal(socket.write(), SEND_BUFFER - 5000);
    assert.throws(() => socket.write(new Uint8Array(400), new Uint8Array(400)), /can't write all data/);
    assert.equal(socket.write(), SEND_BUFFER - 5000, "a refused write takes no space");
    socket.write(new Uint8Array(SEND_BUFFER - 5000));
    assert.equal(socket.write(), 0);
    assert.throws(() => socket.write(1), /can't write all data/);
    assert.ok(!messages.some(([m]) => m === 3), "no writable callback while nothing is acknowledged");
  } finally {
    nodeLane.link.blackhole(false);
    socket.close();
  }
});

test("peer closes: callback(-1); link reset: callback(-2); refused connect: callback(-2)", async () => {
  const p = await peer();
  peers.push(p);
  const a = open(p.port);
  await until(() => p.conns.length === 1 && a.messages.length > 0, "connected");
  p.conns[0].end();
  await until(() => a.messages.some(([m]) => m === -1), "disconnected");

  const b = open(p.port);
  await until(() => p.conns.length === 2 && b.messages.length > 0, "connected");
  nodeLane.link.reset();
  await until(() => b.messages.some(([m]) => m === -2), "error after reset");
  let peerClosed = false;
  p.conns[1].on("close", () => (peerClosed = true));
  await until(() => peerClosed || p.conns[1].destroyed, "peer sees the reset");

  nodeLane.link.refuse(true);
  const c = open(p.port);
  await until(() => c.messages.length > 0, "refused");
  nodeLane.link.refuse(false);
  assert.deepEqual(c.messages, [[-2, undefined]]);

  const closedPort = await peer();
  closedPort.server.close();
  await new Promise((r) => setTimeout(r, 20));
  const d = open(closedPort.port);
  await until(() => d.messages.length > 0, "connection refused by the OS");
  assert.deepEqual(d.messages, [[-2, undefined]]);
});

test("writes made while connecting are sent once connected (lwIP queues in SYN_SENT); get(\"REMOTE_IP\")", async () => {
  const p = await peer();
  peers.push(p);
  const { socket, messages } = open(p.port);
  socket.write("early");
  await until(() => Buffer.concat(p.received).toString() === "early", "early bytes at the peer");
  assert.equal(messages[0][0], 1);
  assert.equal(socket.get("REMOTE_IP"), "127.0.0.1");
  socket.close();
});

test("invalid dictionaries throw like the SDK (no host/address, bad address)", () => {
  assert.throws(() => new Socket({ port: 80 }), /invalid dictionary/);
  assert.throws(() => new Socket({ address: "1.2.3.999", port: 80 }), /invalid IP address/);
});
