// The sans-I/O MQTT session on a virtual clock: every case drives the session with packets and
// time, and reads what it wants to send. Runs in Node (test/portable.test.ts) and inside XS.
// Each case names the MQTT 3.1.1 statement (or, as "anchor: ...", the field complaint) it pins.

import { assert, suite } from "./harness";
import { Session, MqttUsageError, type SessionEvent, type SessionOptions } from "../../mqtt/session";
import { Outbox } from "../../mqtt/outbox";
import { MemoryStorage } from "./memory-storage";
import { Backoff } from "../../lib/backoff";
import type { Packet, PacketInput, QoS } from "../../mqtt/packets";
import { logTo } from "./logger";

type Sent = PacketInput & { dup?: boolean; messageId?: number; qos?: QoS; topic?: string; payload?: Uint8Array; retain?: boolean };

/** A deterministic random source (LCG), so backoff jitter is reproducible. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
}

class Rig {
  now = 1000;
  readonly session: Session;
  sent: Sent[] = [];
  events: SessionEvent[] = [];
  logs: string[] = [];

  constructor(options: Partial<SessionOptions> = {}) {
    this.session = new Session({
      clientId: "dev1",
      keepalive: 60,
      random: lcg(7),
      log: logTo((level, _area, message, fields) => this.logs.push(`${level.toLowerCase()} ${message}${fields ? " " + JSON.stringify(fields) : ""}`)),
      ...options,
    });
  }

  drain(): void {
    let p: PacketInput | undefined;
    // Copy: packets the session hands out are only valid until the next call.
    while ((p = this.session.pollTransmit())) this.sent.push({ ...p } as Sent);
    let e: SessionEvent | undefined;
    while ((e = this.session.pollEvent())) this.events.push(e);
  }

  take(): Sent[] {
    this.drain();
    const s = this.sent;
    this.sent = [];
    return s;
  }

  takeEvents(): SessionEvent[] {
    this.drain();
    const e = this.events;
    this.events = [];
    return e;
  }

  recv(packet: Packet): void {
    this.session.handlePacket(packet, this.now);
    this.drain();
  }

  /** Advances virtual time to now + ms, firing every deadline on the way. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const d = this.session.nextDeadline();
      if (d < 0 || d > target) break;
      if (d > this.now) this.now = d;
      this.session.handleTimeout(this.now);
      this.drain();
      if (this.session.nextDeadline() === d) break; // nothing changed: avoid spinning
    }
    this.now = target;
  }

  /** start (or wait for the reconnect), transport up, CONNECT, CONNACK. */
  connect(sessionPresent = false): void {
    if (this.session.state === "idle") this.session.start(this.now);
    this.drain();
    let guard = 0;
    while (this.session.state !== "opening") {
      const d = this.session.nextDeadline();
      assert.ok(d >= 0 && guard++ < 5, "session should schedule a connect");
      this.advance(Math.max(0, d - this.now));
    }
    this.events = this.events.filter((e) => e.type !== "open");
    this.take(); // whatever was polled for the old connection is gone with it
    this.session.transportUp(this.now);
    const connect = this.take();
    assert.equal(connect.length, 1);
    assert.equal(connect[0].cmd, "connect");
    this.recv({ cmd: "connack", returnCode: 0, sessionPresent });
  }

  drop(reason = "reset"): void {
    this.session.transportDown(this.now, reason);
    this.drain();
  }
}

const bytes = (s: string): Uint8Array => {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
};

const cmds = (packets: Sent[]): string[] => packets.map((p) => p.cmd);

suite("session: connect", (test) => {
  test("CONNECT carries clean, keepalive, will, username and password [MQTT-3.1.2-4, 3.1.2-9, 3.1.2-19, 3.1.2-21]", () => {
    const will = { topic: "dev/status", payload: bytes("gone"), qos: 1 as QoS, retain: true };
    const rig = new Rig({ clean: false, keepalive: 30, will, username: "pid", password: "tok" });
    rig.session.start(rig.now);
    const events = rig.takeEvents();
    assert.deepEqual(events, [{ type: "open" }]);
    rig.session.transportUp(rig.now);
    const [connect] = rig.take();
    assert.ok(connect.cmd === "connect");
    assert.equal(connect.clean, false);
    assert.equal(connect.keepalive, 30);
    assert.equal(connect.clientId, "dev1");
    assert.equal(connect.username, "pid");
    assert.deepEqual(connect.password, bytes("tok"));
    assert.deepEqual(connect.will, will);
  });

  test("CONNACK accepted emits connect with sessionPresent [MQTT-3.2.2-2]", () => {
    const rig = new Rig({ clean: false });
    rig.connect(true);
    assert.deepEqual(rig.takeEvents(), [{ type: "connect", sessionPresent: true }]);
    assert.ok(rig.session.connected);
  });

  test("sessionPresent on a clean session is a protocol violation: close and reconnect [MQTT-3.2.2-1]", () => {
    const rig = new Rig();
    rig.connect(true);
    const events = rig.takeEvents();
    assert.equal(events[0].type, "close");
    assert.equal(rig.session.state, "waiting");
  });

  test("each refused CONNACK code becomes a clear error and a long backoff [MQTT-3.2.2-5, table 3.1]", () => {
    const reasons = ["", "unacceptable protocol version", "identifier rejected", "server unavailable", "bad user name or password", "not authorized"];
    for (let code = 1; code <= 5; code++) {
      const rig = new Rig();
      rig.session.start(rig.now);
      rig.session.transportUp(rig.now);
      rig.take();
      rig.takeEvents();
      rig.recv({ cmd: "connack", returnCode: code as 1, sessionPresent: false });
      const events = rig.takeEvents();
      const refused = events.find((e) => e.type === "refused");
      assert.ok(refused && refused.type === "refused");
      assert.equal(refused.returnCode, code);
      assert.ok(refused.reason.includes(reasons[code]), refused.reason);
      assert.ok(events.some((e) => e.type === "close"), "the transport is closed");
      const delay = rig.session.lastBackoff;
      if (code === 3) assert.ok(delay >= 500 && delay <= 1000, `server unavailable retries soon, got ${delay}`);
      else assert.ok(delay >= 15000 && delay <= 30000, `refusal backs off long, got ${delay}`);
    }
  });

  test("refusals back off longer each time, up to refusedMax (no hammering with bad credentials)", () => {
    const rig = new Rig({ refusedMin: 30000, refusedMax: 600000 });
    const delays: number[] = [];
    rig.session.start(rig.now);
    for (let i = 0; i < 8; i++) {
      rig.drain();
      if (rig.session.state === "waiting") rig.advance(rig.session.nextDeadline() - rig.now);
      assert.equal(rig.session.state, "opening");
      rig.session.transportUp(rig.now);
      rig.recv({ cmd: "connack", returnCode: 4, sessionPresent: false });
      delays.push(rig.session.lastBackoff);
    }
    for (let i = 0; i < delays.length; i++) {
      const nominal = Math.min(600000, 30000 * 2 ** i);
      assert.ok(delays[i] >= nominal / 2 && delays[i] <= nominal, `attempt ${i}: ${delays[i]} vs ${nominal}`);
    }
  });

  test("a packet before CONNACK is a violation: close [MQTT-3.2.0-1]", () => {
    const rig = new Rig();
    rig.session.start(rig.now);
    rig.session.transportUp(rig.now);
    rig.takeEvents();
    rig.recv({ cmd: "pingresp" });
    const events = rig.takeEvents();
    assert.equal(events[0].type, "close");
    assert.ok(events[0].type === "close" && events[0].reason.includes("CONNACK"));
  });

  test("a second CONNACK on one connection is a protocol violation: closed with the reason logged [MQTT-3.2.0-1, 4.8.0-1]", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    rig.recv({ cmd: "connack", returnCode: 0, sessionPresent: false });
    const events = rig.takeEvents();
    assert.ok(events[0].type === "close" && /second CONNACK/.test(events[0].reason), JSON.stringify(events));
    assert.equal(events[1].type, "offline");
    assert.ok(rig.logs.some((l) => l.startsWith("error broker violated the protocol") && l.includes("second CONNACK")), rig.logs.join("\n"));
  });

  test("no CONNACK within connectTimeout: close and retry", () => {
    const rig = new Rig({ connectTimeout: 5000 });
    rig.session.start(rig.now);
    rig.session.transportUp(rig.now);
    rig.takeEvents();
    rig.advance(4999);
    assert.deepEqual(rig.takeEvents(), []);
    rig.advance(1);
    const events = rig.takeEvents();
    assert.equal(events[0].type, "close");
    assert.equal(rig.session.state, "waiting");
  });

  test("clientId empty with clean false is refused locally [MQTT-3.1.3-7]", () => {
    assert.throws(() => new Session({ clientId: "", clean: false }), MqttUsageError, /clientId/);
  });

  test("password without username is refused locally [MQTT-3.1.2-22]", () => {
    assert.throws(() => new Session({ clientId: "a", password: "x" }), MqttUsageError, /username/);
  });
});

