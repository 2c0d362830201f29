// The running app: Wi-Fi, sensors and board data reported to OneNET every interval, the writable
// properties (interval, led) applied from the cloud, faults raised as `alarm` events, a status line
// every ten minutes. main.ts builds it once the configuration is valid.
//
// Nothing here may end the app: every callback handed to a module or a timer runs inside `guard()`,
// which logs an exception with its area and carries on.

import Timer from "timer";
import { describe, type Log } from "../lib/log";
import { epochKnown, type Uptime } from "../lib/time";
import type { Clock, FlashRole, I2CRole, Led, OtaRole, SensorRole } from "../platform/types";
import WiFiManager from "../drivers/wifi";
import Sensors from "../drivers/sensors";
import Board from "../drivers/board";
import { PreferenceStorage } from "../mqtt/storage";
import { OneNetClient } from "../onenet/client";
import type { ReplyInfo } from "../onenet/device";
import { onenetTls } from "../onenet/tls";
import { LIMITS, type AppConfig } from "./config";
import { CONNACK_HINTS } from "./hints";
import { loadInterval, saveInterval } from "./settings";
import { ALARM, SENSOR_PROPERTIES, sensorChange } from "./alarms";
import { ReadingLog, type Overwrite } from "../store/ring";
import { BATCH_BYTES, Uplink } from "../store/uplink";
import { OtaClient } from "./ota";

/** I2C pins when config gives none: the ESP32 DevKit's (the simulator's bus uses the same). */
const DEFAULT_SDA = 21;
const DEFAULT_SCL = 22;
/** A status line this often (ms), for a monitor attached long after boot. */
const STATUS_EVERY = 600_000;
/**
 * A new interval is written to flash once it has held this long (ms): a burst of sets (the cloud, or
 * a hostile flood) costs one flash write, not one per set.
 */
const SAVE_AFTER = 3000;
/**
 * How long the login waits for SNTP after Wi-Fi is up while the clock is unknown (ms): a token made
 * with the clock expires (config tokenTtl), and TLS checks certificate dates against it. After that the
 * login goes ahead with the far-future token, and SNTP is asked again every CLOCK_RETRY.
 */
const CLOCK_WAIT = 10_000;
const CLOCK_RETRY = 60_000;

/** The properties of one report; one object reused for every report (the payload is encoded at once). */
interface Readings {
  [identifier: string]: number | boolean | undefined;
  temp?: number;
  humi?: number;
  press?: number;
  rssi?: number;
  heap?: number;
  uptime?: number;
  /** Readings waiting in the log when this one was taken: live only, so the console shows the backlog. */
  backlog?: number;
}

export interface AppParts {
  readonly led: Led;
  readonly clock: Clock;
  readonly i2c: I2CRole;
  /** A sensor the platform provides besides the bus (the desktop simulators' simulated one). */
  readonly extraSensor: SensorRole;
  readonly log: Log;
  readonly uptime: Uptime;
  /** Opens the readings partition (platform/flash). */
  readonly flash: FlashRole;
  /** The board's OTA parts (platform/ota); none: no updates over the air. */
  readonly ota?: OtaRole;
}

/**
 * No download starts while more readings than this wait in the log: the readings are kept across the
 * restart (the log is in flash), but a large backlog drains first, while the link is known to work.
 */
export const OTA_MAX_BACKLOG = 1000;

/** Largest message the device hands to MQTT: a history batch (store/uplink.ts) and its topic. */
const MAX_MESSAGE = BATCH_BYTES + 256;

