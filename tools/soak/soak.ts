// The soak: the whole app (main.ts) in the real XS engine (tools/sim/xs-lane.ts) against the local
// OneNET emulator, for weeks of virtual time, with the board's tick counter started so the run
// crosses the sign flip (2^31 ms) and the wrap (2^32 ms), through the faults a device meets in the
// field: Wi-Fi drops, the platform dropping the device, broker restarts, a 12-hour outage, refused
// logins, reboots with the same flash, flash failing, and hostile downlinks and brokers
// (hostile.ts). Then it checks what must hold after all that (checks.ts).
//
// Device, emulator and the scenario share one virtual time: the loop moves it to the next thing due
// (a device timer, an emulator timer, a scenario step) and only once the device is owed nothing on
// the wire (wire.ts), so the run is the same every time and takes minutes, not weeks.
//
//   const result = await runSoak({ days: 60, interval: 60 });
//   result.checks  // [{ name, ok, detail }]
//   result.figures // readings lost, heap growth, flash writes per day, …
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FirmwareError, XsLane } from "../sim/xs-lane.ts";
import { VIRTUAL_EPOCH, VirtualClock } from "../sim/clock.ts";
import { startEmulator, VirtualClock as EmulatorClock, type Emulator, type EmulatorEvent, type SetResult } from "../emulator/index.ts";
import { BrokerFront } from "./broker-front.ts";
import { Wire } from "./wire.ts";
import { CONNACK, PUBLISH } from "../../mqtt/packets.ts";
import { connackCode } from "./frames.ts";
import { HOSTILE, type HostileCase } from "./hostile.ts";
import { evaluate, type Check, type Figures, type Observations } from "./checks.ts";

export type { Check, Figures } from "./checks.ts";

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** Where the board's signed 32-bit tick turns negative, and where it wraps to 0 (ms after 0). */
export const SIGN_FLIP = 2 ** 31;
export const WRAP = 2 ** 32;

export const DEVICE = {
  product: "SoakProd01",
  device: "soak-device",
  // base64 of "soak-test-device-key-00000000001"
  key: "c29hay10ZXN0LWRldmljZS1rZXktMDAwMDAwMDAwMDE=",
};
const WIFI_PASSWORD = "soak-wifi-pass";

export interface SoakOptions {
  /** Virtual days to run (at least minDays(): the scenario crosses the wrap). */
  days: number;
  /** Report interval, s. */
  interval: number;
  /** MQTT keepalive, s (default: half the interval, within the platform's 10..1800), so pings go between reports. */
  keepalive?: number;
  /** One line per scenario step and per virtual day (the CLI prints them). */
  progress?: (line: string) => void;
}

export interface SoakResult {
  checks: Check[];
  figures: Figures;
  /** ERROR lines the device logged, by message (digits as N), with their counts. */
  errors: Record<string, number>;
}

/**
 * The sim-only tick start (tools/sim/modules/time.ts `ticks=`): the first boot's tick turns negative
 * 12 h after boot (the hostile downlinks and the refused brokers come before that, the 12-hour outage
 * after), later boots' 2 h after boot.
 */
export const FIRST_FLIP = 12 * HOUR;
export const LATER_FLIP = 2 * HOUR;
/** From the first wrap to the third boot, and from there past the third boot's flip. */
const AFTER_WRAP = 6 * HOUR + 30 * MINUTE + 20 * MINUTE;
const LAST_BOOT = LATER_FLIP + 2 * HOUR;

/** The scripted part ends after the first wrap, a second reboot and the third boot's sign flip. */
export function minDays(): number {
  return Math.ceil((FIRST_FLIP + SIGN_FLIP + AFTER_WRAP + LAST_BOOT) / DAY);
}

/** Virtual time step while the emulator has a timer waiting (its clock does not say when it is due). */
const EMULATOR_STEP = 100;

/** Thrown inside the scenario when the firmware died: the run stops, the checks still report. */
class Stopped extends Error {}