suite("session: reconnect backoff", (test) => {
  test("Backoff (lib/backoff, shared with Wi-Fi): doubles from min to max, scaled by a factor in [low, high)", () => {
    let r = 0;
    const b = new Backoff({ min: 1000, max: 8000, low: 0.5, high: 1, random: () => r });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [500, 1000, 2000, 4000, 4000], "random 0: the low end");
    b.reset();
    r = 0.5;
    assert.deepEqual([b.next(), b.next()], [750, 1500], "reset: from min again");
    const wifi = new Backoff({ min: 1000, max: 60000, low: 0.8, high: 1.2, random: () => 0.999999 });
    assert.equal(wifi.next(), 1200, "+/- 20 %: just under the high end");
    const tiny = new Backoff({ min: 0.1, max: 1, low: 0.5, high: 1, random: () => 0 });
    assert.equal(tiny.next(), 1, "never less than 1 ms");
    const many = new Backoff({ min: 1000, max: 60000, low: 1, high: 1, random: () => 0 });
    for (let i = 0; i < 2000; i++) many.next();
    assert.equal(many.next(), 60000, "after thousands of failures still the cap, not Infinity or NaN");
  });
  test("backoff starts near 1 s and doubles to 60 s, jittered between half and all", () => {
    const rig = new Rig();
    rig.session.start(rig.now);
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      rig.drain();
      if (rig.session.state === "waiting") rig.advance(rig.session.nextDeadline() - rig.now);
      assert.equal(rig.session.state, "opening");
      rig.drop("refused by peer");
      delays.push(rig.session.lastBackoff);
    }
    for (let i = 0; i < delays.length; i++) {
      const nominal = Math.min(60000, 1000 * 2 ** i);
      assert.ok(delays[i] >= nominal / 2 && delays[i] <= nominal, `failure ${i}: ${delays[i]} vs ${nominal}`);
    }
    assert.ok(delays[8] >= 30000, "capped at 60 s nominal");
  });

  test("jitter comes from the injected random source: same seed, same delays", () => {
    const run = (seed: number): number[] => {
      const rig = new Rig({ random: lcg(seed) });
      rig.session.start(rig.now);
      const out: number[] = [];
      for (let i = 0; i < 5; i++) {
        rig.drain();
        rig.advance(rig.session.nextDeadline() - rig.now);
        rig.drop();
        out.push(rig.session.lastBackoff);
      }
      return out;
    };
    assert.deepEqual(run(1), run(1));
    assert.ok(run(1).join() !== run(2).join(), "different seeds give different jitter");
  });

  test("a connection that proved itself (up proveAfter, or connectionProved) resets the backoff", () => {
    const failures = (rig: Rig): void => {
      for (let i = 0; i < 5; i++) {
        rig.drain();
        if (rig.session.state === "waiting") rig.advance(rig.session.nextDeadline() - rig.now);
        assert.equal(rig.session.state, "opening");
        rig.drop();
      }
    };
    const rig = new Rig();
    rig.session.start(rig.now);
    failures(rig);
    assert.ok(rig.session.lastBackoff >= 8000);
    rig.connect();
    rig.advance(60000); // proveAfter
    rig.drop();
    assert.ok(rig.session.lastBackoff <= 1000, `after a connection up 60 s: ${rig.session.lastBackoff}`);
    assert.ok(rig.takeEvents().some((e) => e.type === "offline"));

    const app = new Rig();
    app.session.start(app.now);
    failures(app);
    app.connect();
    app.session.connectionProved(); // e.g. OneNET answered a post with code 200
    app.drop();
    assert.ok(app.session.lastBackoff <= 1000, `after connectionProved: ${app.session.lastBackoff}`);
  });

  test("a connection dropped before it proved itself does not reset the backoff (anchor: a broker that accepts and drops gets a login a second)", () => {
    const rig = new Rig({ random: () => 0.5 });
    rig.session.start(rig.now);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      rig.connect();
      rig.advance(59999); // up, but not for proveAfter
      rig.drop("closed by the broker");
      delays.push(rig.session.lastBackoff);
    }
    // Nominal 1, 2, 4 ... 60 s, random 0.5: three quarters of each.
    assert.deepEqual(delays, [750, 1500, 3000, 6000, 12000, 24000, 45000, 45000]);
  });

  test("network down: no connect attempt until networkUp, then at once", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    rig.session.networkDown(rig.now);
    const events = rig.takeEvents();
    assert.equal(events[0].type, "close");
    assert.equal(events[1].type, "offline");
    assert.equal(rig.session.nextDeadline(), -1);
    rig.advance(3600000);
    assert.deepEqual(rig.takeEvents(), []);
    rig.session.networkUp(rig.now);
    assert.deepEqual(rig.takeEvents(), [{ type: "open" }]);
  });

  test("end(): DISCONNECT after queued packets, graceful close, no reconnect [MQTT-3.14.4-1]", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    rig.session.publish("t", bytes("x"), 0, false, rig.now);
    rig.session.end(rig.now);
    assert.deepEqual(cmds(rig.take()), ["publish", "disconnect"]);
    const events = rig.takeEvents();
    assert.deepEqual(events.map((e) => e.type), ["delivered", "close", "offline", "end"]);
    assert.ok(events[1].type === "close" && events[1].graceful);
    assert.equal(rig.session.nextDeadline(), -1);
  });
});

suite("session: keepalive", (test) => {
  test("PINGREQ when nothing was sent for keepalive seconds [MQTT-3.1.2-23]", () => {
    const rig = new Rig({ keepalive: 10 });
    rig.connect();
    rig.take();
    rig.advance(9999);
    assert.deepEqual(rig.take(), []);
    rig.advance(1);
    assert.deepEqual(cmds(rig.take()), ["pingreq"]);
    rig.recv({ cmd: "pingresp" });
    rig.advance(10000);
    assert.deepEqual(cmds(rig.take()), ["pingreq"]);
  });

  test("a silent broker is noticed within 1.5 x keepalive, not only on a TCP reset (anchor: connected() true long after the link died)", () => {
    const rig = new Rig({ keepalive: 10 });
    rig.connect();
    rig.takeEvents();
    const start = rig.now;
    rig.advance(14999);
    assert.ok(rig.session.connected);
    rig.advance(1);
    const events = rig.takeEvents();
    assert.equal(events[0].type, "close");
    assert.ok(events[0].type === "close" && events[0].reason.includes("keepalive"));
    assert.equal(events[1].type, "offline");
    assert.equal(rig.now - start, 15000);
    assert.ok(!rig.session.connected);
  });

  test("a busy sender still pings when the broker is silent, and drops at 1.5 x keepalive", () => {
    const rig = new Rig({ keepalive: 10 });
    rig.connect();
    rig.take();
    rig.takeEvents();
    for (let t = 0; t < 14; t++) {
      rig.advance(1000);
      rig.session.publish("t", bytes("x"), 0, false, rig.now);
    }
    const sent = cmds(rig.take());
    assert.ok(sent.includes("pingreq"), "PINGREQ although packets were flowing out");
    rig.advance(1000);
    assert.ok(!rig.session.connected);
  });

  test("traffic from the broker keeps the link alive; PINGRESP counts", () => {
    const rig = new Rig({ keepalive: 10 });
    rig.connect();
    for (let i = 0; i < 10; i++) {
      rig.advance(10000);
      const sent = rig.take();
      assert.deepEqual(cmds(sent), ["pingreq"]);
      rig.advance(2000);
      rig.recv({ cmd: "pingresp" });
    }
    assert.ok(rig.session.connected);
  });

  test("keepalive 0 turns the mechanism off [MQTT-3.1.2.10]", () => {
    const rig = new Rig({ keepalive: 0 });
    rig.connect();
    rig.take();
    assert.equal(rig.session.nextDeadline(), -1);
    rig.advance(10 * 3600000);
    assert.deepEqual(rig.take(), []);
    assert.ok(rig.session.connected);
  });
});

