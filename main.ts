// The firmware's entry module: boot banner -> config validation -> Wi-Fi -> sensors -> time ->
// OneNET session -> report timer. Runs unchanged on the board, in the Moddable simulator and under
// `npm start`.
//
// Nothing here may end the app: every callback the app hands to a module or a timer runs inside
// `guard()`, which logs an exception and carries on. Bad configuration stops boot with one line that
// names every bad key, then the app idles (no crash, no reboot loop).

import config from "mc/config";
import Time from "time";
import Timer from "timer";
import { describe, Log, parseLevel } from "./lib/log";
import { epochKnown } from "./lib/time";
import { configSummary, describeProblems, LIMITS, validateConfig, type AppConfig } from "./app/config";
import { boardName, VERSION } from "./app/info";
import { CONNACK_HINTS } from "./app/hints";
import { loadInterval, saveInterval } from "./app/settings";
import Led from "platform/led";
import Clock from "platform/clock";
import i2c from "platform/i2c";
import simulated from "platform/sensor";
import WiFiManager from "./drivers/wifi";
import Sensors from "./drivers/sensors";
import Board from "./drivers/board";
import { PreferenceStorage } from "./mqtt/storage";
import { OneNetClient } from "./onenet/client";
import type { ReplyInfo } from "./onenet/device";

/** I2C pins when config gives none: the ESP32 DevKit's (the simulator's bus uses the same). */
const DEFAULT_SDA = 21;
const DEFAULT_SCL = 22;
/** A status line this often (ms), for a monitor attached long after boot. */
const STATUS_EVERY = 600_000;

const log = new Log({ ticks: () => Time.ticks });

function clockKnown(): boolean {
  return epochKnown(Date.now());
}

/** Runs `fn`, logging instead of propagating an exception: the app loop never dies. */
function guard(area: string, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    log.error(area, what + " failed", { error: describe(e) });
  }
}

/** The properties of one report; one object reused for every report (the payload is encoded at once). */
interface Readings {
  [identifier: string]: number | undefined;
  temp?: number;
  humi?: number;
  press?: number;
  rssi?: number;
  heap?: number;
  uptime?: number;
}

class App {
  readonly cfg: AppConfig;
  readonly wifi: WiFiManager;
  readonly board: Board;
  readonly onenet: OneNetClient;
  readonly led: Led;
  readonly clock: Clock;
  sensors: Sensors | undefined;
  interval: number;
  readonly readings: Readings = {};
  readonly reportTimer: Timer;
  everConnected = false;
  clockTried = false;
  reports = 0;
  dropped = 0;

  constructor(cfg: AppConfig) {
    this.cfg = cfg;

    this.led = new Led({ gpio: cfg.led, invert: cfg.ledInvert, log });
    this.clock = new Clock({ server: cfg.sntp, log });
    const interval = loadInterval(cfg.interval, LIMITS.interval.min, LIMITS.interval.max, log);
    this.interval = interval.seconds;
    log.info("app", "report interval", { seconds: interval.seconds, source: interval.source });

    // Wi-Fi first: joining takes seconds, the rest of boot runs meanwhile.
    this.wifi = new WiFiManager({
      ssid: cfg.ssid,
      password: cfg.password,
      log,
      onChange: (up) => guard("wifi", "network change", () => this.onNetwork(up)),
    });

    guard("sensors", "detect", () => {
      const sensors = new Sensors({ data: cfg.sda ?? DEFAULT_SDA, clock: cfg.scl ?? DEFAULT_SCL, io: i2c, extra: simulated, log });
      sensors.detect();
      this.sensors = sensors;
    });
    this.board = new Board(this.wifi);

    // The OneNET device on our MQTT client (onenet/client.ts): login from the config, subscriptions,
    // 1 message/s pacing, reply correlation; QoS 1 reports kept in a small outbox in flash.
    this.onenet = new OneNetClient({
      config: cfg.onenet,
      canSet: (identifier) => this.canSet(identifier),
      onSet: (identifier, value) => this.onSet(identifier, value),
      onGet: (identifier) => this.onGet(identifier),
      onReply: (reply) => this.onReply(reply),
      epochMs: () => (clockKnown() ? Date.now() : undefined),
      onOnline: (online) => guard("onenet", "online handler", () => this.onOnline(online)),
      log,
      mqtt: { storage: new PreferenceStorage("mqtt-outbox", 16), outboxMessages: 16, outboxBytes: 8192 },
    });
    this.onenet.mqtt.onRefused = (code, reason) => guard("mqtt", "refused handler", () => this.onRefused(code, reason));

    this.reportTimer = Timer.repeat(() => guard("app", "report", () => this.report()), this.interval * 1000);
    Timer.repeat(() => guard("app", "status", () => this.status()), STATUS_EVERY);

    this.onenet.networkDown();
    this.onenet.connect();
    this.wifi.start();
  }

