// Board data reported next to the sensor readings: `rssi` (dBm, while Wi-Fi is up), `heap` (free
// bytes from the SDK's instrumentation, "System Free Memory"; only debug and instrumented builds
// have it, a release build returns undefined and the property is omitted; the lin simulator answers 0,
// which no running board does, so 0 is omitted too) and `uptime` (s since the firmware started:
// counted from the ticks at construction, because Time.ticks counts from boot on the ESP32 but from
// the epoch on the lin simulator).
import Instrumentation from "instrumentation";
import Time from "time";

export interface BoardReadings {
  rssi?: number;
  heap?: number;
  uptime?: number;
}

/** Anything that knows the current RSSI (drivers/wifi.ts's manager does). */
export interface RssiSource {
  readonly rssi: number | undefined;
}

export default class Board {
  readonly #wifi: RssiSource | undefined;
  readonly #heapId: number | undefined;
  readonly #startTicks: number;

  constructor(wifi?: RssiSource, startTicks: number = Time.ticks) {
    this.#wifi = wifi;
    this.#startTicks = startTicks;
    this.#heapId = Instrumentation.map("System Free Memory");
  }

  read(into: BoardReadings = {}): BoardReadings {
    const rssi = this.#wifi?.rssi;
    if (typeof rssi === "number" && rssi >= -127 && rssi <= 0) into.rssi = Math.round(rssi);
    else delete into.rssi;
    const heap = this.#heapId === undefined ? undefined : Instrumentation.get(this.#heapId);
    if (typeof heap === "number" && heap > 0) into.heap = Math.floor(heap);
    else delete into.heap;
    into.uptime = Math.floor((Time.ticks - this.#startTicks) / 1000);
    return into;
  }
}