suite("session: publish", (test) => {
  test("QoS 0 goes at once with no packet id [MQTT-2.3.1-5]", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    const seq = rig.session.publish("a/b", bytes("hi"), 0, false, rig.now);
    const [p] = rig.take();
    assert.ok(p.cmd === "publish");
    assert.equal(p.qos, 0);
    assert.equal(p.messageId, undefined);
    assert.deepEqual(rig.takeEvents(), [{ type: "delivered", seq, qos: 0 }]);
    assert.equal(rig.session.outbox.length, 0);
  });

  test("packetsQueued and eventsQueued count what pollTransmit and pollEvent have to give (a host polls only while they are not 0); a lost connection drops its packets from the count", () => {
    const rig = new Rig({ maxInflight: 5 });
    rig.connect();
    rig.takeEvents();
    const s = rig.session;
    assert.equal(s.packetsQueued, 0);
    assert.equal(s.eventsQueued, 0);
    s.publish("t", bytes("a"), 0, false, rig.now);
    s.publish("t", bytes("b"), 1, false, rig.now);
    s.publish("t", bytes("c"), 1, false, rig.now);
    assert.equal(s.packetsQueued, 3);
    assert.equal(s.eventsQueued, 1, "a delivered");
    for (let left = 3; left > 0; left--) {
      assert.ok(s.pollTransmit());
      assert.equal(s.packetsQueued, left - 1);
    }
    assert.equal(s.pollTransmit(), undefined);
    assert.ok(s.pollEvent());
    assert.equal(s.eventsQueued, 0);
    assert.equal(s.pollEvent(), undefined);
    // Queues emptied by the last poll are used again from the start.
    s.publish("t", bytes("d"), 0, false, rig.now);
    assert.equal(s.packetsQueued, 1);
    assert.ok(s.pollTransmit()?.cmd === "publish");
    assert.equal(s.packetsQueued, 0);
    s.publish("t", bytes("e"), 1, false, rig.now);
    assert.equal(s.packetsQueued, 1);
    s.transportDown(rig.now, "reset");
    assert.equal(s.packetsQueued, 0, "the packet for the lost connection is gone");
    assert.equal(s.pollTransmit(), undefined);
    assert.equal(s.eventsQueued, 2, "d delivered, then offline");
    assert.deepEqual(rig.takeEvents().map((e) => e.type), ["delivered", "offline"]);
    assert.equal(s.eventsQueued, 0);
  });

  test("QoS 1: PUBLISH, PUBACK, delivered; the message leaves the outbox [MQTT-4.3.2-1]", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    const seq = rig.session.publish("a", bytes("1"), 1, true, rig.now);
    const [p] = rig.take();
    assert.ok(p.cmd === "publish");
    assert.equal(p.qos, 1);
    assert.equal(p.dup, false);
    assert.equal(p.retain, true);
    assert.equal(p.messageId, 1);
    assert.equal(rig.session.outbox.length, 1);
    rig.recv({ cmd: "puback", messageId: 1 });
    assert.deepEqual(rig.takeEvents(), [{ type: "delivered", seq, qos: 1 }]);
    assert.equal(rig.session.outbox.length, 0);
  });

  test("QoS 2 outbound: PUBLISH, PUBREC, PUBREL, PUBCOMP [MQTT-4.3.3-1]", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    const seq = rig.session.publish("a", bytes("1"), 2, false, rig.now);
    assert.deepEqual(cmds(rig.take()), ["publish"]);
    rig.recv({ cmd: "pubrec", messageId: 1 });
    const rel = rig.take();
    assert.deepEqual(rel, [{ cmd: "pubrel", messageId: 1 }]);
    assert.deepEqual(rig.takeEvents(), []);
    rig.recv({ cmd: "pubrec", messageId: 1 }); // duplicate PUBREC: PUBREL again, never PUBLISH
    assert.deepEqual(rig.take(), [{ cmd: "pubrel", messageId: 1 }]);
    rig.recv({ cmd: "pubcomp", messageId: 1 });
    assert.deepEqual(rig.takeEvents(), [{ type: "delivered", seq, qos: 2 }]);
    assert.equal(rig.session.inflight, 0);
  });

  test("in-flight window: at most maxInflight unacknowledged, the rest wait in order [MQTT-4.6.0-2]", () => {
    const rig = new Rig({ maxInflight: 2 });
    rig.connect();
    for (let i = 0; i < 5; i++) rig.session.publish("t", bytes(String(i)), 1, false, rig.now);
    let sent = rig.take();
    assert.deepEqual(sent.map((p) => p.messageId), [1, 2]);
    rig.recv({ cmd: "puback", messageId: 1 });
    sent = rig.take();
    assert.deepEqual(sent.map((p) => p.messageId), [3]);
    rig.recv({ cmd: "puback", messageId: 2 });
    rig.recv({ cmd: "puback", messageId: 3 });
    sent = rig.take();
    assert.deepEqual(sent.map((p) => p.messageId), [4, 5]);
    assert.equal(rig.session.inflight, 2);
  });

  test("QoS 0 behind a full window waits its turn: order is kept [MQTT-4.6.0-6]", () => {
    const rig = new Rig({ maxInflight: 1 });
    rig.connect();
    rig.session.publish("t", bytes("a"), 1, false, rig.now);
    rig.session.publish("t", bytes("b"), 1, false, rig.now);
    rig.session.publish("t", bytes("c"), 0, false, rig.now);
    let sent = rig.take();
    assert.equal(sent.length, 1);
    rig.recv({ cmd: "puback", messageId: 1 });
    sent = rig.take();
    // b goes when the window opens, and c (QoS 0) right after it, never before it.
    assert.deepEqual(sent.map((p) => (p.cmd === "publish" ? String.fromCharCode(p.payload[0]) : "")), ["b", "c"]);
  });

  test("packet ids wrap 65535 -> 1 and skip ids still in flight [MQTT-2.3.1-2]", () => {
    const rig = new Rig({ firstPacketId: 65534, maxInflight: 10 });
    rig.connect();
    rig.take();
    rig.session.publish("t", bytes("a"), 1, false, rig.now);
    rig.session.publish("t", bytes("b"), 1, false, rig.now);
    rig.session.publish("t", bytes("c"), 1, false, rig.now);
    assert.deepEqual(rig.take().map((p) => p.messageId), [65534, 65535, 1]);
    // 65535 and 1 stay in flight; run the counter around once more.
    rig.recv({ cmd: "puback", messageId: 65534 });
    rig.session.subscribe([{ topic: "x", qos: 0 }], rig.now);
    const [sub] = rig.take();
    assert.equal(sub.messageId, 2);
  });

  test("ids are never reused while in flight, across a full wrap", () => {
    const rig = new Rig({ maxInflight: 3 });
    rig.connect();
    rig.take();
    // Hold ids 1 and 2, cycle the rest of the space through a third slot.
    rig.session.publish("t", bytes("hold1"), 1, false, rig.now);
    rig.session.publish("t", bytes("hold2"), 1, false, rig.now);
    rig.take();
    const seen: number[] = [];
    for (let i = 0; i < 65540; i++) {
      rig.session.publish("t", bytes("x"), 1, false, rig.now);
      const [p] = rig.take();
      const id = p.messageId!;
      assert.ok(id !== 1 && id !== 2, `id ${id} reused while in flight`);
      if (i >= 65530) seen.push(id);
      rig.session.handlePacket({ cmd: "puback", messageId: id }, rig.now);
      rig.drain();
      rig.events.length = 0;
    }
    assert.deepEqual(seen, [65533, 65534, 65535, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("invalid topics and QoS are refused with a typed error [MQTT-3.3.2-2, 4.7.3-1]", () => {
    const rig = new Rig();
    assert.throws(() => rig.session.publish("a/#", bytes(""), 0, false, 0), MqttUsageError, /wildcard/);
    assert.throws(() => rig.session.publish("a/+/b", bytes(""), 0, false, 0), MqttUsageError, /wildcard/);
    assert.throws(() => rig.session.publish("", bytes(""), 0, false, 0), MqttUsageError, /topic/);
    assert.throws(() => rig.session.publish("t", bytes(""), 3 as QoS, false, 0), MqttUsageError, /qos/);
    assert.throws(() => rig.session.subscribe([{ topic: "a/b#", qos: 0 }], 0), MqttUsageError, /4.7.1-2/);
    assert.throws(() => rig.session.subscribe([{ topic: "a+/b", qos: 0 }], 0), MqttUsageError, /4.7.1-3/);
  });

  test("a PUBACK for an unknown id is logged and ignored", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    rig.recv({ cmd: "puback", messageId: 77 });
    assert.deepEqual(rig.takeEvents(), []);
    assert.ok(rig.logs.some((l) => l.includes("unknown packet id") && l.includes('"id":77')));
    assert.ok(rig.session.connected);
  });
});

suite("session: inbound", (test) => {
  test("QoS 1 inbound: delivered and PUBACKed [MQTT-4.3.2-2]", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    rig.recv({ cmd: "publish", topic: "d", payload: bytes("x"), qos: 1, dup: false, retain: false, messageId: 9 });
    assert.deepEqual(rig.take(), [{ cmd: "puback", messageId: 9 }]);
    const ev = rig.takeEvents();
    assert.equal(ev.length, 1);
    assert.ok(ev[0].type === "message" && ev[0].packet.topic === "d");
  });

  test("QoS 2 inbound exactly once: id held until PUBREL, DUP resend not delivered again [MQTT-4.3.3-2]", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    const pub = { cmd: "publish" as const, topic: "d", payload: bytes("x"), qos: 2 as QoS, dup: false, retain: false, messageId: 5 };
    rig.recv(pub);
    assert.deepEqual(rig.take(), [{ cmd: "pubrec", messageId: 5 }]);
    assert.equal(rig.takeEvents().length, 1);
    assert.equal(rig.session.inboundHeld, 1);
    rig.recv({ ...pub, dup: true });
    assert.deepEqual(rig.take(), [{ cmd: "pubrec", messageId: 5 }]);
    assert.deepEqual(rig.takeEvents(), [], "duplicate not delivered");
    rig.recv({ cmd: "pubrel", messageId: 5 });
    assert.deepEqual(rig.take(), [{ cmd: "pubcomp", messageId: 5 }]);
    assert.equal(rig.session.inboundHeld, 0);
    // After PUBREL the id is free: a new PUBLISH with it is a new message.
    rig.recv({ ...pub, payload: bytes("y") });
    assert.equal(rig.takeEvents().length, 1);
  });

  test("duplicate PUBREL is answered with PUBCOMP (anchor: PUBREL left unanswered) [MQTT-4.3.3-2]", () => {
    const rig = new Rig();
    rig.connect();
    rig.recv({ cmd: "pubrel", messageId: 42 });
    rig.recv({ cmd: "pubrel", messageId: 42 });
    assert.deepEqual(rig.take(), [{ cmd: "pubcomp", messageId: 42 }, { cmd: "pubcomp", messageId: 42 }]);
  });

  test("inbound QoS 2 survives a reconnect of a resumed session: PUBREL resent by the broker is completed, DUP not redelivered [MQTT-4.4.0-1]", () => {
    const rig = new Rig({ clean: false });
    rig.connect();
    rig.takeEvents();
    const pub = { cmd: "publish" as const, topic: "d", payload: bytes("x"), qos: 2 as QoS, dup: false, retain: false, messageId: 3 };
    rig.recv(pub);
    rig.take();
    assert.equal(rig.takeEvents().length, 1);
    rig.drop();
    rig.connect(true);
    rig.takeEvents();
    rig.take();
    rig.recv({ ...pub, dup: true });
    assert.deepEqual(rig.takeEvents(), [], "the resent PUBLISH is not delivered twice");
    rig.recv({ cmd: "pubrel", messageId: 3 });
    assert.deepEqual(rig.take(), [{ cmd: "pubrec", messageId: 3 }, { cmd: "pubcomp", messageId: 3 }]);
  });

  test("server-only packets from the broker are a violation: close [MQTT-3.1.0-2]", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    rig.recv({ cmd: "connack", returnCode: 0, sessionPresent: false });
    const events = rig.takeEvents();
    assert.equal(events[0].type, "close");
    assert.ok(rig.logs.some((l) => l.startsWith("error") && l.includes("CONNACK")));
  });

  test("a decoder ProtocolError closes and schedules a reconnect", () => {
    const rig = new Rig();
    rig.connect();
    rig.takeEvents();
    rig.session.protocolError(rig.now, "reserved flags set");
    const events = rig.takeEvents();
    assert.ok(events[0].type === "close" && events[0].reason.includes("reserved flags"));
    assert.equal(rig.session.state, "waiting");
    assert.ok(rig.session.nextDeadline() > rig.now);
  });
});

