// Wi-Fi connection manager over Moddable's `wifi` and `net` modules: joins the configured network,
// retries with exponential backoff (with jitter) when a join fails or the link drops, survives
// "lostIP" and "disconnect", and tells the app when the network goes up and down, so the MQTT client
// can wait while it is down and resume on gotIP. Exposes IP and RSSI.
//
// Events from the `wifi` module (modules/network/wifi/esp32/xs6wifi.c): "connect" (associated),
// "gotIP", "lostIP" (ports that report it), "disconnect" with a reason (-1: password rejected).
// The ESP32 port retries a join a few times by itself and then stays down; nothing rejoins after an
// access point vanishes. That is this manager's job.
//
// On the board the manifest includes the `wifi` module and removes the SDK's setup/network (which
// would join once, without retry, before main runs); see docs/moddable.md.
import WiFi from "wifi";
import Net from "net";
import Timer from "timer";
import { SILENT, type Logger } from "../lib/log";
import { Backoff, hash32 } from "../lib/backoff";

export type WiFiStatus = "stopped" | "connecting" | "associated" | "up" | "waiting";
export type WiFiListener = (up: boolean) => void;

export interface WiFiManagerOptions {
  /** Where the driver logs (default: nowhere). */
  log?: Logger;
  ssid: string;
  /** Absent or empty for an open network. Never logged. */
  password?: string;
  /** First retry delay in ms (default 1000); doubles per failed attempt up to `maxBackoff`. */
  minBackoff?: number;
  /** Longest retry delay in ms (default 60000). */
  maxBackoff?: number;
  /** An attempt that has not reached gotIP after this many ms is abandoned (default 20000). */
  attemptTimeout?: number;
  /** Jitter fraction applied to each delay, 0..0.5 (default 0.2): delay * (1 ± jitter). */
  jitter?: number;
  /**
   * Seed of the jitter's generator, for reproducible runs. Default: this device's own, from its MAC
   * and Math.random, so a fleet that lost the same access point does not retry in step.
   */
  seed?: number;
  onChange?: WiFiListener;
}

const enum Pending {
  None,
  Retry,
  Timeout,
}

export default class WiFiManager {
  readonly ssid: string;
  readonly #password: string | undefined;
  readonly #backoff: Backoff;
  readonly #attemptTimeout: number;
  readonly #listeners: WiFiListener[] = [];
  #wifi: WiFi | undefined;
  #status: WiFiStatus = "stopped";
  #timer: Timer | undefined;
  #pending = Pending.None;
  #random: number;
  #attempts = 0;
  #downs = 0;
  #lastDelay = 0;
  readonly #log: Logger;
  readonly #onTimer = () => this.#fire();
  readonly #onEvent = (message: string, value?: number) => this.#event(message, value);

  constructor(options: WiFiManagerOptions) {
    if (typeof options?.ssid !== "string" || options.ssid.length === 0) throw new TypeError("wifi: ssid is required");
    this.ssid = options.ssid;
    this.#log = options.log ?? SILENT;
    this.#password = options.password ? options.password : undefined;
    const minBackoff = positive("minBackoff", options.minBackoff, 1000);
    const maxBackoff = Math.max(minBackoff, positive("maxBackoff", options.maxBackoff, 60_000));
    this.#attemptTimeout = positive("attemptTimeout", options.attemptTimeout, 20_000);
    const jitter = options.jitter ?? 0.2;
    if (!(jitter >= 0 && jitter <= 0.5)) throw new RangeError("wifi: jitter must be within 0..0.5");
    this.#backoff = new Backoff({ min: minBackoff, max: maxBackoff, low: 1 - jitter, high: 1 + jitter, random: () => this.#next() });
    this.#random = (options.seed ?? deviceSeed()) >>> 0 || 1;
    if (options.onChange) this.#listeners.push(options.onChange);
  }

  /** True while the station has an IP address. */
  get up(): boolean {
    return this.#status === "up";
  }

  get status(): WiFiStatus {
    return this.#status;
  }

  /** The station's IP address while up. */
  get ip(): string | undefined {
    return this.#status === "up" ? (Net.get("IP") as string | undefined) : undefined;
  }

