// What the platform knows about its devices: who is registered (and with which keys), each device's
// state as the console shows it, the device log, and the event stream. The gate and the platform
// responder both write here; neither knows the other.
import { EventEmitter } from "node:events";
import { realClock, type Clock } from "./clock.ts";
import { newDeviceOta, type DeviceOta, type DeviceEntry, type DeviceLogLine, type EmulatorEvent, type EmulatorOptions, type PropertyValue, type SetResult, type ThingEventRecord } from "./types.ts";

const DEVICE_LOG_LIMIT = 100;

/** A device's live connection, as the platform side needs it. */
export interface Link {
  /** The topic filters the device has subscribed, in order. */
  readonly subscriptions: ReadonlySet<string>;
  /** Would a downlink on this topic reach the device (does one of its filters match)? */
  subscribed(topic: string): boolean;
  label(): string;
  close(hard?: boolean): void;
}

export interface Pending {
  kind: "set" | "get";
  params: unknown;
  resolve: (r: SetResult) => void;
  timer: unknown;
}

export interface DeviceState {
  entry: DeviceEntry;
  prefix: string;
  online: boolean;
  since: number;
  link: Link | undefined;
  /** When the device's last PUBLISH was passed on (for the 1 message/s pacing). */
  lastUplinkAt: number;
  latest: Map<string, PropertyValue>;
  history: Map<string, [number, number][]>;
  log: DeviceLogLine[];
  pending: Map<string, Pending>;
  posts: number[];
  /** Ids of the last 200 accepted property posts, to point out resends. */
  postIds: string[];
  events: ThingEventRecord[];
  /** OTA: the version it reported, its steps for the current task, the notices sent (ota.ts). */
  ota: DeviceOta;
}

export class Registry {
  readonly devices = new Map<string, DeviceState>();
  readonly productKeys = new Map<string, string>();
  readonly events = new EventEmitter();
  readonly clock: Clock;
  readonly #started = Date.now();
  readonly #logLine: (line: string) => void;

  constructor(options: EmulatorOptions) {
    this.clock = options.clock ?? realClock;
    this.#logLine = options.log ?? ((line) => console.log(line));
    this.events.setMaxListeners(0);
    for (const entry of options.devices) {
      if (!entry.product || !entry.device || !entry.key) throw new Error("emulator: each device needs product, device and key");
      const id = `${entry.product}/${entry.device}`;
      if (this.devices.has(id)) throw new Error(`emulator: device ${id} listed twice`);
      this.devices.set(id, {
        entry,
        prefix: `$sys/${entry.product}/${entry.device}/`,
        online: false,
        since: this.clock.now(),
        link: undefined,
        lastUplinkAt: -Infinity,
        latest: new Map(),
        history: new Map(),
        log: [],
        pending: new Map(),
        posts: [],
        postIds: [],
        events: [],
        ota: newDeviceOta(),
      });
    }
    for (const p of options.products ?? []) this.productKeys.set(p.product, p.key);
  }

  get(product: string, device: string): DeviceState | undefined {
    return this.devices.get(`${product}/${device}`);
  }

  /** The key a token's res level names, for token.ts's verifyToken. */
  keyFor(level: "device" | "product", product: string, device: string): string | undefined {
    return level === "device" ? this.get(product, device)?.entry.key : this.productKeys.get(product);
  }

  /** One line of the emulator's own log (stdout for `npm run emulator`). */
  log(level: "INFO" | "WARN", message: string, fields = ""): void {
    this.#logLine(`${Date.now() - this.#started} ${level} emulator: ${message}${fields ? " " + fields : ""}`);
  }

  /** One line of the device log, the platform's view that the console shows. */
  deviceLog(device: DeviceState | undefined, level: DeviceLogLine["level"], text: string, alsoStdout = false): void {
    if (!device) return;
    const line: DeviceLogLine = { time: this.clock.now(), level, text };
    device.log.push(line);
    if (device.log.length > DEVICE_LOG_LIMIT) device.log.shift();
    this.emit({ type: "log", product: device.entry.product, device: device.entry.device, line });
    if (alsoStdout) this.log(level === "warn" ? "WARN" : "INFO", text, `product=${device.entry.product} device=${device.entry.device}`);
  }

  emit(event: EmulatorEvent): void {
    this.events.emit("event", event);
  }

  /** The device came online on link (CONNACK 0 sent) or went offline (link undefined). */
  setLink(device: DeviceState, link: Link | undefined): void {
    device.link = link;
    device.online = link !== undefined;
    device.since = this.clock.now();
    this.log("INFO", link ? "device online" : "device offline", `product=${device.entry.product} device=${device.entry.device}`);
    this.emit({ type: "online", product: device.entry.product, device: device.entry.device, online: device.online, time: device.since });
    this.deviceLog(device, "info", link ? "online" : "offline");
  }

  subscriptionsChanged(device: DeviceState): void {
    this.emit({ type: "subscriptions", product: device.entry.product, device: device.entry.device, subscriptions: [...(device.link?.subscriptions ?? [])] });
  }
}