suite("session: resend and restore", (test) => {
  test("resumed session: unacked PUBLISH resent with DUP and same id, PUBREL resent, original order [MQTT-4.4.0-1, 3.3.1-1, 4.6.0-1, 4.6.0-3]", () => {
    const rig = new Rig({ clean: false, maxInflight: 10 });
    rig.connect();
    rig.session.publish("t", bytes("1"), 1, false, rig.now); // id 1, unacked
    rig.session.publish("t", bytes("2"), 2, false, rig.now); // id 2, PUBREC -> PUBREL
    rig.session.publish("t", bytes("3"), 2, false, rig.now); // id 3, unacked
    rig.session.publish("t", bytes("4"), 1, false, rig.now); // id 4, acked
    rig.take();
    rig.recv({ cmd: "pubrec", messageId: 2 });
    rig.recv({ cmd: "puback", messageId: 4 });
    rig.take();
    rig.drop();
    rig.session.publish("t", bytes("5"), 1, false, rig.now); // while offline
    rig.connect(true);
    const sent = rig.take();
    assert.deepEqual(
      sent.map((p) => [p.cmd, p.messageId, p.dup ?? false]),
      [
        ["publish", 1, true],
        ["pubrel", 2, false],
        ["publish", 3, true],
        ["publish", 5, false],
      ],
    );
  });

  test("clean reconnect: unacked QoS 1/2 republished as new messages (no DUP) in order; QoS 2 past PUBREC counted delivered [MQTT-3.1.2-6, 4.3.3-1]", () => {
    const rig = new Rig({ maxInflight: 10 });
    rig.connect();
    rig.takeEvents();
    const s1 = rig.session.publish("t", bytes("1"), 1, false, rig.now);
    const s2 = rig.session.publish("t", bytes("2"), 2, false, rig.now);
    const s3 = rig.session.publish("t", bytes("3"), 2, false, rig.now);
    rig.take();
    rig.recv({ cmd: "pubrec", messageId: 2 });
    rig.drop();
    rig.takeEvents();
    rig.connect(false);
    const sent = rig.take();
    assert.deepEqual(
      sent.map((p) => [p.cmd, p.dup ?? false, p.payload ? String.fromCharCode(p.payload[0]) : ""]),
      [
        ["publish", false, "1"],
        ["publish", false, "3"],
      ],
    );
    const events = rig.takeEvents();
    assert.ok(events.some((e) => e.type === "delivered" && e.seq === s2));
    rig.recv({ cmd: "puback", messageId: sent[0].messageId! });
    rig.recv({ cmd: "pubrec", messageId: sent[1].messageId! });
    rig.recv({ cmd: "pubcomp", messageId: sent[1].messageId! });
    const delivered = rig.takeEvents().filter((e) => e.type === "delivered").map((e) => (e.type === "delivered" ? e.seq : 0));
    assert.deepEqual(delivered, [s1, s3]);
  });

  test("subscriptions restored after a reconnect that lost the session (anchor: subscriptions lost after reconnect)", () => {
    const rig = new Rig({ subscribeBatch: 2 });
    rig.connect();
    rig.take();
    rig.session.subscribe([{ topic: "a/#", qos: 1 }, { topic: "b", qos: 0 }], rig.now);
    rig.session.subscribe([{ topic: "c/+", qos: 2 }], rig.now);
    const subs = rig.take();
    rig.recv({ cmd: "suback", messageId: subs[0].messageId!, granted: [1, 0] });
    rig.recv({ cmd: "suback", messageId: subs[1].messageId!, granted: [2] });
    rig.session.unsubscribe(["b"], rig.now);
    const [unsub] = rig.take();
    rig.recv({ cmd: "unsuback", messageId: unsub.messageId! });
    rig.takeEvents();
    rig.drop();
    rig.connect(false);
    const sent = rig.take();
    assert.deepEqual(
      sent.map((p) => (p.cmd === "subscribe" ? p.subscriptions : p.cmd)),
      [[{ topic: "a/#", qos: 1 }, { topic: "c/+", qos: 2 }]],
    );
    // Internal restore: no suback event for the app.
    rig.recv({ cmd: "suback", messageId: sent[0].messageId!, granted: [1, 2] });
    assert.deepEqual(rig.takeEvents().filter((e) => e.type === "suback"), []);
  });

  test("restore batches respect subscribeBatch (OneNET: at most 8 filters per SUBSCRIBE)", () => {
    const rig = new Rig();
    rig.connect();
    for (let i = 0; i < 10; i++) rig.session.subscribe([{ topic: `t/${i}`, qos: 0 }], rig.now);
    rig.take();
    rig.drop();
    rig.connect(false);
    const sent = rig.take();
    // The ten unanswered requests are sent again as the app made them.
    assert.equal(sent.length, 10);
    for (const p of sent) rig.recv({ cmd: "suback", messageId: p.messageId!, granted: [0] });
    rig.drop();
    rig.connect(false);
    const again = rig.take();
    assert.deepEqual(again.map((p) => (p.cmd === "subscribe" ? p.subscriptions.length : 0)), [8, 2]);
  });

  test("a subscribe made offline goes out on connect and answers its token", () => {
    const rig = new Rig();
    const token = rig.session.subscribe([{ topic: "x", qos: 1 }], rig.now);
    rig.connect();
    const [sub] = rig.take();
    assert.ok(sub.cmd === "subscribe");
    rig.takeEvents();
    rig.recv({ cmd: "suback", messageId: sub.messageId!, granted: [1] });
    assert.deepEqual(rig.takeEvents(), [{ type: "suback", token, topics: ["x"], granted: [1] }]);
  });

  test("resumed session resends unanswered SUBSCRIBE but does not restore acknowledged ones", () => {
    const rig = new Rig({ clean: false });
    rig.connect();
    rig.session.subscribe([{ topic: "a", qos: 1 }], rig.now);
    const [s1] = rig.take();
    rig.recv({ cmd: "suback", messageId: s1.messageId!, granted: [1] });
    rig.session.subscribe([{ topic: "b", qos: 1 }], rig.now);
    rig.take();
    rig.drop();
    rig.connect(true);
    const sent = rig.take();
    assert.deepEqual(sent.map((p) => (p.cmd === "subscribe" ? p.subscriptions[0].topic : p.cmd)), ["b"]);
  });

  test("messages published during the replay after reconnect are not lost and keep their order (anchor: lost while the store is replayed)", () => {
    const rig = new Rig({ clean: false, maxInflight: 3 });
    rig.connect();
    rig.takeEvents();
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) seqs.push(rig.session.publish("t", bytes(String(i)), 1, false, rig.now));
    rig.take();
    rig.drop();
    rig.connect(true);
    // Publish more while the DUP resends are out and unacknowledged.
    for (let i = 6; i < 9; i++) seqs.push(rig.session.publish("t", bytes(String(i)), 1, false, rig.now));
    const order: string[] = [];
    let guard = 0;
    while (rig.session.outbox.length > 0 && guard++ < 100) {
      const sent = rig.take();
      for (const p of sent) {
        if (p.cmd === "publish") {
          order.push(String.fromCharCode(p.payload[0]));
          rig.recv({ cmd: "puback", messageId: p.messageId! });
        }
      }
    }
    assert.deepEqual(order, ["0", "1", "2", "3", "4", "5", "6", "7", "8"]);
    const delivered = rig.takeEvents().filter((e) => e.type === "delivered").map((e) => (e.type === "delivered" ? e.seq : 0));
    assert.deepEqual(delivered, seqs);
  });

  test("flapping connection: across many drops every QoS 1 message is delivered once acknowledged, in order", () => {
    const rig = new Rig({ maxInflight: 4 });
    rig.connect();
    rig.takeEvents();
    const want: number[] = [];
    for (let i = 0; i < 40; i++) want.push(rig.session.publish("t", bytes(String.fromCharCode(48 + i)), 1, false, rig.now));
    const got: number[] = [];
    let round = 0;
    while (rig.session.outbox.length > 0 && round++ < 200) {
      const sent = rig.take().filter((p) => p.cmd === "publish");
      // Ack only the first of each burst, then cut the link.
      if (sent.length) rig.recv({ cmd: "puback", messageId: sent[0].messageId! });
      for (const e of rig.takeEvents()) if (e.type === "delivered") got.push(e.seq);
      rig.drop();
      rig.takeEvents();
      rig.connect(false);
    }
    for (const e of rig.takeEvents()) if (e.type === "delivered") got.push(e.seq);
    assert.deepEqual(got, want);
  });
});

