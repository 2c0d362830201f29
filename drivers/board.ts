// Board data reported next to the sensor readings, each only when the platform really has it (the
// thing model marks them optional; a made-up figure would be worse than none):
// - `rssi` (dBm) from the Wi-Fi manager, i.e. Net.get("RSSI"), while Wi-Fi is up. The SDK's lin
//   simulator has no RSSI (its Net.get answers "IP" only: modules/network/net/lin/modNet.c), so there
//   the property is omitted; the mac simulator answers with the host Mac's own Wi-Fi RSSI.
// - `heap`: free bytes, the SDK instrumentation's "System Free Memory" (heap_caps_get_free_size on the
//   ESP32). Only instrumented builds (debug, or -i) have instrumentation; a release build answers
//   undefined. The desktop simulators register no source for it (build/simulators/modules/screen.c
//   sets the XS heap figures only), so it reads 0, which no running board does: 0 is omitted too.
// - `uptime` (s since the firmware started): from the app's Uptime clock (lib/time.ts), because
//   Time.ticks on the ESP32 turns negative after 24.8 days and wraps after 49.7, and counts from the
//   epoch on the lin simulator.
import Instrumentation from "instrumentation";
import Time from "time";
import { Uptime } from "../lib/time";

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
  readonly #uptime: Uptime;

  constructor(wifi?: RssiSource, uptime: Uptime = new Uptime(() => Time.ticks)) {
    this.#wifi = wifi;
    this.#uptime = uptime;
    this.#heapId = Instrumentation.map("System Free Memory");
  }

  read(into: BoardReadings = {}): BoardReadings {
    const rssi = this.#wifi?.rssi;
    if (typeof rssi === "number" && rssi >= -127 && rssi <= 0) into.rssi = Math.round(rssi);
    else delete into.rssi;
    const heap = this.#heapId === undefined ? undefined : Instrumentation.get(this.#heapId);
    if (typeof heap === "number" && heap > 0) into.heap = Math.floor(heap);
    else delete into.heap;
    into.uptime = Math.floor(this.#uptime.now() / 1000);
    return into;
  }
}
