// The simulated board's surroundings: one I2C bus with sensor chips on the configured pins, the
// scripted environment they measure, and the Wi-Fi access point. Built lazily from the lane's host
// (clock and configuration) on first use; the module shims (sim/modules/embedded/io/i2c.ts,
// sim/modules/wifi.ts, sim/modules/net.ts) and the named controls reach it through `world()`.
//
// Simulator-only configuration keys (next to the firmware's own `sda`, `scl`, `ssid`, `password`):
//   sensors=aht20,bmp280   chips on the bus (default), e.g. "sht3x", "sht3x@0x45,bmp280@0x77", "none"
//   seed=N                 environment seed (default 1)
//   aht20_uncalibrated=1   the AHT20 powers up with its calibration bit clear (exercises the init path)
//
// Named controls (host-side tests: runControl(name, arg)):
//   "wifi.ap"        down | up | rssi N | lose-ip | reject-password on|off | password X|none | status
//   "env"            temperature N | humidity N | pressure N | release [name] | status
//   "sensor.aht20", "sensor.sht3x", "sensor.bmp280" (also "sensor.sht3x@45", "sensor.bmp280@77")
//                    nack | bad-crc [n] | stuck-busy | unplug | plug | clear | status
import { control, host } from "../host.ts";
import { AHT20Model } from "./aht20.ts";
import { BMP280Model } from "./bmp280.ts";
import { SHT3xModel } from "./sht3x.ts";
import { Environment, type Conditions } from "./environment.ts";
import { SimI2CBus, type SimChip } from "./i2c-bus.ts";
import { SimAccessPoint } from "./access-point.ts";

/** ESP32 DevKit default I2C pins (the SDK's esp32 board default: SDA 21, SCL 22). */
export const DEFAULT_SDA = 21;
export const DEFAULT_SCL = 22;

export interface WorldOptions {
  ticks: () => number;
  epoch: () => number;
  sda?: number;
  scl?: number;
  /** Comma-separated chip list, as the `sensors` key. */
  sensors?: string;
  seed?: number;
  ssid?: string;
  password?: string;
  aht20Uncalibrated?: boolean;
}

export class World {
  readonly environment: Environment;
  readonly accessPoint: SimAccessPoint;
  readonly bus: SimI2CBus;
  readonly chips = new Map<string, SimChip>();
  readonly ticks: () => number;
  readonly epoch: () => number;
  readonly #emptyBuses = new Map<string, SimI2CBus>();
  readonly #conditions: Conditions = { temperature: 0, humidity: 0, pressure: 0 };

  constructor(options: WorldOptions) {
    this.ticks = options.ticks;
    this.epoch = options.epoch;
    this.environment = new Environment({ seed: options.seed ?? 1 });
    this.accessPoint = new SimAccessPoint({ ssid: options.ssid ?? "sim-ap", password: options.password });
    this.bus = new SimI2CBus(options.sda ?? DEFAULT_SDA, options.scl ?? DEFAULT_SCL);
    const conditions = () => this.environment.at(this.epoch(), this.#conditions);
    const list = (options.sensors ?? "aht20,bmp280").toLowerCase();
    for (const item of list.split(",")) {
      const spec = item.trim();
      if (spec === "" || spec === "none") continue;
      const [kind, at] = spec.split("@");
      const address = at === undefined ? undefined : Number(at.startsWith("0x") ? parseInt(at.slice(2), 16) : at);
      let chip: SimChip;
      let addr: number;
      if (kind === "aht20") {
        addr = address ?? 0x38;
        chip = new AHT20Model(this.ticks, conditions, { calibratedAtPowerOn: !options.aht20Uncalibrated });
      } else if (kind === "sht3x" || kind === "sht30" || kind === "sht31") {
        addr = address ?? 0x44;
        chip = new SHT3xModel(this.ticks, conditions, addr);
      } else if (kind === "bmp280") {
        addr = address ?? 0x76;
        chip = new BMP280Model(this.ticks, conditions, { address: addr });
      } else {
        throw new RangeError(`sim: unknown sensor "${spec}" in sensors= (aht20, sht3x, bmp280, optionally @address)`);
      }
      this.bus.attach(addr, chip);
      this.chips.set(chip.name, chip);
    }
  }

  /** The bus on the given pins: the sensor bus, or an empty bus where nothing answers. */
  busOn(data: number, clock: number): SimI2CBus {
    if (data === this.bus.data && clock === this.bus.clock) return this.bus;
    const key = `${data}/${clock}`;
    let bus = this.#emptyBuses.get(key);
    if (!bus) this.#emptyBuses.set(key, (bus = new SimI2CBus(data, clock)));
    return bus;
  }

  chip(name: string): SimChip {
    const chip = this.chips.get(name);
    if (!chip) throw new RangeError(`sim: no ${name} on the simulated bus (sensors=${[...this.chips.keys()].join(",") || "none"})`);
    return chip;
  }
}

let current: World | undefined;

function numberOr(value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  return Number.isFinite(n) ? n : fallback;
}

/** The lane's world, built from the host on first use. */
export function world(): World {
  if (current === undefined) {
    const h = host();
    const config = h.config();
    current = new World({
      ticks: () => h.ticks(),
      epoch: () => h.epoch(),
      sda: numberOr(config.sda, DEFAULT_SDA),
      scl: numberOr(config.scl, DEFAULT_SCL),
      sensors: config.sensors,
      seed: numberOr(config.seed, 1),
      ssid: config.ssid,
      password: config.password,
      aht20Uncalibrated: config.aht20_uncalibrated === "1" || config.aht20_uncalibrated === "true",
    });
  }
  return current;
}

/** Installs a specific world (tests), or forgets the current one so the next use rebuilds it. */
export function setWorld(next: World | undefined): void {
  current = next;
}

control("wifi.ap", (arg) => world().accessPoint.command(arg));
control("env", (arg) => {
  const w = world();
  return w.environment.command(arg, w.epoch());
});
for (const name of ["aht20", "sht3x", "sht3x@45", "bmp280", "bmp280@77"]) {
  control(`sensor.${name}`, (arg) => world().chip(name).command(arg));
}