suite("session: outbox", (test) => {
  test("bounded while offline: oldest QoS 0 dropped first, then new messages refused with a warning (anchor: outbox growing without bound)", () => {
    const warnings: string[] = [];
    const outbox = new Outbox({ maxMessages: 4, maxBytes: 10000, warn: (m) => warnings.push(m) });
    const rig = new Rig({ outbox });
    const a = rig.session.publish("t", bytes("q0-a"), 0, false, rig.now);
    const b = rig.session.publish("t", bytes("q1-b"), 1, false, rig.now);
    const c = rig.session.publish("t", bytes("q0-c"), 0, false, rig.now);
    const d = rig.session.publish("t", bytes("q1-d"), 1, false, rig.now);
    assert.ok(a > 0 && b > 0 && c > 0 && d > 0);
    const e = rig.session.publish("t", bytes("q1-e"), 1, false, rig.now); // drops a
    const f = rig.session.publish("t", bytes("q1-f"), 1, false, rig.now); // drops c
    const g = rig.session.publish("t", bytes("q1-g"), 1, false, rig.now); // refused
    assert.ok(e > 0 && f > 0);
    assert.equal(g, 0);
    assert.equal(outbox.length, 4);
    assert.deepEqual(outbox.entries.map((x) => x.seq), [b, d, e, f]);
    assert.equal(outbox.dropped, 2);
    assert.equal(outbox.refused, 1);
    assert.ok(warnings.some((w) => w.includes("dropped")));
    assert.ok(warnings.some((w) => w.includes("refused")));
  });

  test("bounded by bytes too", () => {
    const outbox = new Outbox({ maxMessages: 100, maxBytes: 200 });
    const rig = new Rig({ outbox });
    const big = new Uint8Array(80);
    assert.ok(rig.session.publish("t", big, 1, false, rig.now) > 0);
    assert.ok(rig.session.publish("t", big, 1, false, rig.now) > 0);
    assert.equal(rig.session.publish("t", big, 1, false, rig.now), 0);
    assert.ok(outbox.bytes <= 200);
  });

  test("online, a QoS 0 message with nothing queued ahead is written at once and never held (no bytes, no flash write); it is refused as a held one would be when the outbox is full", () => {
    const storage = new MemoryStorage(20);
    const warnings: string[] = [];
    const outbox = new Outbox({ maxMessages: 2, maxBytes: 1000, storage, warn: (m) => warnings.push(m) });
    const rig = new Rig({ outbox, maxInflight: 2, keepalive: 0 });
    rig.connect();
    rig.takeEvents();
    const next = outbox.nextSeq;
    const a = rig.session.publish("t", bytes("a"), 0, false, rig.now);
    assert.equal(a, next, "it takes the next sequence number");
    assert.deepEqual(cmds(rig.take()), ["publish"]);
    assert.deepEqual(rig.takeEvents(), [{ type: "delivered", seq: a, qos: 0 }]);
    assert.equal(outbox.length, 0);
    assert.equal(outbox.bytes, 0);
    assert.equal(rig.session.nextDeadline(), -1, "no persist deadline for it");
    rig.advance(60000);
    assert.equal(storage.writes, 0);
    // Two QoS 1 messages in flight fill the outbox: a QoS 0 message is refused, counted and warned.
    rig.session.publish("t", bytes("b"), 1, false, rig.now);
    rig.session.publish("t", bytes("c"), 1, false, rig.now);
    assert.deepEqual(cmds(rig.take()), ["publish", "publish"]);
    assert.equal(rig.session.publish("t", bytes("d"), 0, false, rig.now), 0);
    assert.equal(outbox.refused, 1);
    assert.ok(warnings.some((w) => w.includes("full, message refused")), warnings.join("\n"));
    assert.deepEqual(rig.take(), []);
    assert.deepEqual(rig.takeEvents(), []);
    // Larger than the whole outbox: refused for that.
    rig.recv({ cmd: "puback", messageId: 1 });
    rig.recv({ cmd: "puback", messageId: 2 });
    rig.takeEvents();
    assert.equal(rig.session.publish("t", new Uint8Array(2000), 0, false, rig.now), 0);
    assert.equal(outbox.refused, 2);
    assert.ok(warnings.some((w) => w.includes("larger than the outbox")), warnings.join("\n"));
    assert.deepEqual(rig.take(), []);
  });

  test("a message larger than the outbox is refused, never silently dropped (anchor: large messages silently dropped)", () => {
    const warnings: string[] = [];
    const outbox = new Outbox({ maxBytes: 1000, warn: (m) => warnings.push(m) });
    const rig = new Rig({ outbox });
    rig.connect();
    assert.equal(rig.session.publish("t", new Uint8Array(2000), 1, false, rig.now), 0);
    assert.ok(warnings.some((w) => w.includes("larger than the outbox")));
  });

  test("reboot: messages accepted into a persisted outbox survive, in order, and go out after connect", () => {
    const storage = new MemoryStorage(20);
    {
      const rig = new Rig({ outbox: new Outbox({ storage }) });
      rig.connect();
      rig.session.publish("t", bytes("a"), 1, false, rig.now);
      rig.session.publish("t", bytes("b"), 2, true, rig.now);
      rig.drop(); // and the board reboots: the Session and Outbox objects are gone
      rig.session.publish("t", bytes("c"), 0, false, rig.now);
      rig.session.publish("t", bytes("d"), 1, false, rig.now);
    }
    const outbox = new Outbox({ storage });
    outbox.bind("dev1", undefined); // as the session does
    assert.deepEqual(outbox.entries.map((e) => String.fromCharCode(e.payload[0])), ["a", "b", "c", "d"]);
    const rig = new Rig({ outbox });
    rig.connect();
    const sent = rig.take().filter((p) => p.cmd === "publish");
    assert.deepEqual(sent.map((p) => [String.fromCharCode(p.payload![0]), p.qos, p.retain, p.dup]), [
      ["a", 1, false, false],
      ["b", 2, true, false],
      ["c", 0, false, false],
      ["d", 1, false, false],
    ]);
    for (const p of sent) if (p.qos === 1) rig.recv({ cmd: "puback", messageId: p.messageId! });
    rig.recv({ cmd: "pubrec", messageId: sent[1].messageId! });
    rig.recv({ cmd: "pubcomp", messageId: sent[1].messageId! });
    assert.equal(storage.records.size, 0, "acknowledged messages leave storage");
    assert.ok(outbox.nextSeq > 4, "sequence numbers continue after the reboot");
  });

  test("reboot with a persistent session: in-flight ids survive so the resumed session resends with DUP [MQTT-4.4.0-1]", () => {
    const storage = new MemoryStorage(20);
    {
      const rig = new Rig({ clean: false, outbox: new Outbox({ storage }) });
      rig.connect();
      rig.session.publish("t", bytes("a"), 1, false, rig.now);
      rig.session.publish("t", bytes("b"), 2, false, rig.now);
      rig.session.publish("t", bytes("c"), 2, false, rig.now);
      rig.take();
      rig.recv({ cmd: "pubrec", messageId: 3 });
      rig.take();
      // Unacknowledged for persistAfter: stored with their ids (and c as released). Younger ones
      // would not be: a healthy link never writes to flash (outbox: Flash wear).
      rig.advance(5000);
    }
    const rig = new Rig({ clean: false, outbox: new Outbox({ storage }) });
    rig.connect(true);
    assert.deepEqual(
      rig.take().map((p) => [p.cmd, p.messageId, p.dup ?? false]),
      [
        ["publish", 1, true],
        ["publish", 2, true],
        ["pubrel", 3, false],
      ],
    );
  });

  test("records too large for the storage are kept in memory with a warning (ESP32 NVS: 4000 bytes a value)", () => {
    const warnings: string[] = [];
    const storage = new MemoryStorage(10, 100);
    const outbox = new Outbox({ storage, warn: (m) => warnings.push(m) });
    const rig = new Rig({ outbox });
    assert.ok(rig.session.publish("t", new Uint8Array(200), 1, false, rig.now) > 0);
    assert.equal(storage.records.size, 0);
    assert.ok(warnings.some((w) => w.includes("too large to persist")));
  });

  test("a corrupt stored record is discarded with a warning, the rest load", () => {
    const storage = new MemoryStorage(10);
    const first = new Outbox({ storage });
    first.bind("dev1", undefined);
    first.add("t", bytes("ok"), 1, false, 0, true);
    const [good] = [...storage.records.values()];
    const qos3 = new Uint8Array(good.slice(0));
    qos3[0] |= 3; // same identity and format, QoS 3
    storage.records.set(5, new Uint8Array([0xff, 1, 2]).buffer);
    storage.records.set(6, qos3.buffer);
    const warnings: string[] = [];
    const outbox = new Outbox({ storage, warn: (m) => warnings.push(m) });
    outbox.bind("dev1", undefined);
    assert.equal(outbox.length, 1);
    assert.ok(warnings.some((w) => w.includes("corrupt")));
    assert.ok(!storage.records.has(6));
  });
});

