// Reconnect storms, on the Node lane's virtual clock against a broker that misbehaves (a node:net
// server speaking just enough MQTT): it accepts every login (CONNACK 0) and then drops the link, or
// sends CONNACK twice. OneNET allows 3 logins per 5 s and counts every CONNECT; a client that resets
// its backoff on each CONNACK would log in about once a second for ever. The client's own logins are
// timed at the server, on the virtual clock, so the spacing is exact.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket, type AddressInfo } from "node:net";
import { nodeLane } from "../tools/sim/node-lane.ts";
import Time from "../tools/sim/modules/time.ts";
import { MqttClient, type ClientOptions } from "../mqtt/client.ts";
import { Uptime } from "../lib/time.ts";
import { until } from "./helpers/wait.ts";
import { lineLogger } from "./helpers/virtual-client.ts";

const CONNACK = Buffer.from([0x20, 2, 0, 0]);

type Behaviour = "drop" | "double";
let behaviour: Behaviour = "drop";
/** Virtual ms of each CONNECT the server received. */
let logins: number[] = [];
let server: Server;
let port = 0;
const open = new Set<Socket>();
const clients: MqttClient[] = [];

before(async () => {
  server = createServer((socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => {});
    socket.once("data", (bytes) => {
      if ((bytes[0] & 0xf0) !== 0x10) {
        socket.destroy(); // not a CONNECT
        return;
      }
      logins.push(nodeLane.clock.now());
      if (behaviour === "drop") socket.end(CONNACK);
      else socket.write(Buffer.concat([CONNACK, CONNACK]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  for (const c of clients) c.end();
  for (const s of open) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  nodeLane.shutdown();
});

/** Runs a client against the server for `ms` of virtual time; returns its log. */
async function run(ms: number, options: Partial<ClientOptions> = {}, onConnect?: (c: MqttClient) => void): Promise<string[]> {
  nodeLane.useVirtualClock();
  logins = [];
  const logs: string[] = [];
  const uptime = new Uptime(() => Time.ticks);
  const c = new MqttClient({
    host: "127.0.0.1",
    port,
    clientId: `storm-${clients.length}`,
    keepalive: 0,
    random: () => 0.5, // jitter pinned: each delay is 3/4 of its nominal value
    uptime,
    log: lineLogger(logs),
    ...options,
  });
  clients.push(c);
  if (onConnect) c.onConnect = () => onConnect(c);
  c.connect();
  while (nodeLane.clock.now() < ms) {
    // Each login ends (the broker's drop, or our close on its violation) before time moves on.
    await until(() => c.session.state === "waiting", "the login to end");
    await nodeLane.advance(Math.max(1, c.session.nextDeadline() - uptime.now()));
  }
  c.end();
  return logs;
}

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]);
}

function atMost3In5s(times: number[]): void {
  for (let i = 3; i < times.length; i++) {
    assert.ok(times[i] - times[i - 3] >= 5000, `4 logins within 5 s: ${times.slice(i - 3, i + 1).join(", ")}`);
  }
}

test("a broker that accepts and drops at once: the backoff keeps growing (no reset on CONNACK), 7 logins in a virtual minute", async () => {
  behaviour = "drop";
  await run(60_000);
  // Nominal 1, 2, 4, 8, 16, 32 s at 3/4: the connection never proved itself, so the delays grow.
  assert.deepEqual(gaps(logins.filter((t) => t < 60_000)), [750, 1500, 3000, 6000, 12000, 24000]);
  atMost3In5s(logins);
});

test("a broker that sends CONNACK twice: closed as a protocol violation with the reason logged, and the backoff grows [MQTT-4.8.0-1]", async () => {
  behaviour = "double";
  const logs = await run(30_000);
  assert.ok(logs.some((l) => l.startsWith("ERROR") && l.includes("second CONNACK")), logs.join("\n"));
  assert.deepEqual(gaps(logins.filter((t) => t < 30_000)), [750, 1500, 3000, 6000, 12000]);
});

test("a connection the app proved (OneNET answered a post) reconnects quickly, but never more than 3 logins per 5 s", async () => {
  behaviour = "drop";
  const logs = await run(30_000, {}, (c) => c.connectionProved());
  const within = logins.filter((t) => t < 30_000);
  atMost3In5s(within);
  // The backoff stays at its first step (750 ms); the login limit is what spaces them.
  assert.deepEqual(gaps(within).slice(0, 5), [750, 750, 3500, 750, 750]);
  assert.ok(within.length >= 15, `logins go on at the limit: ${within.length}`);
  assert.ok(logs.some((l) => l.includes("login rate limit")), logs.join("\n"));
});