  onNetwork(up: boolean): void {
    if (up) {
      log.info("app", "network up, connecting to OneNET", { ip: this.wifi.ip, rssi: this.wifi.rssi, host: this.cfg.host, port: this.cfg.port });
      this.onenet.networkUp();
      if (!this.clockTried || !clockKnown()) {
        this.clockTried = true;
        this.syncTime();
      }
    } else {
      log.warn("app", "network down, reports queue until it is back", { outbox: this.onenet.mqtt.outbox.length });
      this.onenet.networkDown();
    }
  }

  /** Asks for the time (SNTP on the board); tried again from status() while the clock is unknown. */
  syncTime(): void {
    this.clock.sync((ok) => {
      if (!ok && !clockKnown()) log.warn("time", "clock unknown: reports go without time");
    });
  }

  onOnline(online: boolean): void {
    if (!online) {
      log.warn("app", "offline, reports wait in the outbox", { outbox: this.onenet.mqtt.outbox.length });
      return;
    }
    if (!this.everConnected) {
      this.everConnected = true;
      // The first report does not wait a whole interval: the report timer fires on the next turn of
      // the event loop (not from inside this callback, which runs deep in the MQTT client's stack:
      // reporting from here overflowed the XS stack in the SDK's lin simulator), then every interval.
      Timer.schedule(this.reportTimer, 0, this.interval * 1000);
    }
  }

  onRefused(code: number, reason: string): void {
    log.error("mqtt", "OneNET refused the login", { code, reason, check: CONNACK_HINTS[code] ?? "the OneNET device log in the console" });
  }

  onReply(reply: ReplyInfo): void {
    if (reply.code !== 200) log.warn("onenet", "post refused", { id: reply.id, code: reply.code, meaning: reply.meaning });
  }

  /** What the board can apply, asked before any property of a cloud set changes (all or nothing). */
  canSet(identifier: string): true | string {
    if (identifier === "led" && this.cfg.led === undefined) return "no LED on this board (config led)";
    return true;
  }

  onSet(identifier: string, value: unknown): boolean | string {
    if (identifier === "interval") {
      if (typeof value !== "number" || !Number.isInteger(value) || value < LIMITS.interval.min || value > LIMITS.interval.max) {
        return `interval must be an integer ${LIMITS.interval.min}..${LIMITS.interval.max}`;
      }
      this.setInterval(value);
      return true;
    }
    if (identifier === "led") {
      if (typeof value !== "boolean") return "led must be true or false";
      if (!this.led.set(value)) return "no LED on this board (config led)";
      return true;
    }
    return `${identifier} is not writable`;
  }

  onGet(identifier: string): unknown {
    if (identifier === "interval") return this.interval;
    if (identifier === "led") return this.led.lit;
    return undefined;
  }

  setInterval(seconds: number): void {
    if (seconds === this.interval) return;
    const saved = saveInterval(seconds, this.cfg.interval, log);
    log.info("app", "report interval changed", { seconds, was: this.interval, persisted: saved });
    this.interval = seconds;
    Timer.schedule(this.reportTimer, seconds * 1000, seconds * 1000);
  }

  report(): void {
    const r = this.readings;
    if (this.sensors) this.sensors.read(r);
    this.board.read(r);
    let id: string;
    try {
      id = this.onenet.report(r);
    } catch (e) {
      this.dropped++;
      log.warn("app", "report not queued", { error: describe(e), dropped: this.dropped });
      return;
    }
    this.reports++;
    log.info("app", "report", {
      id, temp: r.temp, humi: r.humi, press: r.press, rssi: r.rssi, heap: r.heap, uptime: r.uptime,
      online: this.onenet.online, queued: this.onenet.device.queued, outbox: this.onenet.mqtt.outbox.length,
    });
  }

  status(): void {
    if (this.wifi.up && !clockKnown()) this.syncTime();
    const s = this.onenet.device.stats;
    log.info("app", "status", {
      wifi: this.wifi.status, mqtt: this.onenet.mqtt.connected ? "connected" : "down", reports: this.reports,
      sent: s.sent, replies: s.replies, refused: s.refusedByPlatform, missing: s.missingReplies,
      queued: this.onenet.device.queued, outbox: this.onenet.mqtt.outbox.length, interval: this.interval,
    });
  }
}

/** Boot stopped: say so now and again every minute (for a monitor attached later); nothing else runs. */
function idle(reason: string): void {
  Timer.repeat(() => {
    log.error("app", "boot stopped, idle", { reason });
  }, 60_000);
}

function boot(): void {
  log.info("app", "boot", { version: VERSION, board: boardName(), gpio: Led.driver, clock: Clock.source });
  const checked = validateConfig(config);
  if (!checked.ok) {
    log.error("config", "boot stopped, fix these keys and rebuild: " + describeProblems(checked.problems));
    idle("config");
    return;
  }
  const cfg = checked.config;
  log.secret(cfg.password);
  log.secret(cfg.key);
  const level = parseLevel(cfg.loglevel);
  if (level) log.level = level;
  log.info("config", "ok", configSummary(cfg));
  try {
    new App(cfg);
  } catch (e) {
    log.error("app", "boot failed, idle", { error: describe(e) });
    idle("boot");
  }
}

guard("app", "boot", boot);