/** Connects, drops at once, and again, `n` times; returns when each CONNECT went out. */
function loginTimes(rig: Rig, n: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    rig.connect();
    times.push(rig.now);
    rig.drop("closed by the broker");
  }
  return times;
}

suite("session: login rate", (test) => {
  test("never more than 3 logins in any 5 s, whatever the backoff says (OneNET: 3 logins per 5 s)", () => {
    // A backoff of 1 ms would log in a thousand times a second; the limiter spaces them.
    const rig = new Rig({ reconnectMin: 1, reconnectMax: 1 });
    const times = loginTimes(rig, 12);
    for (let i = 3; i < times.length; i++) {
      assert.ok(times[i] - times[i - 3] >= 5000, `logins ${i - 3} and ${i} at ${times[i - 3]} and ${times[i]}: 4 within 5 s`);
    }
    assert.ok(rig.logs.some((l) => l.includes("login rate limit")), rig.logs.join("\n"));
    assert.ok(times[11] - times[0] < 20000, `the limit spaces logins, it does not stop them: ${times.join(",")}`);
  });

  test("the limit is configurable and counts logins, not refused connections", () => {
    const rig = new Rig({ reconnectMin: 1, reconnectMax: 1, loginBurst: 1, loginWindow: 1000 });
    const times = loginTimes(rig, 4);
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 1000, times.join(","));
    // Transport failures send no CONNECT: once the last login is a window old, they only follow the backoff.
    rig.drain();
    rig.advance(1000);
    const before = rig.now;
    for (let i = 0; i < 5; i++) {
      if (rig.session.state === "waiting") rig.advance(rig.session.nextDeadline() - rig.now);
      assert.equal(rig.session.state, "opening");
      rig.drop("refused");
    }
    assert.ok(rig.now - before < 1000, `five refused connections in ${rig.now - before} ms`);
  });
});