  /** Received signal strength in dBm while up. */
  get rssi(): number | undefined {
    if (this.#status !== "up") return undefined;
    const rssi = Net.get("RSSI") as number | undefined;
    return typeof rssi === "number" && rssi < 0 ? rssi : undefined;
  }

  /** Join attempts made since start. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Times the network went from up to down. */
  get downs(): number {
    return this.#downs;
  }

  /** The delay chosen before the latest retry, in ms (diagnostics and tests). */
  get lastRetryDelay(): number {
    return this.#lastDelay;
  }

  addListener(listener: WiFiListener): void {
    if (this.#listeners.indexOf(listener) < 0) this.#listeners.push(listener);
  }

  start(): void {
    if (this.#status !== "stopped") return;
    this.#wifi = new WiFi(undefined, this.#onEvent);
    this.#backoff.reset();
    this.#attempt();
  }

  stop(): void {
    if (this.#status === "stopped") return;
    const wasUp = this.#status === "up";
    this.#status = "stopped";
    this.#cancel();
    this.#wifi?.close();
    this.#wifi = undefined;
    WiFi.disconnect();
    this.#log.log("INFO", "wifi", "stopped");
    if (wasUp) this.#tell(false);
  }

  #attempt(): void {
    this.#attempts++;
    this.#status = "connecting";
    this.#log.log("INFO", "wifi", "connecting", { ssid: this.ssid, attempt: this.#attempts });
    this.#arm(Pending.Timeout, this.#attemptTimeout);
    try {
      WiFi.connect(this.#password === undefined ? { ssid: this.ssid } : { ssid: this.ssid, password: this.#password });
    } catch (error) {
      this.#log.log("WARN", "wifi", "connect refused", { error: error instanceof Error ? error.message : String(error) });
      this.#retry();
    }
  }

  #event(message: string, value?: number): void {
    const status = this.#status;
    if (status === "stopped") return;
    switch (message) {
      case "connect":
        if (status === "connecting") {
          this.#status = "associated";
          this.#log.log("INFO", "wifi", "associated", { ssid: this.ssid });
        }
        break;
      case "gotIP":
        if (status === "up") break;
        this.#cancel();
        this.#status = "up";
        this.#backoff.reset();
        this.#log.log("INFO", "wifi", "up", { ip: Net.get("IP") as string | undefined, rssi: Net.get("RSSI") as number | undefined });
        this.#tell(true);
        break;
      case "lostIP":
        if (status !== "up") break;
        this.#status = "associated";
        this.#downs++;
        this.#log.log("WARN", "wifi", "lost IP address");
        // Still associated: give DHCP a chance to renew before forcing a rejoin.
        this.#arm(Pending.Timeout, this.#attemptTimeout);
        this.#tell(false);
        break;
      case "disconnect":
        if (status === "waiting") break; // the end of a link we dropped ourselves
        if (value === -1) this.#log.log("WARN", "wifi", "password rejected", { ssid: this.ssid });
        else this.#log.log("WARN", "wifi", status === "up" ? "disconnected" : "join failed", { ssid: this.ssid, reason: value });
        if (status === "up") {
          this.#downs++;
          this.#retry();
          this.#tell(false);
        } else this.#retry();
        break;
      default:
        // "start", "init", "station_connect", "station_disconnect": nothing to do for a station.
        break;
    }
  }

  #fire(): void {
    const pending = this.#pending;
    this.#pending = Pending.None;
    this.#timer = undefined;
    if (pending === Pending.Retry) this.#attempt();
    else if (pending === Pending.Timeout) {
      this.#log.log("WARN", "wifi", "attempt timed out", { ssid: this.ssid, status: this.#status });
      this.#retry();
      WiFi.disconnect();
    }
  }

  /** Schedules the next attempt after the backoff delay. */
  #retry(): void {
    this.#status = "waiting";
    const delay = this.#backoff.next();
    this.#lastDelay = delay;
    this.#log.log("INFO", "wifi", "retry scheduled", { in_ms: delay });
    this.#arm(Pending.Retry, delay);
  }

  #arm(pending: Pending, ms: number): void {
    Timer.clear(this.#timer);
    this.#pending = pending;
    this.#timer = Timer.set(this.#onTimer, ms);
  }

  #cancel(): void {
    Timer.clear(this.#timer);
    this.#timer = undefined;
    this.#pending = Pending.None;
  }

  #tell(up: boolean): void {
    const listeners = this.#listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i](up);
      } catch (error) {
        this.#log.log("WARN", "wifi", "listener failed", { error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  /** xorshift32 in [0, 1). */
  #next(): number {
    let x = this.#random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#random = x >>> 0;
    return this.#random / 4294967296;
  }
}

/**
 * A seed no other device shares: the MAC tells devices apart even if their random generators started
 * alike, and Math.random (on the ESP32 Moddable's XS draws it from the hardware generator) tells
 * boots apart.
 */
function deviceSeed(): number {
  const mac = Net.get("MAC");
  return (hash32(typeof mac === "string" ? mac : "") ^ Math.floor(Math.random() * 4294967296)) >>> 0;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) throw new RangeError(`wifi: ${name} must be a positive number of ms`);
  return value;
}