interface Step {
  readonly at: number;
  readonly name: string;
  readonly run: () => Promise<void>;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const soak = new Soak(options);
  try {
    await soak.run();
  } finally {
    await soak.close();
  }
  return soak.result();
}

class Soak {
  readonly options: Required<Omit<SoakOptions, "progress">>;
  readonly progress: (line: string) => void;
  /** The emulator's clock: the device's virtual time, moved with it (pacing, token expiry, reply time-outs). */
  readonly clock = new EmulatorClock(VIRTUAL_EPOCH);
  readonly wire = new Wire();
  readonly record: Observations;
  readonly dir = mkdtempSync(join(tmpdir(), "soak-"));
  readonly config: Record<string, string>;
  emulator!: Emulator;
  front!: BrokerFront;
  lane!: XsLane;
  readonly start = VIRTUAL_EPOCH;
  #lastPost: { time: number; reading: boolean } | undefined;
  readonly #errors = new Map<string, number>();
  /** Set once the firmware died (the board would reset): the run stops there. */
  #dead = false;
  #realStart = performance.now();
  #nextDay = 1;

  constructor(options: SoakOptions) {
    const interval = options.interval;
    const keepalive = options.keepalive ?? Math.min(1800, Math.max(10, Math.floor(interval / 2)));
    if (!(Number.isInteger(interval) && interval >= 1 && interval <= 86400)) throw new RangeError("soak: interval must be 1..86400 s");
    if (!(options.days >= minDays())) {
      throw new RangeError(`soak: days must be at least ${minDays()} (the run crosses the tick's wrap, ${(WRAP / DAY).toFixed(1)} days after boot)`);
    }
    this.options = { days: options.days, interval, keepalive };
    this.progress = options.progress ?? (() => {});
    this.config = {
      ssid: "sim-ap",
      password: WIFI_PASSWORD,
      ...DEVICE,
      host: "127.0.0.1",
      // plain TCP: the soak is about clocks, memory and reconnects over weeks; TLS has its own tests (test/tls-app)
      tls: "0",
      interval: String(interval),
      keepalive: String(keepalive),
      led: "5",
      ticks: String(SIGN_FLIP - FIRST_FLIP),
    };
    this.record = {
      interval: interval * SECOND,
      keepalive: keepalive * SECOND,
      start: this.start,
      end: this.start + options.days * DAY,
      secrets: [DEVICE.key, WIFI_PASSWORD],
      segments: [],
      arrivals: new Map(),
      conflicts: new Set(),
      connects: [],
      sent: [],
      connacks: [],
      losses: [],
      phases: [],
      heap: [],
      flash: [],
      replies: new Map(),
      gets: [],
      fatal: [],
      lines: { guards: [], saves: 0, offlineReports: 0 },
      hostile: [],
      realMs: 0,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Setup

  async run(): Promise<void> {
    this.emulator = await this.#startEmulator();
    this.front = new BrokerFront(this.emulator.port);
    await this.front.listen();
    this.config.port = String(this.front.port);
    this.wire.listen({
      connect: (at) => this.record.connects.push(at),
      packet: (p) => {
        if (p.out) {
          this.record.sent.push({ at: p.at, type: p.frame.type });
          if (p.frame.type === PUBLISH && /\/thing\/property\/(set|get)_reply$/.test(p.frame.topic)) this.#reply(p.frame.payload);
        } else if (p.frame.type === CONNACK) this.record.connacks.push({ at: p.at, code: connackCode(p.frame) });
      },
    });
    await this.#boot(false);
    try {
      for (const step of this.#scenario()) {
        await this.#runTo(step.at);
        this.progress(`${this.#when()} ${step.name}`);
        await step.run();
      }
      await this.#runTo(this.start + this.options.days * DAY);
      await this.#finalChecks();
    } catch (error) {
      if (!(error instanceof Stopped)) throw error;
    }
    this.record.realMs = performance.now() - this.#realStart;
    await this.#endSegment();
  }

  async close(): Promise<void> {
    await this.lane?.close();
    await this.front?.close();
    await this.emulator?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  result(): SoakResult {
    return { ...evaluate(this.record, this.options.days), errors: Object.fromEntries(this.#errors) };
  }

  async #startEmulator(): Promise<Emulator> {
    const emulator = await startEmulator({ host: "127.0.0.1", port: 0, httpPort: 0, devices: [DEVICE], clock: this.clock, log: () => {} });
    emulator.events.on("event", (e: EmulatorEvent) => this.#platformEvent(e));
    return emulator;
  }

  /** Boots (or reboots with the same flash) and starts a new segment of the record. */
  async #boot(reboot: boolean): Promise<void> {
    if (reboot) await this.#endSegment();
    // Opened before the boot: what the firmware logs while booting (a restored outbox) belongs to it.
    const boot = reboot ? this.lane.clock.epoch() : this.start;
    this.record.segments.push({ boot, end: boot, attempts: [], changes: [], dropped: 0, outboxRestored: 0 });
    try {
      if (reboot) {
        this.lane = await this.lane.reboot({ config: { ...this.config, ticks: String(SIGN_FLIP - LATER_FLIP) } });
      } else {
        this.lane = await XsLane.start({
          entry: "main.ts",
          config: this.config,
          storagePath: join(this.dir, "flash.json"),
          epoch: this.start,
          onLog: (line) => this.#deviceLine(line),
        });
      }
    } catch (error) {
      if (!(error instanceof FirmwareError)) throw error;
      this.record.fatal.push(`at boot: ${error.message}\n${error.xsStack}`);
      this.#dead = true;
      throw new Stopped("the firmware died at boot");
    }
    this.wire.attach(this.lane);
    if (this.lane.fatal) this.#stop();
  }

  async #endSegment(): Promise<void> {
    const segment = this.record.segments[this.record.segments.length - 1];
    if (!segment || !this.lane || this.#dead) return;
    if (this.lane.fatal) {
      this.record.fatal.push(`${this.lane.fatal.message}\n${this.lane.fatal.xsStack}`);
      this.#dead = true;
      return;
    }
    segment.end = this.lane.clock.epoch();
    this.record.end = segment.end;
    const stats = await this.lane.control("flash", "stats");
    if (stats !== undefined) this.record.flash.push(JSON.parse(stats) as Observations["flash"][number]);
    this.record.heap.push({ at: segment.end, segment: this.record.segments.length, slots: await this.lane.heapSlots(), kind: "end" });
  }

  #stop(): never {
    throw new Stopped("the firmware died");
  }

  // ---------------------------------------------------------------------------------------------
  // What the device says (its log lines, stamped with its virtual time)

  #deviceLine(line: string): void {
    const at = this.lane ? this.lane.clock.epoch() : this.start;
    const segment = this.record.segments[this.record.segments.length - 1];
    const m = /^(\d+) (DEBUG|INFO|WARN|ERROR) ([a-z0-9-]+): (.*)$/.exec(line);
    if (!m) {
      this.record.lines.guards.push(`unformatted line: ${line.slice(0, 200)}`);
      return;
    }
    const [, uptime, level, area, text] = m as unknown as [string, string, string, string, string];
    // The line's uptime is the firmware's one clock (lib/time.ts Uptime over the wrapping tick).
    const elapsed = at - (segment?.boot ?? this.start);
    if (Math.abs(Number(uptime) - elapsed) > SECOND) this.record.lines.guards.push(`uptime ${uptime} ms on a line logged ${elapsed} ms after boot: ${line.slice(0, 120)}`);
    for (const secret of this.record.secrets) if (line.includes(secret)) this.record.lines.guards.push(`a secret in a log line (${area})`);
    if (area === "app" && /^report (id|temp|humi|press|rssi|heap|uptime|online)=/.test(text)) {
      const offline = / online=false/.test(text);
      segment?.attempts.push({ at, accepted: true, offline });
      if (offline) this.record.lines.offlineReports++;
    } else if (area === "app" && text.startsWith("report not queued")) {
      segment?.attempts.push({ at, accepted: false, offline: false, reason: field(text, "error") });
      const d = / dropped=(\d+)/.exec(text);
      if (segment && d) segment.dropped = Number(d[1]);
    } else if (area === "app" && text.startsWith("report interval changed")) {
      const s = /seconds=(\d+)/.exec(text);
      if (segment && s) segment.changes.push({ at, interval: Number(s[1]) * SECOND });
    } else if (area === "mqtt" && text.startsWith("connection lost, reconnect scheduled")) {
      this.record.losses.push({ at, delay: Number(field(text, "delay") ?? NaN), reason: field(text, "reason") ?? "" });
    } else if (area === "mqtt" && text.startsWith("connected ")) {
      if (segment && segment.firstConnected === undefined) segment.firstConnected = at;
    } else if (area === "settings" && text.startsWith("interval saved")) {
      this.record.lines.saves++;
    } else if (area === "mqtt" && text.startsWith("outbox restored")) {
      const n = /messages=(\d+)/.exec(text);
      if (segment && n) segment.outboxRestored += Number(n[1]);
    } else if (area === "store" && text.startsWith("readings log ")) {
      // Readings waiting in the readings log (store/) at boot: what store and forward kept.
      const n = /pending=(\d+)/.exec(text);
      if (segment && n) segment.outboxRestored += Number(n[1]);
    }
    if (level === "ERROR") {
      // "<what> failed error=…" is what the app's guards (and OneNetClient's) log when they caught an
      // exception that escaped a layer.
      if (/ failed error=/.test(text)) this.record.lines.guards.push(`${area}: ${text.slice(0, 300)}`);
      const key = `${area}: ${text.replace(/[0-9]+/g, "N").slice(0, 100)}`;
      this.#errors.set(key, (this.#errors.get(key) ?? 0) + 1);
    }
  }

  /** A set_reply/get_reply the device sent (hostile requests are matched to theirs by id). */
  #reply(payload: Buffer): void {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString("utf8"));
    } catch {
      this.record.replies.set(`unparsable ${this.record.replies.size}`, { code: NaN, msg: payload.toString("latin1").slice(0, 200), raw: payload.toString("latin1").slice(0, 400) });
      return;
    }
    const o = body as { id?: unknown; code?: unknown; msg?: unknown };
    const id = typeof o.id === "string" ? o.id : String(o.id);
    this.record.replies.set(id, { code: typeof o.code === "number" ? o.code : NaN, msg: typeof o.msg === "string" ? o.msg : "", raw: payload.toString("utf8").slice(0, 400) });
  }