export default class App {
  readonly cfg: AppConfig;
  readonly log: Log;
  readonly led: Led;
  readonly clock: Clock;
  readonly wifi: WiFiManager;
  readonly board: Board;
  readonly onenet: OneNetClient;
  sensors: Sensors | undefined;
  interval: number;
  readonly readings: Readings = {};
  readonly state: Readings = {};
  readonly reportTimer: Timer;
  readonly uptime: Uptime;
  /** The readings log and its uplink; undefined when the flash partition could not be opened. */
  ring: ReadingLog | undefined;
  uplink: Uplink | undefined;
  /** Updates over the air; undefined where the platform has none. */
  ota: OtaClient | undefined;
  clockStored = false;
  /** Unsent readings overwritten and not yet alarmed (the alarm goes at most once per lap of the ring). */
  lostCount = 0;
  lostFrom: number | undefined;
  lostTo: number | undefined;
  /** Readings appended when the last loss alarm went; -1: none yet. */
  lostAlarmAt = -1;
  everConnected = false;
  clockTried = false;
  reports = 0;
  dropped = 0;
  /** Which of SENSOR_PROPERTIES the last report had (bit i: SENSOR_PROPERTIES[i]); -1 before the first. */
  sensorBits = -1;
  /** Bits that went missing and have not come back (an alarm was raised for them). */
  lostBits = 0;
  statePending = false;
  pumpPending = false;
  readonly #onPumpTimer = (): void => {
    this.pumpPending = false;
    this.guard("store", "uplink", () => this.uplink?.pump());
  };
  // A post reply arrives at the bottom of the MQTT client's socket callback, under TLS below the
  // SDK's SecureSocket frames too; its path up to Timer.set overflowed the board's 512-slot stack
  // (XS lane, TLS). These two are the frames of that path, kept few: the guard's try and the handler
  // are inlined, and the uplink calls the scheduler directly.
  readonly #schedulePump = (): void => {
    if (this.pumpPending) return;
    this.pumpPending = true;
    Timer.set(this.#onPumpTimer, 0);
  };
  readonly #onReply = (reply: ReplyInfo): void => {
    try {
      if (reply.code !== 200) this.log.warn("onenet", "post refused", { id: reply.id, code: reply.code, meaning: reply.meaning });
      else if (this.ota !== undefined) this.ota.replied = true; // a field, not a call: this path is at the stack's limit
      this.uplink?.onReply(reply.id, reply.code);
    } catch (e) {
      this.log.error("onenet", "reply handler failed", { error: describe(e) });
    }
  };
  saveTimer: Timer | undefined;
  readonly #onSaveTimer = (): void => {
    this.saveTimer = undefined;
    this.guard("settings", "save", () => this.saveSettings());
  };
  readonly #onStateTimer = (): void => this.guard("app", "state report", () => this.reportState());
  /** Set while the login waits for the clock (from Wi-Fi up until SNTP answers or CLOCK_WAIT passes). */
  clockWaiting = false;
  clockTimer: Timer | undefined;
  readonly #onClockTimer = (): void => {
    this.clockTimer = undefined;
    this.guard("time", "clock wait", () => this.clockWaitOver());
  };

  constructor(cfg: AppConfig, parts: AppParts) {
    this.cfg = cfg;
    const log = (this.log = parts.log);
    this.led = parts.led;
    this.clock = parts.clock;
    this.uptime = parts.uptime;
    // The readings log first: its boot number makes message ids unique across reboots.
    this.guard("store", "open", () => {
      this.ring = new ReadingLog({ flash: parts.flash("readings"), log, onOverwrite: (lost) => this.onOverwrite(lost) });
    });

    const interval = loadInterval(cfg.interval, LIMITS.interval.min, LIMITS.interval.max, log);
    this.interval = interval.seconds;
    log.info("app", "report interval", { seconds: interval.seconds, source: interval.source });

    // Wi-Fi first: joining takes seconds, the rest of boot runs meanwhile.
    this.wifi = new WiFiManager({
      ssid: cfg.ssid,
      password: cfg.password,
      log,
      onChange: (up) => this.guard("wifi", "network change", () => this.onNetwork(up)),
    });

    this.guard("sensors", "detect", () => {
      const sensors = new Sensors({ data: cfg.sda ?? DEFAULT_SDA, clock: cfg.scl ?? DEFAULT_SCL, io: parts.i2c, extra: parts.extraSensor, log });
      sensors.detect();
      this.sensors = sensors;
    });
    this.board = new Board(this.wifi, parts.uptime);

    // The OneNET device on our MQTT client: login from the config, subscriptions, 1 message/s pacing,
    // reply correlation; QoS 1 reports kept in a small outbox in flash.
    this.onenet = new OneNetClient({
      config: cfg.onenet,
      canSet: (identifier) => this.canSet(identifier),
      onSet: (identifier, value) => this.onSet(identifier, value),
      onGet: (identifier) => this.onGet(identifier),
      onReply: this.#onReply,
      epochMs: () => (epochKnown(Date.now()) ? Date.now() : undefined),
      onOnline: (online) => this.guard("onenet", "online handler", () => this.onOnline(online)),
      onMissing: (id) => this.guard("store", "missing reply", () => this.uplink?.onMissing(id)),
      onOtaInform: (payload) => this.guard("ota", "inform", () => this.ota?.inform(payload)),
      boot: this.ring?.boot,
      maxMessageBytes: MAX_MESSAGE,
      log,
      uptime: parts.uptime,
      // tls=1: OneNET's CA from flash (a missing resource throws here and boot stops with the error).
      mqtt: { storage: new PreferenceStorage("mqtt-outbox", 16), outboxMessages: 16, outboxBytes: 8192, secure: cfg.tls ? onenetTls() : undefined },
    });
    this.onenet.mqtt.onRefused = (code, reason) => this.guard("mqtt", "refused handler", () => this.onRefused(code, reason));
    if (this.ring) {
      const onenet = this.onenet;
      this.uplink = new Uplink({
        ring: this.ring,
        log,
        link: {
          get online() {
            return onenet.online;
          },
          get queued() {
            return onenet.device.queued;
          },
          live: (params, time) => onenet.reportReading(params, time),
          history: (series, scratch) => onenet.postHistory(series, scratch),
        },
        schedule: this.#schedulePump,
      });
    }

    const otaRole = parts.ota;
    if (otaRole !== undefined) {
      this.guard("ota", "start", () => {
        const platform = otaRole();
        if (platform === undefined) return;
        this.ota = new OtaClient({ cfg, log, uptime: parts.uptime, onenet: this.onenet, platform, holdDownload: () => this.otaHold() });
      });
    }

    this.reportTimer = Timer.repeat(() => this.guard("app", "report", () => this.report()), this.interval * 1000);
    Timer.repeat(() => this.guard("app", "status", () => this.status()), STATUS_EVERY);

    this.onenet.networkDown();
    this.onenet.connect();
    this.wifi.start();
  }

  /** Why an update download must wait now, or undefined (the readings log writes through, so it is always persisted). */
  otaHold(): string | undefined {
    const backlog = this.ring?.pending ?? 0;
    return backlog > OTA_MAX_BACKLOG ? `readings backlog ${backlog} > ${OTA_MAX_BACKLOG}` : undefined;
  }

  /** Runs `fn`, logging instead of propagating an exception: the app loop never dies. */
  guard(area: string, what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error(area, what + " failed", { error: describe(e) });
    }
  }

  onNetwork(up: boolean): void {
    const log = this.log;
    if (up) {
      log.info("app", "network up, connecting to OneNET", { ip: this.wifi.ip, rssi: this.wifi.rssi, host: this.cfg.host, port: this.cfg.port, tls: this.cfg.tls });
      const known = epochKnown(Date.now());
      if (!this.clockTried || !known) {
        this.clockTried = true;
        this.syncTime();
      }
      if (known || !this.waitForClock()) this.onenet.networkUp();
    } else {
      this.stopClockWait();
      log.warn("app", "network down, reports queue until it is back", { outbox: this.onenet.mqtt.outbox.length });
      this.onenet.networkDown();
    }
  }

  /** Asks for the time (SNTP on the board); tried again while the clock is unknown. */
  syncTime(): void {
    this.clock.sync(() => this.guard("time", "clock answer", () => this.clockAnswered()));
  }

  clockAnswered(): void {
    if (!epochKnown(Date.now())) {
      this.log.warn("time", "clock unknown: reports go without time");
      return;
    }
    if (this.clockWaiting) {
      this.stopClockWait();
      this.onenet.networkUp();
    }
  }

  /**
   * Holds the login until the clock is known (the caller asked SNTP) or CLOCK_WAIT passes. Returns
   * whether the login is held: not when the wait is already over and only the SNTP retries run.
   */
  waitForClock(): boolean {
    if (this.clockTimer !== undefined) return this.clockWaiting;
    this.clockWaiting = true;
    this.log.info("time", "clock unknown: the login waits for SNTP", { seconds: CLOCK_WAIT / 1000 });
    this.clockTimer = Timer.set(this.#onClockTimer, CLOCK_WAIT);
    return true;
  }

  stopClockWait(): void {
    this.clockWaiting = false;
    if (this.clockTimer !== undefined) Timer.clear(this.clockTimer);
    this.clockTimer = undefined;
  }

  /** CLOCK_WAIT is over, or a CLOCK_RETRY: log in without the clock if still waiting; ask SNTP again while it is unknown. */
  clockWaitOver(): void {
    if (!this.wifi.up) return;
    if (epochKnown(Date.now())) {
      this.clockAnswered();
      return;
    }
    if (this.clockWaiting) {
      this.clockWaiting = false;
      this.log.warn("time", "no time from SNTP: logging in with the far-future token (config et)", {
        waited: CLOCK_WAIT / 1000,
        tls: this.cfg.tls ? "cannot check the server certificate's dates until the clock is set" : "off",
      });
      this.onenet.networkUp();
    } else this.syncTime();
    this.clockTimer = Timer.set(this.#onClockTimer, CLOCK_RETRY);
  }

  onOnline(online: boolean): void {
    this.uplink?.onOnline(online);
    if (!online) {
      this.log.warn("app", "offline, reports wait in the outbox", { outbox: this.onenet.mqtt.outbox.length });
      return;
    }
    if (!this.everConnected) {
      this.everConnected = true;
      // The first report does not wait a whole interval: the report timer fires on the next turn of
      // the event loop (not from inside this callback, which runs deep in the MQTT client's stack:
      // reporting from here overflowed the XS stack in the SDK's lin simulator), then every interval.
      Timer.schedule(this.reportTimer, 0, this.interval * 1000);
      // The console shows the writable properties from the start, not only after a first set.
      this.scheduleState();
    }
  }

  onRefused(code: number, reason: string): void {
    this.log.error("mqtt", "OneNET refused the login", { code, reason, check: CONNACK_HINTS[code] ?? "the OneNET device log in the console" });
    const device = this.onenet.device;
    if (code === 4 && device.tokenShortLived) {
      // The platform finds the token expired when the device clock is off: set it before the next try
      // (the refused backoff is at least 15 s, time enough for SNTP).
      this.log.warn("time", "login refused with a token that expires: asking SNTP before the next try", { et: device.tokenEt });
      this.syncTime();
    }
  }

  /** The ring was full: unsent readings were overwritten. Alarmed from report(), once per lap. */
  onOverwrite(lost: Overwrite): void {
    this.lostCount += lost.count;
    if (this.lostFrom === undefined) this.lostFrom = lost.from;
    if (lost.to !== undefined) this.lostTo = lost.to;
    this.log.warn("store", "readings log full: oldest unsent readings overwritten", { count: lost.count, total: this.ring?.stats.overwritten });
  }

  checkLost(): void {
    const ring = this.ring;
    if (ring === undefined || this.lostCount === 0) return;
    const appended = this.reports;
    if (this.lostAlarmAt >= 0 && appended - this.lostAlarmAt < ring.stats.capacity) return;
    this.lostAlarmAt = appended;
    const span = this.lostFrom !== undefined && this.lostTo !== undefined ? ` ${isoMinute(this.lostFrom)}..${isoMinute(this.lostTo)}` : "";
    this.alarm(ALARM.readingsLost, `${this.lostCount} readings lost${span}`);
    this.lostCount = 0;
    this.lostFrom = undefined;
    this.lostTo = undefined;
  }

  /** What the board can apply, asked before any property of a cloud set changes (all or nothing). */
  canSet(identifier: string): true | string {
    if (identifier === "led" && this.cfg.led === undefined) return "no LED on this board (config led)";
    return true;
  }

  /** Applies one property of a cloud set; its value already fits the thing model (onenet/model.ts). */
  onSet(identifier: string, value: unknown): boolean | string {
    if (identifier === "interval" && typeof value === "number") {
      this.setInterval(value);
      this.scheduleState();
      return true;
    }
    if (identifier === "led" && typeof value === "boolean") {
      if (!this.led.set(value)) return "no LED on this board (config led)";
      this.scheduleState();
      return true;
    }
    return `${identifier} is not writable`;
  }

  onGet(identifier: string): unknown {
    if (identifier === "interval") return this.interval;
    if (identifier === "led") return this.cfg.led === undefined ? undefined : this.led.lit;
    return undefined;
  }

  setInterval(seconds: number): void {
    if (seconds === this.interval) return;
    this.log.info("app", "report interval changed", { seconds, was: this.interval });
    this.interval = seconds;
    Timer.schedule(this.reportTimer, seconds * 1000, seconds * 1000);
    // Written once the value has held for SAVE_AFTER (a pending write is pushed back, never doubled).
    if (this.saveTimer !== undefined) Timer.clear(this.saveTimer);
    this.saveTimer = Timer.set(this.#onSaveTimer, SAVE_AFTER);
  }

  saveSettings(): void {
    const saved = saveInterval(this.interval, this.cfg.interval, this.log);
    if (saved) this.log.info("settings", "interval saved", { seconds: this.interval });
    else this.alarm(ALARM.settingsNotSaved, "interval not saved: flash refused the write");
  }

  /** Reports the writable properties on the next turn; any number of sets before then make one post. */
  scheduleState(): void {
    if (this.statePending) return;
    this.statePending = true;
    Timer.set(this.#onStateTimer, 0);
  }

  reportState(): void {
    this.statePending = false;
    const s = this.state;
    s.interval = this.interval;
    s.led = this.cfg.led === undefined ? undefined : this.led.lit;
    try {
      this.onenet.report(s);
    } catch (e) {
      this.log.warn("app", "state report not queued", { error: describe(e) });
    }
  }

  alarm(code: number, msg: string): void {
    try {
      this.onenet.postEvent("alarm", { code, msg: msg.length > 64 ? msg.slice(0, 64) : msg });
    } catch (e) {
      this.log.warn("app", "alarm not queued", { code, error: describe(e) });
    }
  }

  report(): void {
    const r = this.readings;
    if (this.sensors) this.sensors.read(r);
    this.board.read(r);
    this.checkSensors(r);
    const uplink = this.uplink;
    if (uplink !== undefined) {
      this.storeReading(r, uplink);
      return;
    }
    let id: string;
    try {
      id = this.onenet.report(r);
    } catch (e) {
      this.dropped++;
      this.log.warn("app", "report not queued", { error: describe(e), dropped: this.dropped });
      return;
    }
    this.reports++;
    if (this.log.enabled("INFO")) this.log.info("app", reportLine(id, r) + " online=" + this.onenet.online + " queued=" + this.onenet.device.queued + " outbox=" + this.onenet.mqtt.outbox.length);
  }

  /** The reading goes to the readings log; the uplink posts it live when online and drains the backlog. */
  storeReading(r: Readings, uplink: Uplink): void {
    const now = this.uptime.now();
    const wall = Date.now();
    const epoch = epochKnown(wall) ? wall : undefined;
    if (epoch !== undefined && !this.clockStored) {
      this.clockStored = true;
      this.ring!.setClock(now, epoch);
    }
    r.backlog = uplink.waiting;
    const id = uplink.reading(r, now, epoch);
    this.reports++;
    this.checkLost();
    if (this.log.enabled("INFO")) this.log.info("app", reportLine(id, r) + " online=" + this.onenet.online + " backlog=" + uplink.waiting);
  }

  /** Raises `alarm` when sensor properties go missing, and again when they come back. */
  checkSensors(r: Readings): void {
    let bits = 0;
    for (let i = 0; i < SENSOR_PROPERTIES.length; i++) if (r[SENSOR_PROPERTIES[i]] !== undefined) bits |= 1 << i;
    // Nothing came or went and nothing is missing: the common report, decided without the call.
    if (bits === this.sensorBits && this.lostBits === 0) return;
    const change = sensorChange(this.sensorBits, bits, this.lostBits);
    this.sensorBits = bits;
    this.lostBits = change.lost;
    if (change.code !== 0) this.alarm(change.code, change.msg);
  }

  status(): void {
    if (this.wifi.up && !epochKnown(Date.now())) this.syncTime();
    const s = this.onenet.device.stats;
    const ring = this.ring;
    const oldest = ring?.oldestTime();
    this.log.info("app", "status", {
      backlog: ring?.pending, oldest: oldest === undefined ? undefined : Math.floor((Date.now() - oldest) / 1000), capacity: ring?.stats.capacity,
      wifi: this.wifi.status, mqtt: this.onenet.mqtt.connected ? "connected" : "down", reports: this.reports,
      sent: s.sent, replies: s.replies, refused: s.refusedByPlatform, missing: s.missingReplies,
      queued: this.onenet.device.queued, outbox: this.onenet.mqtt.outbox.length, interval: this.interval,
      uptime: Math.floor(this.log.uptime() / 1000),
    });
  }
}

/**
 * The report line's message, `report id=… temp=… humi=… press=… rssi=… heap=… uptime=…`, as
 * `log.info` would print these as fields (absent values left out), built by concatenation: it is the
 * one line written every interval, and on XS the generic field formatter (a for-in over an object
 * made for the call, a secret-name check and a quoting check per field) cost ~1,500 computrons of the
 * report's ~23,000 where this costs ~100. Every value is a number, a boolean or our own decimal id:
 * nothing from outside, so nothing to quote or strip (secrets are still blanked by the logger).
 */
function reportLine(id: string, r: Readings): string {
  return "report" + (id === "" ? "" : " id=" + id) + (r.temp === undefined ? "" : " temp=" + r.temp) + (r.humi === undefined ? "" : " humi=" + r.humi) +
    (r.press === undefined ? "" : " press=" + r.press) + (r.rssi === undefined ? "" : " rssi=" + r.rssi) + (r.heap === undefined ? "" : " heap=" + r.heap) +
    (r.uptime === undefined ? "" : " uptime=" + r.uptime);
}

/** `2026-01-01T10:20` (UTC): an alarm's msg holds at most 64 characters. */
function isoMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}