suite("session: refused subscriptions", (test) => {
  test("a refused subscription (SUBACK 0x80) is asked for again with growing backoff and logged each time; a grant ends the retries", () => {
    const rig = new Rig({ random: () => 0.5, subscribeRetryMin: 2000, subscribeRetryMax: 8000 });
    rig.connect();
    rig.take();
    rig.session.subscribe([{ topic: "cmd/#", qos: 1 }], rig.now);
    const retries: number[] = [];
    let [sub] = rig.take();
    let last = rig.now;
    for (let i = 0; i < 4; i++) {
      assert.ok(sub.cmd === "subscribe");
      assert.deepEqual(sub.subscriptions, [{ topic: "cmd/#", qos: 1 }]);
      rig.recv({ cmd: "suback", messageId: sub.messageId!, granted: [0x80] });
      last = rig.now;
      // Advance in 100 ms steps until the SUBSCRIBE comes again (PINGREQs may come on the way).
      let again: Sent | undefined;
      while (!again) {
        rig.advance(100);
        again = rig.take().find((p) => p.cmd === "subscribe");
        assert.ok(rig.now - last <= 10000, "asked again within the capped backoff");
      }
      retries.push(rig.now - last);
      sub = again;
    }
    // 2, 4, 8, 8 s nominal, three quarters with random 0.5 (to the 100 ms step).
    assert.deepEqual(retries, [1500, 3000, 6000, 6000]);
    assert.equal(rig.logs.filter((l) => l.startsWith("warn subscription refused")).length, 4, rig.logs.join("\n"));
    rig.recv({ cmd: "suback", messageId: sub.messageId!, granted: [1] });
    assert.ok(rig.logs.some((l) => l.includes("granted after refusals")));
    rig.advance(60000);
    assert.deepEqual(rig.take().filter((p) => p.cmd === "subscribe"), [], "no more retries once granted");
  });

  test("a refused subscription is kept across reconnects: restored, and retried again if still refused", () => {
    const rig = new Rig({ random: () => 0.5, subscribeRetryMin: 2000 });
    rig.connect();
    rig.session.subscribe([{ topic: "a", qos: 0 }, { topic: "b", qos: 0 }], rig.now);
    const [sub] = rig.take().filter((p) => p.cmd === "subscribe");
    rig.recv({ cmd: "suback", messageId: sub.messageId!, granted: [0, 0x80] });
    assert.ok(rig.session.subscriptions.has("b"), "the refused filter is still wanted");
    rig.drop();
    rig.connect(false);
    const [restore] = rig.take().filter((p) => p.cmd === "subscribe");
    assert.ok(restore.cmd === "subscribe");
    assert.deepEqual(restore.subscriptions.map((x) => x.topic), ["a", "b"]);
    rig.recv({ cmd: "suback", messageId: restore.messageId!, granted: [0, 0x80] });
    rig.advance(10000);
    const retry = rig.take().filter((p) => p.cmd === "subscribe");
    assert.equal(retry.length, 1);
    assert.ok(retry[0].cmd === "subscribe");
    assert.deepEqual(retry[0].subscriptions, [{ topic: "b", qos: 0 }], "only the refused filter is asked for again");
  });

  test("unsubscribing a refused filter stops its retries", () => {
    const rig = new Rig({ subscribeRetryMin: 2000 });
    rig.connect();
    rig.session.subscribe([{ topic: "x", qos: 0 }], rig.now);
    const [sub] = rig.take().filter((p) => p.cmd === "subscribe");
    rig.recv({ cmd: "suback", messageId: sub.messageId!, granted: [0x80] });
    rig.session.unsubscribe(["x"], rig.now);
    rig.take();
    rig.advance(600000);
    assert.deepEqual(rig.take().filter((p) => p.cmd === "subscribe"), []);
  });
});

/** A storage-backed rig (clientId dev1). */
function stored(storage: MemoryStorage, warnings: string[], options: Partial<SessionOptions> = {}): Rig {
  return new Rig({ ...options, outbox: new Outbox({ storage, warn: (m) => warnings.push(m) }) });
}