  // ---------------------------------------------------------------------------------------------
  // What the platform accepted

  /** Times of the history batch being recorded by the emulator (its "history" event closes it). */
  readonly #backfilled = new Set<number>();

  /** Each property value the platform got, by time: a second, different value at one time is a conflict. */
  readonly #points = new Map<number, Map<string, unknown>>();

  #platformEvent(e: EmulatorEvent): void {
    if (e.product !== DEVICE.product || e.device !== DEVICE.device) return;
    if (e.type === "property" && e.identifier !== "interval" && e.identifier !== "led") {
      let point = this.#points.get(e.time);
      if (point === undefined) this.#points.set(e.time, (point = new Map()));
      if (point.has(e.identifier) && point.get(e.identifier) !== e.value) this.record.conflicts.add(e.time);
      point.set(e.identifier, e.value);
    }
    if (e.type === "post") {
      this.#lastPost = { time: e.time, reading: false };
    } else if (e.type === "property" && e.backfill === true) {
      // A history batch (store and forward): its values arrive as properties at their own times, and
      // the batch's "history" event follows; each time in it is one reading.
      this.#backfilled.add(e.time);
    } else if (e.type === "history") {
      for (const time of this.#backfilled) this.record.arrivals.set(time, (this.record.arrivals.get(time) ?? 0) + 1);
      this.#backfilled.clear();
    } else if (e.type === "property" && e.identifier !== "interval" && e.identifier !== "led") {
      // A property post carrying sensor or board values is a reading (state posts carry interval/led).
      const post = this.#lastPost;
      if (post && post.time === e.time && !post.reading) {
        post.reading = true;
        this.record.arrivals.set(e.time, (this.record.arrivals.get(e.time) ?? 0) + 1);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Virtual time

  #when(): string {
    const t = this.wire.now() - this.start;
    const d = Math.floor(t / DAY);
    const h = ((t % DAY) / HOUR).toFixed(2);
    return `day ${d} ${h} h`;
  }

  /** Waits (without moving virtual time) until the device's side of the wire shows `condition`. */
  async #until(condition: () => boolean, what: string): Promise<void> {
    while (!condition()) {
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`soak: ${what} did not happen within 30 s of real time at ${this.#when()}`)), 30_000);
      });
      try {
        await Promise.race([this.wire.changed(), stuck]);
      } finally {
        clearTimeout(timer);
      }
    }
    await this.lane.idle();
  }

  /** The device noticed that its connection is gone (before virtual time moves on). */
  async #hungUp(): Promise<void> {
    await this.#until(() => this.wire.open === 0, "the device noticing the hang-up");
  }

  /** Until the device is owed nothing on the wire (or the emulator holds uplink for its pacing). */
  async #quiet(): Promise<void> {
    for (;;) {
      await this.lane.idle();
      if (this.lane.fatal) this.#stop();
      if (this.wire.owed === 0 || this.clock.pending > 0) return;
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        // A guard against a harness bug, not a measurement: the device's peer answers in milliseconds.
        timer = setTimeout(() => reject(new Error(`soak: no answer on the wire for 30 s of real time at ${this.#when()}: ${this.wire.describeOwed()}`)), 30_000);
      });
      try {
        await Promise.race([this.wire.changed(), stuck]);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** Moves device and emulator to epoch `target`, stepping to whatever is due first. */
  async #runTo(target: number): Promise<void> {
    for (;;) {
      await this.#quiet();
      const lane = this.lane;
      const now = lane.clock.epoch();
      if (now >= target) return;
      const clock = lane.clock as VirtualClock;
      const wake = clock.nextWake === undefined ? Infinity : now - clock.now() + clock.nextWake;
      // The emulator's timers (uplink held for its 1 message/s pacing, a reply time-out) fire within
      // EMULATOR_STEP of when they are due.
      const next = Math.min(wake, this.clock.pending > 0 ? now + EMULATOR_STEP : Infinity, target);
      await lane.advance(Math.max(0, next - now));
      this.clock.advance(lane.clock.epoch() - this.clock.now());
      if (lane.fatal) this.#stop();
      if (lane.clock.epoch() >= this.start + this.#nextDay * DAY) {
        this.progress(`day ${this.#nextDay} done after ${((performance.now() - this.#realStart) / 1000).toFixed(1)} s real`);
        this.#nextDay++;
        if (lane.logs.length > 10_000) lane.logs.length = 0; // kept by the lane too; the soak reads onLog
      }
    }
  }

  /** Drives virtual time until `promise` settles (emulator set/get wait for the device's reply). */
  async #drive<T>(promise: Promise<T>, limitMs: number): Promise<T | undefined> {
    let done = false;
    let value: T | undefined;
    void promise.then((v) => {
      done = true;
      value = v;
    });
    const end = this.wire.now() + limitMs;
    while (!done && this.wire.now() < end) {
      await this.#runTo(Math.min(end, this.wire.now() + SECOND));
      await new Promise((r) => setImmediate(r));
    }
    return value;
  }

  // ---------------------------------------------------------------------------------------------
  // The scenario

  #scenario(): Step[] {
    const S = this.start;
    const I = this.options.interval * SECOND;
    const W = FIRST_FLIP + SIGN_FLIP; // the first boot's wrap
    /** Offline phases stay within what the device keeps (outbox 16 + uplink queue 32 readings). */
    const offline = (max: number): number => Math.min(max, 12 * I);
    const steps: Step[] = [];
    const at = (t: number, name: string, run: () => Promise<void> | void): void => {
      steps.push({ at: S + t, name, run: async () => void (await run()) });
    };
    const phase = (t: number, length: number, name: string, on: () => Promise<void> | void, off: () => Promise<void> | void): void => {
      at(t, `${name} (${(length / MINUTE).toFixed(0)} min)`, async () => {
        this.record.phases.push({ name, from: this.wire.now(), to: this.wire.now() + length });
        await on();
      });
      at(t + length, `${name}: over`, off);
    };
    const restart = (t: number, length: number, name = "broker restart"): void =>
      phase(t, length, name, () => this.#brokerDown(), () => this.#brokerUp());

    // Boot 1, before its sign flip (12 h): every kind of fault once on a tick that is still positive.
    at(1 * HOUR, "the platform drops the device", () => this.#kick());
    phase(2 * HOUR, offline(30 * MINUTE), "Wi-Fi access point down", () => this.#wifi(false), () => this.#wifi(true));
    phase(3 * HOUR, offline(HOUR), "logins refused (CONNACK 5)", () => this.#front("refuse-login"), () => this.#front("pass"));
    HOSTILE.forEach((c, i) => at(4.5 * HOUR + i * 10 * MINUTE, `hostile: ${c.name}`, () => this.#hostile(c)));
    at(6 * HOUR, "get and set after the hostile downlinks", () => this.#getSet("after the hostile downlinks"));
    phase(7 * HOUR, 15 * MINUTE, "broker sends CONNACK twice", () => this.#front("connack-twice"), () => this.#front("pass"));
    phase(8 * HOUR, HOUR, "flash refuses writes and erases", () => this.#flash("fail"), () => this.#flash("ok"));
    phase(8 * HOUR + 10 * MINUTE, offline(20 * MINUTE), "Wi-Fi access point down (flash failing)", () => this.#wifi(false), () => this.#wifi(true));
    restart(9.5 * HOUR, 5 * MINUTE);
    // The flip at 12 h, connected. Then the faults again on a negative tick.
    restart(14 * HOUR, 5 * MINUTE, "broker restart (after the sign flip)");
    at(15 * HOUR, "the platform drops the device (after the sign flip)", () => this.#kick());
    phase(16 * HOUR, offline(30 * MINUTE), "logins refused (after the sign flip)", () => this.#front("refuse-login"), () => this.#front("pass"));
    phase(DAY, 12 * HOUR, "12-hour outage (broker unreachable)", () => this.#front("down", true), () => this.#front("pass"));
    this.record.outage = { from: S + DAY, to: S + DAY + 12 * HOUR };

    // The wrap, connected; then the faults again after it.
    at(W + 90 * MINUTE, "the platform drops the device (after the wrap)", () => this.#kick());
    restart(W + 2 * HOUR, 5 * MINUTE, "broker restart (after the wrap)");
    phase(W + 3 * HOUR, offline(30 * MINUTE), "logins refused (after the wrap)", () => this.#front("refuse-login"), () => this.#front("pass"));
    phase(W + 4 * HOUR, 10 * MINUTE, "subscriptions refused (SUBACK 0x80)", () => this.#refuseSubscriptions(true), () => this.#refuseSubscriptions(false));
    at(W + 5 * HOUR, "get after a refused subscription", () => this.#getSet("after a refused subscription"));
    const B2 = W + 6 * HOUR;
    at(B2, "reboot (online)", () => this.#boot(true));
    // Boot 2 goes down with Wi-Fi (before its sign flip): what it queued offline must survive.
    const R2 = B2 + 30 * MINUTE;
    const before = Math.min(20 * MINUTE, 10 * I);
    const B3 = R2 + before;
    phase(R2, before + 10 * MINUTE, "Wi-Fi down, reboot while down", () => this.#wifi(false), () => this.#wifi(true));
    this.record.offlineReboot = { from: S + R2, at: S + B3 };
    at(B3, "reboot (offline, readings in the outbox)", async () => {
      await this.#boot(true);
      await this.#wifi(false); // the access point is still down for the new boot
    });
    // Boot 3: the broker is down across its sign flip, so reconnect deadlines straddle it.
    phase(B3 + LATER_FLIP - 30 * SECOND, 2 * MINUTE + 30 * SECOND, "broker down across the sign flip", () => this.#front("down", true), () => this.#front("pass"));

    // Periodic faults for the rest of the run, away from the scripted parts and the boundaries.
    const end = this.options.days * DAY;
    const plan = [
      { name: "boot 1 sign flip", at: FIRST_FLIP, connected: true },
      { name: "boot 1 wrap", at: W, connected: true },
      { name: "boot 3 sign flip (broker down across it)", at: B3 + LATER_FLIP, connected: false },
      { name: "boot 3 wrap", at: B3 + LATER_FLIP + SIGN_FLIP, connected: true },
    ].filter((b) => b.at < end - HOUR);
    this.record.boundaryPlan = plan.map((b) => ({ ...b, at: S + b.at }));
    const busy: Array<[number, number]> = [[0, DAY + 14 * HOUR], [W - 3 * HOUR, B3 + LATER_FLIP + 3 * HOUR]];
    for (const b of plan) busy.push([b.at - 3 * HOUR, b.at + 3 * HOUR]);
    const free = (t: number, length: number): boolean => busy.every(([a, b]) => t + length < a || t > b) && t + length < end - HOUR;
    for (let d = 0; d * DAY < end; d++) {
      const t = d * DAY;
      if (d % 5 === 2 && free(t + 5 * HOUR, 2 * MINUTE)) restart(t + 5 * HOUR, 2 * MINUTE);
      if (d % 3 === 2 && free(t + 16 * HOUR, 10 * MINUTE)) phase(t + 16 * HOUR, offline(10 * MINUTE), "Wi-Fi access point down", () => this.#wifi(false), () => this.#wifi(true));
      if (free(t + 20 * HOUR, MINUTE)) at(t + 20 * HOUR, "the platform drops the device", () => this.#kick());
      if (free(t + 23.5 * HOUR, 0)) at(t + 23.5 * HOUR, "heap checkpoint", () => this.#heap());
    }
    steps.sort((a, b) => a.at - b.at);
    return steps;
  }

  // ---------------------------------------------------------------------------------------------
  // Faults

  async #wifi(up: boolean): Promise<void> {
    await this.lane.control("wifi.ap", up ? "up" : "down");
  }

  async #kick(): Promise<void> {
    if (this.emulator.disconnect(DEVICE.product, DEVICE.device)) await this.#hungUp();
  }

  async #front(mode: BrokerFront["mode"], hangUp = mode !== "pass"): Promise<void> {
    this.front.mode = mode;
    // A broker that changes its mind drops the connections it has; the device must log in again.
    if (hangUp && this.front.open > 0) {
      this.front.closeAll();
      await this.#hungUp();
    }
  }

  async #brokerDown(): Promise<void> {
    this.front.mode = "down";
    const open = this.front.open > 0;
    await this.emulator.close();
    if (open) await this.#hungUp();
  }

  async #brokerUp(): Promise<void> {
    this.emulator = await this.#startEmulator();
    this.front.targetPort = this.emulator.port;
    this.front.mode = "pass";
  }

  async #refuseSubscriptions(on: boolean): Promise<void> {
    this.front.refuseSubscriptions = on;
    if (on && this.front.open > 0) {
      this.front.closeAll();
      await this.#hungUp();
    }
  }

  async #flash(state: "fail" | "ok"): Promise<void> {
    if (state === "fail") {
      await this.lane.control("flash", "fail set");
      await this.lane.control("flash", "fail delete");
    } else await this.lane.control("flash", "ok");
  }

  async #hostile(c: HostileCase): Promise<void> {
    const segment = this.record.segments[this.record.segments.length - 1]!;
    const bytes = c.bytes(DEVICE, this.options.interval);
    const received = this.wire.bytesIn + bytes.length;
    const n = this.front.inject(bytes);
    // All of it reaches the device at this virtual instant ("1,000 sets in one second").
    if (n > 0) await this.#until(() => this.wire.bytesIn >= received || this.wire.open === 0, "the hostile bytes arriving");
    const entry: Observations["hostile"][number] = {
      name: c.name,
      at: this.wire.now(),
      injected: n > 0,
      link: c.link,
      replies: c.replies,
      saves: c.saves,
      intervalUnchanged: c.intervalUnchanged,
      connectsBefore: this.wire.attempts,
      connectsAfter: -1,
      savesBefore: this.record.lines.saves,
      savesAfter: -1,
      changesBefore: segment.changes.length,
      changesAfter: -1,
    };
    this.record.hostile.push(entry);
    // Let the device take it in and do whatever it does (a pending interval save included).
    await this.#runTo(this.wire.now() + 5 * MINUTE);
    entry.connectsAfter = this.wire.attempts;
    entry.savesAfter = this.record.lines.saves;
    entry.changesAfter = segment.changes.length;
  }

  async #heap(): Promise<void> {
    await this.#quiet();
    this.record.heap.push({ at: this.wire.now(), segment: this.record.segments.length, slots: await this.lane.heapSlots(), kind: "day" });
  }

  /** The cloud asks for interval and led, then sets led and reads it back. */
  async #getSet(when: string): Promise<void> {
    const get = await this.#drive<SetResult>(this.emulator.getProperties(DEVICE.product, DEVICE.device, ["interval", "led"]), 2 * MINUTE);
    this.record.gets.push({ when, kind: "get", result: get ?? { ok: false, error: "no answer within 2 min of virtual time" } });
    const led = !(get?.data as { led?: boolean } | undefined)?.led;
    const set = await this.#drive<SetResult>(this.emulator.setProperties(DEVICE.product, DEVICE.device, { led }), 2 * MINUTE);
    this.record.gets.push({ when, kind: "set", result: set ?? { ok: false, error: "no answer within 2 min of virtual time" } });
    const back = await this.#drive<SetResult>(this.emulator.getProperties(DEVICE.product, DEVICE.device, ["led", "interval"]), 2 * MINUTE);
    const data = back?.data as { led?: boolean; interval?: number } | undefined;
    const ok = back?.code === 200 && data?.led === led && data?.interval === this.options.interval;
    this.record.gets.push({ when, kind: "read back", result: ok ? back! : { ok: false, error: `read back ${JSON.stringify(back)}; wanted led=${led} interval=${this.options.interval}` } });
  }

  async #finalChecks(): Promise<void> {
    // Whatever is still queued drains (the last readings, the outbox after the last fault).
    await this.#runTo(this.wire.now() + 5 * MINUTE);
    await this.#getSet("at the end");
    await this.#runTo(this.wire.now() + 2 * MINUTE);
  }
}

/** A `key=value` field of a device log line (lib/log.ts quotes values with spaces as JSON strings). */
function field(text: string, name: string): string | undefined {
  const m = new RegExp(`(?:^| )${name}=("(?:[^"\\\\]|\\\\.)*"|\\S+)`).exec(text);
  if (!m) return undefined;
  return m[1]!.startsWith('"') ? (JSON.parse(m[1]!) as string) : m[1];
}
