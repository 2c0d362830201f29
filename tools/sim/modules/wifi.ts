// Moddable `wifi` for the simulators: a station joining the simulated access point
// (sim/devices/access-point.ts), with the event behaviour of the ESP32 port
// (modules/network/wifi/esp32/xs6wifi.c):
// - new WiFi(dictionary?, onNotify?) connects when given a dictionary; every instance with a callback
//   hears every event; close() stops an instance's notifications;
// - WiFi.connect({ssid, password}) joins: "connect" after association, "gotIP" after DHCP;
//   a wrong password ends with "disconnect" and value -1, an absent AP with "disconnect" (0) after the
//   join timeout; connecting while connected first disconnects;
// - WiFi.disconnect() (= WiFi.connect()) leaves, with a "disconnect" event;
// - losing the AP gives "disconnect" after the beacon-loss delay; the station does NOT rejoin by
//   itself (the ESP32 port retries only during a connect), so the app must call connect again;
// - a lost DHCP lease gives "lostIP" and, once renewed, "gotIP" again (what the ESP8266 port reports;
//   a manager must survive it).
// Every event is also emitted to the host as ("wifi", message). Written like firmware.
import Timer from "./timer.ts";
import { host } from "../host.ts";
import { world } from "../devices/world.ts";
import type { SimAccessPoint } from "../devices/access-point.ts";

export type WiFiMessage = "connect" | "gotIP" | "lostIP" | "disconnect" | "station_connect" | "station_disconnect";
export type WiFiCallback = (message: WiFiMessage, value?: number) => void;
export interface WiFiOptions {
  ssid: string;
  password?: string;
  bssid?: ArrayBuffer;
  channel?: number;
}

type StationState = "idle" | "joining" | "associated" | "ip";

let mode = 0;
let state: StationState = "idle";
let wanted: WiFiOptions | undefined;
let step: Timer | undefined;
let listened: SimAccessPoint | undefined;
const instances: WiFi[] = [];

/** The station's state, for the `net` shim. */
export function stationState(): StationState {
  return state;
}

function ap(): SimAccessPoint {
  const a = world().accessPoint;
  if (listened !== a) {
    // A new world (a test installed one): start from an idle radio next to its access point.
    listened?.listen(undefined);
    listened = a;
    a.listen({ availability: onAvailability, leaseLost: onLeaseLost });
    cancel();
    state = "idle";
    wanted = undefined;
  }
  return a;
}

function notify(message: WiFiMessage, value?: number): void {
  host().emit("wifi", value === undefined ? message : `${message} ${value}`);
  for (const instance of instances.slice()) instance.deliver(message, value);
}

function later(ms: number, then: () => void): void {
  Timer.clear(step);
  step = Timer.set(() => {
    step = undefined;
    then();
  }, ms);
}

function cancel(): void {
  Timer.clear(step);
  step = undefined;
}

function fail(reason: number): void {
  state = "idle";
  notify("disconnect", reason);
}

function join(): void {
  const a = ap();
  const options = wanted;
  if (!options) return;
  state = "joining";
  const verdict = a.admits(options.ssid, options.password);
  if (verdict === "no-ap") {
    later(a.joinTimeoutMs, () => fail(0));
    return;
  }
  later(a.associateMs, () => {
    const now = a.admits(options.ssid, options.password);
    if (now === "bad-password") return fail(-1);
    if (now === "no-ap") return later(a.joinTimeoutMs, () => fail(0));
    state = "associated";
    notify("connect");
    later(a.dhcpMs, acquire);
  });
}

function acquire(): void {
  if (state !== "associated") return;
  if (!ap().up) return; // beacon loss will end the association
  state = "ip";
  notify("gotIP");
}

function onAvailability(up: boolean): void {
  if (up) return;
  if (state !== "associated" && state !== "ip") return;
  const a = ap();
  later(a.beaconLossMs, () => {
    if (!a.up) return fail(0);
    // Back before the beacons were missed for long: the association survives.
    if (state === "associated") later(a.dhcpMs, acquire);
  });
}

function onLeaseLost(): void {
  if (state !== "ip") return;
  state = "associated";
  notify("lostIP");
  later(2 * ap().dhcpMs, acquire);
}

export default class WiFi {
  #callback: WiFiCallback | undefined;

  constructor(dictionary?: WiFiOptions, onNotify?: WiFiCallback) {
    if (onNotify) this.onNotify = onNotify;
    if (dictionary) WiFi.connect(dictionary);
  }

  set onNotify(callback: WiFiCallback | undefined) {
    this.#callback = callback;
    const i = instances.indexOf(this);
    if (callback && i < 0) instances.push(this);
    else if (!callback && i >= 0) instances.splice(i, 1);
  }

  close(): void {
    this.onNotify = undefined;
  }

  /** @internal */
  deliver(message: WiFiMessage, value?: number): void {
    const callback = this.#callback;
    if (!callback) return;
    if (value === undefined) callback.call(this, message);
    else callback.call(this, message, value);
  }

  static get mode(): number {
    return mode;
  }

  static set mode(value: number) {
    if (value !== -5 && value !== 0 && value !== 1 && value !== 2 && value !== 3) throw new Error("invalid wi-fi mode");
    mode = value;
  }

  static scan(_options: { hidden?: boolean; channel?: number }, callback: (item: object | null) => void): void {
    if (mode === 2) throw new Error("can't scan in WIFI_MODE_AP");
    const a = ap();
    Timer.set(() => {
      if (a.up) callback({ ssid: a.ssid, rssi: a.rssiAt(host().ticks()), channel: a.channel, hidden: false, authentication: a.password === undefined ? "none" : "wpa2_psk" });
      callback(null);
    }, 1500);
  }

  static connect(dictionary?: WiFiOptions): void {
    ap();
    if (state === "associated" || state === "ip") {
      cancel();
      state = "idle";
      notify("disconnect", 0);
    } else if (state === "joining") {
      cancel();
      state = "idle";
    }
    if (!dictionary) {
      wanted = undefined;
      return;
    }
    const ssid = dictionary.ssid;
    if (!ssid) throw new Error("ssid required");
    if (utf8Length(ssid) > 32) throw new Error("ssid too long - 32 bytes max");
    if (dictionary.password !== undefined && utf8Length(dictionary.password) > 64) throw new Error("password too long - 64 bytes max");
    if (dictionary.channel !== undefined && (dictionary.channel < 1 || dictionary.channel > 13)) throw new Error("invalid channel");
    if (mode !== 1 && mode !== 3) mode = 1;
    wanted = { ssid, password: dictionary.password };
    join();
  }

  static disconnect(): void {
    WiFi.connect();
  }

  static accessPoint(_options: { ssid: string; password?: string }): void {
    throw new Error("sim: access-point mode is not simulated");
  }

  static close(): void {
    throw new Error("use WiFi.disconnect()");
  }

  static readonly Mode = Object.freeze({ off: -5, none: 0, station: 1, accessPoint: 2 } as const);
  static readonly gotIP = "gotIP";
  static readonly lostIP = "lostIP";
  static readonly connected = "connect";
  static readonly disconnected = "disconnect";
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? (i++, 4) : 3;
  }
  return n;
}