suite("outbox: flash wear", (test) => {
  test("online with a responsive broker: 50 QoS 1 reports cost 0 flash writes and 0 erases", () => {
    const storage = new MemoryStorage(20);
    const rig = stored(storage, []);
    rig.connect();
    rig.take();
    for (let i = 0; i < 50; i++) {
      rig.session.publish("t", bytes(`r${i}`), 1, false, rig.now);
      const [p] = rig.take().filter((x) => x.cmd === "publish");
      rig.advance(300); // the broker's round trip
      rig.recv({ cmd: "puback", messageId: p.messageId! });
      rig.advance(9700); // the report interval
    }
    assert.equal(storage.writes, 0);
    assert.equal(storage.erases, 0);
    assert.equal(rig.session.outbox.length, 0);
  });

  test("offline: each accepted report is written once, and erased once after the acknowledgement", () => {
    const storage = new MemoryStorage(20);
    const rig = stored(storage, []);
    for (let i = 0; i < 10; i++) rig.session.publish("t", bytes(`o${i}`), 1, false, rig.now);
    assert.equal(storage.writes, 10);
    rig.connect();
    for (const p of rig.take().filter((x) => x.cmd === "publish")) rig.recv({ cmd: "puback", messageId: p.messageId! });
    assert.equal(storage.writes, 10, "no rewrite when sent (clean session)");
    assert.equal(storage.erases, 10);
    assert.equal(storage.records.size, 0);
  });

  test("online but unacknowledged: written once it has waited persistAfter, not before", () => {
    const storage = new MemoryStorage(20);
    const rig = stored(storage, [], { keepalive: 0 });
    rig.connect();
    rig.session.publish("t", bytes("slow"), 1, false, rig.now);
    const [p] = rig.take().filter((x) => x.cmd === "publish");
    rig.advance(4999);
    assert.equal(storage.writes, 0, "not before 5 s");
    rig.advance(1);
    assert.equal(storage.writes, 1, "at 5 s");
    rig.advance(60000);
    assert.equal(storage.writes, 1, "once");
    rig.recv({ cmd: "puback", messageId: p.messageId! });
    assert.equal(storage.erases, 1);
    assert.equal(storage.records.size, 0);
  });

  test("nextDeadline follows the persist deadline through every change: a message accepted, stored, acknowledged, a storage failure and its retry", () => {
    const storage = new MemoryStorage(20);
    const rig = stored(storage, [], { keepalive: 0 });
    rig.connect();
    assert.equal(rig.session.nextDeadline(), -1);
    const t0 = rig.now;
    rig.session.publish("t", bytes("a"), 1, false, rig.now);
    const [a] = rig.take().filter((x) => x.cmd === "publish");
    assert.equal(rig.session.nextDeadline(), t0 + 5000, "a is stored once it waited persistAfter");
    rig.advance(2000);
    rig.session.publish("t", bytes("b"), 1, false, rig.now);
    const [b] = rig.take().filter((x) => x.cmd === "publish");
    assert.equal(rig.session.nextDeadline(), t0 + 5000, "the oldest unstored message decides");
    rig.advance(3000);
    assert.equal(storage.writes, 1);
    assert.equal(rig.session.nextDeadline(), t0 + 7000, "then b's turn");
    rig.recv({ cmd: "puback", messageId: b.messageId! });
    assert.equal(rig.session.nextDeadline(), -1, "b acknowledged before it was due: nothing left to store");
    storage.failRemove = true;
    rig.recv({ cmd: "puback", messageId: a.messageId! });
    assert.equal(rig.session.nextDeadline(), rig.now + 5000, "a's record could not be erased: the retry is due in 5 s");
    storage.failRemove = false;
    rig.advance(5000);
    assert.equal(storage.records.size, 0);
    assert.equal(rig.session.nextDeadline(), -1);
  });

  test("the connection drops (or the client ends) with messages held in memory: each is written then", () => {
    const storage = new MemoryStorage(20);
    const rig = stored(storage, []);
    rig.connect();
    for (let i = 0; i < 3; i++) rig.session.publish("t", bytes(`d${i}`), 1, false, rig.now);
    assert.equal(storage.writes, 0);
    rig.drop();
    assert.equal(storage.writes, 3);
    const other = new MemoryStorage(20);
    const ending = stored(other, []);
    ending.connect();
    ending.session.publish("t", bytes("e"), 1, false, ending.now);
    ending.session.end(ending.now);
    assert.equal(other.writes, 1);
  });
});

suite("outbox: storage errors", (test) => {
  test("an erase that fails at PUBACK (ESP32: nvs erase fail) is survived: delivered, warned, erased at the retry", () => {
    const storage = new MemoryStorage(20);
    const warnings: string[] = [];
    const rig = stored(storage, warnings);
    rig.session.publish("t", bytes("a"), 1, false, rig.now); // offline: stored
    rig.connect();
    const [p] = rig.take().filter((x) => x.cmd === "publish");
    storage.failRemove = true;
    rig.recv({ cmd: "puback", messageId: p.messageId! });
    assert.ok(rig.takeEvents().some((e) => e.type === "delivered"));
    assert.equal(rig.session.outbox.length, 0);
    assert.ok(warnings.some((w) => w.includes("erase failed")), warnings.join("\n"));
    storage.failRemove = false;
    rig.advance(4999);
    assert.equal(storage.records.size, 1, "storage left alone until the retry");
    rig.advance(1);
    assert.equal(storage.records.size, 0, "erased at the retry");
    assert.ok(warnings.some((w) => w.includes("works again")));
  });

  test("writes that fail keep every accepted message in memory; they are stored when storage works again", () => {
    const storage = new MemoryStorage(20);
    const warnings: string[] = [];
    const rig = stored(storage, warnings);
    storage.failWrite = true;
    for (let i = 0; i < 4; i++) assert.ok(rig.session.publish("t", bytes(`w${i}`), 1, false, rig.now) > 0);
    assert.equal(rig.session.outbox.length, 4);
    assert.equal(storage.records.size, 0);
    storage.failWrite = false;
    rig.advance(5000);
    assert.equal(storage.records.size, 4, "stored at the retry");
    rig.connect();
    const sent = rig.take().filter((x) => x.cmd === "publish");
    assert.deepEqual(sent.map((x) => String.fromCharCode(...x.payload!)), ["w0", "w1", "w2", "w3"]);
  });

  test("a storage that keeps failing is warned about rarely (1st, 2nd, 4th, 8th ... failure), never thrown", () => {
    const storage = new MemoryStorage(200);
    const warnings: string[] = [];
    const rig = stored(storage, warnings, { keepalive: 0 });
    storage.failWrite = true;
    storage.failRemove = true;
    rig.connect();
    for (let i = 0; i < 100; i++) {
      rig.session.publish("t", bytes(`f${i}`), 1, false, rig.now);
      rig.advance(6000); // each waits past persistAfter: a write is due every time
      const [p] = rig.take().filter((x) => x.cmd === "publish");
      rig.recv({ cmd: "puback", messageId: p.messageId! });
    }
    const failures = rig.session.outbox.storageFailures;
    assert.ok(failures >= 5, `storage was tried again: ${failures}`);
    const lines = warnings.filter((w) => w.includes("failed"));
    assert.ok(lines.length <= Math.floor(Math.log2(failures)) + 1, `${lines.length} warnings for ${failures} failures`);
  });

  test("boot with a corrupt record whose erase fails: the outbox loads the rest", () => {
    const storage = new MemoryStorage(10);
    const first = new Outbox({ storage });
    first.bind("dev1", undefined);
    first.add("t", bytes("ok"), 1, false, 0, true);
    storage.records.set(7, new Uint8Array([0x81, 0]).buffer);
    storage.failRemove = true;
    const warnings: string[] = [];
    const rig = stored(storage, warnings);
    assert.equal(rig.session.outbox.length, 1);
    assert.ok(warnings.some((w) => w.includes("corrupt")) && warnings.some((w) => w.includes("erase failed")), warnings.join("\n"));
  });
});

suite("outbox: identity", (test) => {
  test("records written as product A are not sent after a re-flash as product B: dropped, counted, one warning", () => {
    const storage = new MemoryStorage(20);
    const a = stored(storage, [], { username: "productA" });
    for (let i = 0; i < 3; i++) a.session.publish("$sys/productA/dev1/thing/property/post", bytes(`a${i}`), 1, false, a.now);
    assert.equal(storage.records.size, 3);
    // Reboot, re-flashed as product B (same device name).
    const warnings: string[] = [];
    const b = stored(storage, warnings, { username: "productB" });
    assert.equal(b.session.outbox.length, 0);
    assert.equal(b.session.outbox.foreign, 3);
    assert.equal(storage.records.size, 0, "their records are erased");
    const lines = warnings.filter((w) => w.includes("another device"));
    assert.equal(lines.length, 1, warnings.join("\n"));
    assert.ok(lines[0].includes("count=3"), lines[0]);
    b.connect();
    assert.deepEqual(b.take().filter((x) => x.cmd === "publish"), []);
    // The same identity after a reboot gets its messages back.
    b.session.publish("$sys/productB/dev1/thing/property/post", bytes("b"), 1, false, b.now);
    b.drop();
    const again = stored(storage, [], { username: "productB" });
    assert.equal(again.session.outbox.length, 1);
  });

  test("a device name change is another identity too; an outbox bound to one identity refuses another", () => {
    const storage = new MemoryStorage(20);
    const a = stored(storage, [], { clientId: "devA" });
    a.session.publish("t", bytes("x"), 1, false, a.now);
    const b = stored(storage, [], { clientId: "devB" });
    assert.equal(b.session.outbox.length, 0);
    assert.throws(() => b.session.outbox.bind("devC", undefined), RangeError, /another client identity/);
  });
});
