// Sensor drivers against register-level chip models, the simulated I2C bus and the scripted
// environment; the desktop simulator's SimulatedSensor (platform/sim/sensor.ts); board data. The "sim:"
// suites pin the simulator pieces the driver cases stand on (the I2C shim, the environment).
// Portable: runs in Node (test/portable.test.ts) and inside XS (test/xs-lane.test.ts).
// Each case cites the datasheet statement it pins.
import { assert, suite } from "./harness";
import { host } from "../../tools/sim/host";
import { setWorld, World } from "../../tools/sim/devices/world";
import { Environment } from "../../tools/sim/devices/environment";
import type { I2CTarget } from "../../tools/sim/devices/i2c-bus";
import { crcOver } from "../../tools/sim/devices/i2c-bus";
import { AHT20Model, aht20Raw } from "../../tools/sim/devices/aht20";
import { SHT3xModel, sht3xRaw } from "../../tools/sim/devices/sht3x";
import { BMP280Model, DATASHEET_TRIMMING, bmp280Adc, compensatePInt64, compensateTInt32, trimmingBytes } from "../../tools/sim/devices/bmp280";
import I2C from "../../tools/sim/modules/embedded/io/i2c";
import { crc8, SensorError, type SensorFault } from "../../drivers/sensor";
import AHT20, { aht20Humidity, aht20Temperature } from "../../drivers/aht20";
import SHT3x, { sht3xHumidity, sht3xTemperature } from "../../drivers/sht3x";
import BMP280, { bmp280Compensate, bmp280ParseCalibration } from "../../drivers/bmp280";
import Sensors from "../../drivers/sensors";
import Board from "../../drivers/board";
import { Uptime } from "../../lib/time";
import SimulatedSensor from "../../platform/sim/sensor";
import { checkValue, DEFAULT_MODEL } from "../../onenet/model";
import { formatLine } from "../../lib/log";
import { logTo } from "./logger";

const SDA = 21;
const SCL = 22;

/** A fresh simulated board with the given chips, on the lane's clock. */
function board(sensors: string, extra: { aht20Uncalibrated?: boolean; seed?: number } = {}): World {
  const h = host();
  const w = new World({ ticks: () => h.ticks(), epoch: () => h.epoch(), sda: SDA, scl: SCL, sensors, seed: extra.seed ?? 7, aht20Uncalibrated: extra.aht20Uncalibrated });
  setWorld(w);
  return w;
}

const sensorOptions = (address?: number) => ({ sensor: { io: I2C, data: SDA, clock: SCL, address } });

function fails(run: () => unknown, fault: SensorFault): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof SensorError, `expected a SensorError(${fault}), got ${String(thrown)}`);
  assert.equal((thrown as SensorError).fault, fault);
}

function near(actual: number | undefined, expected: number, tolerance: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} not within ${tolerance} of ${expected}`);
}

const now = () => host().epoch();

suite("drivers: CRC-8 (Sensirion/Aosong)", (test) => {
  test("SHT3x datasheet 4.12: CRC-8 (poly 0x31, init 0xFF) of 0xBEEF is 0x92", () => {
    assert.equal(crc8(new Uint8Array([0xbe, 0xef]), 0, 2), 0x92);
    assert.equal(crcOver(new Uint8Array([0xbe, 0xef]), 0, 2), 0x92);
  });
  test("CRC-8 of no bytes is the initial value 0xFF; a one-bit change changes it", () => {
    assert.equal(crc8(new Uint8Array(0), 0, 0), 0xff);
    assert.ok(crc8(new Uint8Array([0xbe, 0xee]), 0, 2) !== 0x92);
  });
});

suite("drivers: conversions at the range ends", (test) => {
  test("AHT20 datasheet 6.1/6.2: raw 0 is 0 %RH and -50 °C", () => {
    assert.equal(aht20Humidity(0), 0);
    assert.equal(aht20Temperature(0), -50);
  });
  test("AHT20: raw 0xFFFFF is 99.9999 %RH and 149.9998 °C; 0x80000 is 50 %RH and 50 °C", () => {
    near(aht20Humidity(0xfffff), 100 * (1048575 / 1048576), 1e-12, "RH max");
    near(aht20Temperature(0xfffff), 200 * (1048575 / 1048576) - 50, 1e-12, "T max");
    assert.equal(aht20Humidity(0x80000), 50);
    assert.equal(aht20Temperature(0x80000), 50);
  });
  test("AHT20 model inverse round-trips through the driver's formulas within one code", () => {
    for (const [t, h] of [[-40, 0], [85, 100], [21.5, 47.25]]) {
      const { rawT, rawH } = aht20Raw(t, h);
      near(aht20Temperature(rawT), t, 200 / 1048576, "T");
      near(aht20Humidity(rawH), h, 100 / 1048576, "RH");
    }
  });
  test("SHT3x datasheet 4.13: raw 0 is -45 °C and 0 %RH, raw 0xFFFF is 130 °C and 100 %RH", () => {
    assert.equal(sht3xTemperature(0), -45);
    assert.equal(sht3xTemperature(0xffff), 130);
    assert.equal(sht3xHumidity(0), 0);
    assert.equal(sht3xHumidity(0xffff), 100);
    const { rawT, rawH } = sht3xRaw(25, 50);
    near(sht3xTemperature(rawT), 25, 175 / 65535, "T");
    near(sht3xHumidity(rawH), 50, 100 / 65535, "RH");
  });
});

suite("drivers: BMP280 compensation (datasheet 3.12 example)", (test) => {
  const cal = { ...DATASHEET_TRIMMING };
  test("double-precision formulas (8.1): adc_T 519888, adc_P 415148 give 25.08 °C and ~100653 Pa", () => {
    const r = bmp280Compensate(cal, 519888, 415148);
    assert.equal(r.temperature.toFixed(2), "25.08");
    assert.equal(r.tFine, 128422);
    near(r.pressure, 100653.27, 0.05, "pressure (datasheet: 100653.27 Pa)");
  });
  test("fixed-point formulas (3.11.3) in the chip model agree: 2508 (0.01 °C), ~100653 Pa", () => {
    const t = compensateTInt32(519888, cal);
    assert.equal(t.t100, 2508);
    assert.equal(t.tFine, 128422);
    near(compensatePInt64(415148, t.tFine, cal) / 256, 100653.27, 0.05, "pressure Q24.8 / 256");
  });
  test("trimming registers 0x88..0x9F parse back to the datasheet values (table 17, little-endian, T1/P1 unsigned)", () => {
    assert.deepEqual({ ...bmp280ParseCalibration(trimmingBytes(cal)) }, { ...cal });
  });
  test("the model's inverse compensation lands within 0.01 °C and 1 Pa across the operating range", () => {
    for (const t of [-40, -10, 0, 25.08, 60, 85]) {
      for (const p of [30000, 70000, 100653.27, 110000]) {
        const { adcT, adcP } = bmp280Adc(t, p, cal);
        const r = bmp280Compensate(cal, adcT, adcP);
        near(r.temperature, t, 0.011, `T at ${t} °C`);
        near(r.pressure, p, 1, `P at ${t} °C, ${p} Pa`);
      }
    }
  });
});

suite("sim: embedded:io/i2c shim (Moddable esp32 semantics)", (test) => {
  test("a zero-length write probes: undefined when acknowledged, 1 when not", () => {
    board("aht20");
    const present = new I2C({ data: SDA, clock: SCL, hz: 100_000, address: 0x38 });
    const absent = new I2C({ data: SDA, clock: SCL, hz: 100_000, address: 0x39 });
    try {
      assert.equal(present.write(new Uint8Array(0)), undefined);
      assert.equal(absent.write(new Uint8Array(0)), 1);
    } finally {
      present.close();
      absent.close();
    }
  });
  test("non-empty writes and reads to an absent address throw; read(buffer) fills it and returns the byte count", () => {
    board("aht20");
    const absent = new I2C({ data: SDA, clock: SCL, hz: 100_000, address: 0x40 });
    const present = new I2C({ data: SDA, clock: SCL, hz: 100_000, address: 0x38 });
    try {
      assert.throws(() => absent.write(new Uint8Array([1])), Error, /write failed/);
      assert.throws(() => absent.read(1), Error, /read failed/);
      const buffer = new Uint8Array(1);
      assert.equal(present.read(buffer), 1);
      assert.equal(buffer[0] & 0x08, 0x08);
      assert.equal(present.read(3).byteLength, 3);
    } finally {
      absent.close();
      present.close();
    }
  });
  test("constructor: RangeError for a duplicate address, an invalid address or hz; other pins are an empty bus", () => {
    board("aht20");
    const a = new I2C({ data: SDA, clock: SCL, hz: 100_000, address: 0x38 });
    try {
      assert.throws(() => new I2C({ data: SDA, clock: SCL, hz: 100_000, address: 0x38 }), RangeError, /duplicate address/);
      assert.throws(() => new I2C({ data: SDA, clock: SCL, hz: 100_000, address: 128 }), RangeError, /invalid address/);
      assert.throws(() => new I2C({ data: SDA, clock: SCL, hz: 0, address: 0x10 }), RangeError, /invalid hz/);
      const other = new I2C({ data: 4, clock: 5, hz: 100_000, address: 0x38 });
      assert.equal(other.write(new Uint8Array(0)), 1);
      other.close();
    } finally {
      a.close();
    }
    const again = new I2C({ data: SDA, clock: SCL, hz: 100_000, address: 0x38 });
    again.close();
    assert.throws(() => again.read(1), Error, /closed/);
  });
});

suite("drivers: AHT20 (our driver, register-level model)", (test) => {
  test("5.4: sample after trigger + 80 ms matches the environment within the 20-bit resolution", () => {
    const w = board("aht20");
    const sensor = new AHT20(sensorOptions());
    try {
      const s = sensor.sample();
      const c = w.environment.at(now());
      near(s.thermometer?.temperature, c.temperature, 0.001, "temperature");
      near(s.hygrometer?.humidity, c.humidity, 0.001, "humidity");
    } finally {
      sensor.close();
    }
  });
  test("5.4 step 1: a part powering up with the calibration bit clear gets 0xBE 0x08 0x00 once", () => {
    const w = board("aht20", { aht20Uncalibrated: true });
    const model = w.chip("aht20") as AHT20Model;
    assert.equal(model.calibrated, false);
    const sensor = new AHT20(sensorOptions());
    try {
      assert.equal(model.initialisations, 1);
      assert.equal(model.calibrated, true);
      sensor.sample();
      assert.equal(model.initialisations, 1);
    } finally {
      sensor.close();
    }
    board("aht20");
    const calibrated = new AHT20(sensorOptions());
    calibrated.close();
  });
  test("fault: a bad CRC fails the sample (crc) and the next sample is good", () => {
    const w = board("aht20");
    const sensor = new AHT20(sensorOptions());
    try {
      w.chip("aht20").command("bad-crc 1");
      fails(() => sensor.sample(), "crc");
      const s = sensor.sample();
      near(s.thermometer?.temperature, w.environment.at(now()).temperature, 0.001, "temperature after recovery");
    } finally {
      sensor.close();
    }
  });
  test("fault: a stuck busy bit fails the sample (busy) instead of returning stale data", () => {
    const w = board("aht20");
    const sensor = new AHT20(sensorOptions());
    try {
      w.chip("aht20").command("stuck-busy");
      fails(() => sensor.sample(), "busy");
      w.chip("aht20").command("clear");
      sensor.sample();
    } finally {
      sensor.close();
    }
  });
  test("fault: NACK and unplug fail with io; opening an absent AHT20 fails with io", () => {
    const w = board("aht20");
    const sensor = new AHT20(sensorOptions());
    try {
      w.chip("aht20").command("nack");
      fails(() => sensor.sample(), "io");
      w.chip("aht20").command("clear");
      w.chip("aht20").command("unplug");
      fails(() => sensor.sample(), "io");
      fails(() => new AHT20(sensorOptions()), "io");
    } finally {
      sensor.close();
    }
  });
});

suite("drivers: SHT3x (register-level model)", (test) => {
  test("4.3/4.4: single shot high repeatability matches the environment (0x44 and 0x45)", () => {
    for (const address of [0x44, 0x45]) {
      const w = board(`sht3x@${address}`);
      const sensor = new SHT3x(sensorOptions(address));
      try {
        const s = sensor.sample();
        const c = w.environment.at(now());
        near(s.thermometer?.temperature, c.temperature, 0.002, "temperature");
        near(s.hygrometer?.humidity, c.humidity, 0.002, "humidity");
      } finally {
        sensor.close();
      }
    }
  });
  test("fault: bad CRC on a measurement fails the sample (crc); a bad status CRC at open fails identity", () => {
    const w = board("sht3x");
    const sensor = new SHT3x(sensorOptions());
    try {
      w.chip("sht3x").command("bad-crc 1");
      fails(() => sensor.sample(), "crc");
      sensor.sample();
    } finally {
      sensor.close();
    }
    w.chip("sht3x").command("bad-crc 1");
    fails(() => new SHT3x(sensorOptions()), "identity");
  });
  test("fault: a measurement that never ends (reads NACKed, 4.3) fails with io; NACK and unplug too", () => {
    const w = board("sht3x");
    const sensor = new SHT3x(sensorOptions());
    try {
      w.chip("sht3x").command("stuck-busy");
      fails(() => sensor.sample(), "io");
      w.chip("sht3x").command("clear");
      w.chip("sht3x").command("nack");
      fails(() => sensor.sample(), "io");
      w.chip("sht3x").command("clear");
      w.chip("sht3x").command("unplug");
      fails(() => sensor.sample(), "io");
    } finally {
      sensor.close();
    }
  });
});

suite("drivers: BMP280 (register-level model)", (test) => {
  test("forced mode sample matches the environment within 0.01 °C and 1 Pa (0x76 and 0x77)", () => {
    for (const address of [0x76, 0x77]) {
      const w = board(`bmp280@${address}`);
      const sensor = new BMP280(sensorOptions(address));
      try {
        const s = sensor.sample();
        const c = w.environment.at(now());
        near(s.thermometer?.temperature, c.temperature, 0.011, "temperature");
        near(s.barometer?.pressure, c.pressure, 1, "pressure");
        const model = w.chip(address === 0x77 ? "bmp280@77" : "bmp280") as BMP280Model;
        assert.equal(model.measurements, 1);
      } finally {
        sensor.close();
      }
    }
  });
  test("4.3.1: a chip id other than 0x58 (e.g. a BME280's 0x60) is refused (identity)", () => {
    const w = board("none");
    const impostor: I2CTarget = {
      write: () => true,
      read: (count) => {
        const out = new Uint8Array(count);
        out[0] = 0x60;
        return out;
      },
    };
    w.bus.attach(0x76, impostor);
    fails(() => new BMP280(sensorOptions()), "identity");
  });
  test("fault: measuring bit stuck (busy), NACK (io), unplug (io)", () => {
    const w = board("bmp280");
    const sensor = new BMP280(sensorOptions());
    try {
      w.chip("bmp280").command("stuck-busy");
      fails(() => sensor.sample(), "busy");
      w.chip("bmp280").command("clear");
      sensor.sample();
      w.chip("bmp280").command("nack");
      fails(() => sensor.sample(), "io");
      w.chip("bmp280").command("clear");
      w.chip("bmp280").command("unplug");
      fails(() => sensor.sample(), "io");
    } finally {
      sensor.close();
    }
  });
  test("configure() validates oversampling codes and the sample still matches", () => {
    const w = board("bmp280");
    const sensor = new BMP280(sensorOptions());
    try {
      sensor.configure({ temperatureSampling: 2, pressureSampling: 5, filter: 0 });
      const s = sensor.sample();
      near(s.barometer?.pressure, w.environment.at(now()).pressure, 1, "pressure");
      assert.throws(() => sensor.configure({ pressureSampling: 6 }), RangeError, /pressureSampling/);
    } finally {
      sensor.close();
    }
  });
});

suite("drivers: autodetect and thing-model properties", (test) => {
  test("AHT20 + BMP280 (a common combo board): temp/humi from the AHT20, press in hPa from the BMP280", () => {
    const w = board("aht20,bmp280");
    const sensors = new Sensors({ io: I2C, data: SDA, clock: SCL });
    try {
      assert.deepEqual(sensors.detect(), ["aht20@0x38", "bmp280@0x76"]);
      const r = sensors.read();
      const c = w.environment.at(now());
      near(r.temp, c.temperature, 0.006, "temp");
      near(r.humi, c.humidity, 0.006, "humi");
      near(r.press, c.pressure / 100, 0.02, "press (hPa)");
      assert.equal(r.temp, Math.round(r.temp! * 100) / 100);
    } finally {
      sensors.close();
    }
  });
  test("SHT3x at 0x45 + BMP280 at 0x77; a BMP280 alone gives temp and press; no sensor gives nothing", () => {
    board("sht3x@0x45,bmp280@0x77");
    let sensors = new Sensors({ io: I2C, data: SDA, clock: SCL });
    assert.deepEqual(sensors.detect(), ["sht3x@0x45", "bmp280@0x77"]);
    assert.deepEqual(Object.keys(sensors.read()).sort(), ["humi", "press", "temp"]);
    sensors.close();
    board("bmp280");
    sensors = new Sensors({ io: I2C, data: SDA, clock: SCL });
    assert.deepEqual(sensors.detect(), ["bmp280@0x76"]);
    assert.deepEqual(Object.keys(sensors.read()).sort(), ["press", "temp"]);
    sensors.close();
    board("none");
    sensors = new Sensors({ io: I2C, data: SDA, clock: SCL });
    assert.deepEqual(sensors.detect(), []);
    assert.deepEqual(sensors.read(), {});
    sensors.close();
  });
  test("without sda/scl the board default bus (GPIO 21/22 here) is used", () => {
    board("aht20");
    const sensors = new Sensors({ io: I2C });
    assert.deepEqual(sensors.detect(), ["aht20@0x38"]);
    sensors.close();
    assert.throws(() => new Sensors({ io: I2C, data: -1 }), TypeError, /sda/);
  });
  test("a build without I2C (io undefined, platform/sim/i2c) and no extra sensor finds nothing, says so, reads nothing", () => {
    board("aht20,bmp280");
    const lines: string[] = [];
    const sensors = new Sensors({ io: undefined, data: SDA, clock: SCL, log: logTo((...line) => lines.push(formatLine(0, ...line))) });
    assert.deepEqual(sensors.detect(), []);
    assert.deepEqual(sensors.read(), {});
    assert.deepEqual(lines, ["0 WARN sensors: no I2C on this build; reporting board data only"]);
  });
  test("sensors on other pins are not found (autodetect uses the configured bus)", () => {
    board("aht20,bmp280");
    const sensors = new Sensors({ io: I2C, data: 4, clock: 5 });
    assert.deepEqual(sensors.detect(), []);
    sensors.close();
  });
  test("one sensor failing: its properties are omitted, the rest reported, and it is retried", () => {
    const w = board("aht20,bmp280");
    const sensors = new Sensors({ io: I2C, data: SDA, clock: SCL });
    try {
      sensors.detect();
      w.chip("aht20").command("bad-crc 1");
      let r = sensors.read();
      assert.deepEqual(Object.keys(r), ["press"]);
      r = sensors.read(r);
      assert.deepEqual(Object.keys(r).sort(), ["humi", "press", "temp"]);
      w.chip("bmp280").command("stuck-busy");
      r = sensors.read(r);
      assert.deepEqual(Object.keys(r).sort(), ["humi", "temp"]);
      w.chip("bmp280").command("clear");
      assert.deepEqual(Object.keys(sensors.read(r)).sort(), ["humi", "press", "temp"]);
      // Reusing the same object: a failure must remove the values a previous round left in it.
      w.chip("aht20").command("bad-crc 1");
      assert.deepEqual(Object.keys(sensors.read(r)), ["press"]);
    } finally {
      sensors.close();
    }
  });
  test("unplugged mid-run: omitted while gone; re-plugged (power-on, uncalibrated): re-initialised and reported", () => {
    const w = board("aht20,bmp280", { aht20Uncalibrated: true });
    const sensors = new Sensors({ io: I2C, data: SDA, clock: SCL });
    try {
      sensors.detect();
      const model = w.chip("aht20") as AHT20Model;
      assert.equal(model.initialisations, 1);
      w.chip("aht20").command("unplug");
      for (let i = 0; i < 3; i++) assert.deepEqual(Object.keys(sensors.read()), ["press"]);
      w.chip("aht20").command("plug");
      const r = sensors.read();
      assert.deepEqual(Object.keys(r).sort(), ["humi", "press", "temp"]);
      assert.equal(model.initialisations, 2);
      near(r.temp, w.environment.at(now()).temperature, 0.006, "temp after re-plug");
    } finally {
      sensors.close();
    }
  });
  test("a sensor connected after boot is found by the periodic rescan and takes over temp/humi", () => {
    const w = board("aht20,bmp280");
    w.chip("aht20").command("unplug");
    const sensors = new Sensors({ io: I2C, data: SDA, clock: SCL, rescanEvery: 3 });
    try {
      assert.deepEqual(sensors.detect(), ["bmp280@0x76"]);
      assert.deepEqual(Object.keys(sensors.read()).sort(), ["press", "temp"]);
      w.chip("aht20").command("plug");
      assert.deepEqual(Object.keys(sensors.read()).sort(), ["press", "temp"]);
      const r = sensors.read(); // third read: rescan
      assert.deepEqual(sensors.names(), ["aht20@0x38", "bmp280@0x76"]);
      assert.deepEqual(Object.keys(r).sort(), ["humi", "press", "temp"]);
      const c = w.environment.at(now());
      near(r.humi, c.humidity, 0.006, "humi from the late AHT20");
    } finally {
      sensors.close();
    }
  });
  test("an address that answers but is not the chip is rejected once, not re-probed by rescans", () => {
    const w = board("none");
    let reads = 0;
    w.bus.attach(0x76, { write: () => true, read: (count) => (reads++, new Uint8Array(count)) });
    const sensors = new Sensors({ io: I2C, data: SDA, clock: SCL, rescanEvery: 1 });
    assert.deepEqual(sensors.detect(), []);
    const after = reads;
    for (let i = 0; i < 5; i++) sensors.read();
    assert.equal(reads, after);
    sensors.close();
  });
  test("never reported wrong: under random faults every value present matches the environment", () => {
    const w = board("aht20,bmp280", { seed: 3 });
    const sensors = new Sensors({ io: I2C, data: SDA, clock: SCL });
    const faults = ["bad-crc 1", "stuck-busy", "nack", "unplug", "clear", "clear", "clear"];
    let x = 12345;
    try {
      sensors.detect();
      let present = 0;
      for (let round = 0; round < 40; round++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const chip = x & 1 ? "aht20" : "bmp280";
        const fault = faults[(x >>> 8) % faults.length];
        if (!(chip === "bmp280" && fault.startsWith("bad-crc"))) w.chip(chip).command(fault);
        const r = sensors.read();
        const c = w.environment.at(now());
        if (r.temp !== undefined) (present++, near(r.temp, c.temperature, 0.006, `temp round ${round}`));
        if (r.humi !== undefined) near(r.humi, c.humidity, 0.006, `humi round ${round}`);
        if (r.press !== undefined) near(r.press, c.pressure / 100, 0.02, `press round ${round}`);
        host().delay(1000);
      }
      assert.ok(present > 5, `too few rounds with a temperature (${present})`);
    } finally {
      sensors.close();
    }
  });
});

/** The simulated sensor at a fixed instant, as the class Sensors opens (platform/sensor's shape). */
function simulatedAt(epochMs: number): typeof SimulatedSensor {
  return class extends SimulatedSensor {
    constructor() {
      super({ now: () => epochMs });
    }
  };
}

const JAN_1 = Date.UTC(2026, 0, 1);

suite("platform: simulated sensor (Moddable desktop simulators)", (test) => {
  test("every 10 minutes over two weeks: plausible indoor values, inside the thing model's temp, humi and press ranges", () => {
    const sensor = new SimulatedSensor({ now: () => t });
    let t = JAN_1;
    for (; t < JAN_1 + 14 * 86_400_000; t += 600_000) {
      const s = sensor.sample();
      const temperature = s.thermometer?.temperature;
      const humidity = s.hygrometer?.humidity;
      const pressure = s.barometer?.pressure;
      assert.ok(temperature !== undefined && temperature >= 15 && temperature <= 29, `temperature ${temperature} at ${t}`);
      assert.ok(humidity !== undefined && humidity >= 30 && humidity <= 80, `humidity ${humidity} at ${t}`);
      assert.ok(pressure !== undefined && pressure >= 100_000 && pressure <= 102_700, `pressure ${pressure} Pa at ${t}`);
      // onenet/model.ts's table is kept equal to onenet/thing-model.json by test/onenet.test.ts
      assert.equal(checkValue(DEFAULT_MODEL.temp, temperature), undefined);
      assert.equal(checkValue(DEFAULT_MODEL.humi, humidity), undefined);
      assert.equal(checkValue(DEFAULT_MODEL.press, pressure / 100), undefined);
    }
  });
  test("deterministic: the same instant gives the same sample, from another instance too", () => {
    const t = Date.UTC(2026, 6, 14, 9, 26, 53);
    assert.deepEqual(new SimulatedSensor({ now: () => t }).sample(), new SimulatedSensor({ now: () => t }).sample());
    assert.ok(new SimulatedSensor({ now: () => t + 3_600_000 }).sample().thermometer?.temperature !== new SimulatedSensor({ now: () => t }).sample().thermometer?.temperature);
  });
  test("a day cycle in local time: 15:00 is warmer (by more than 5 °C) and drier than 03:00 the same day", () => {
    for (let day = 1; day <= 10; day++) {
      const afternoon = new SimulatedSensor({ now: () => new Date(2026, 2, day, 15).getTime() }).sample();
      const night = new SimulatedSensor({ now: () => new Date(2026, 2, day, 3).getTime() }).sample();
      assert.ok(afternoon.thermometer!.temperature > night.thermometer!.temperature + 5, `day ${day}: ${afternoon.thermometer!.temperature} vs ${night.thermometer!.temperature}`);
      assert.ok(afternoon.hygrometer!.humidity < night.hygrometer!.humidity - 10, `day ${day}: humidity`);
    }
  });
  test("drifts slowly: minute to minute at most 0.02 °C, 0.07 %RH and 1.2 Pa, over three days", () => {
    let t = JAN_1;
    const sensor = new SimulatedSensor({ now: () => t });
    let previous = sensor.sample();
    for (let minute = 1; minute <= 3 * 24 * 60; minute++) {
      t = JAN_1 + minute * 60_000;
      const s = sensor.sample();
      assert.ok(Math.abs(s.thermometer!.temperature - previous.thermometer!.temperature) <= 0.02, `temperature step at minute ${minute}`);
      assert.ok(Math.abs(s.hygrometer!.humidity - previous.hygrometer!.humidity) <= 0.07, `humidity step at minute ${minute}`);
      assert.ok(Math.abs(s.barometer!.pressure - previous.barometer!.pressure) <= 1.2, `pressure step at minute ${minute}`);
      previous = s;
    }
  });
  test("ECMA-419 close(): sampling a closed sensor throws; configure() accepts options", () => {
    const sensor = new SimulatedSensor();
    sensor.configure({});
    assert.ok(sensor.sample().thermometer !== undefined);
    sensor.close();
    assert.throws(() => sensor.sample(), Error, /closed/);
  });
});

suite("drivers: the platform's extra sensor (platform/sensor)", (test) => {
  test("no I2C, simulated sensor: detected as \"simulated\" (boot line sensors=simulated), temp, humi and press (hPa) from it", () => {
    const t = Date.UTC(2026, 3, 2, 7, 45);
    const lines: string[] = [];
    const sensors = new Sensors({ io: undefined, extra: simulatedAt(t), log: logTo((...line) => lines.push(formatLine(0, ...line))) });
    try {
      assert.deepEqual(sensors.detect(), ["simulated"]);
      assert.deepEqual(lines, ["0 INFO sensors: found sensors=simulated"]);
      const expected = new SimulatedSensor({ now: () => t }).sample();
      const r = sensors.read();
      assert.deepEqual(r, {
        temp: Math.round(expected.thermometer!.temperature * 100) / 100,
        humi: Math.round(expected.hygrometer!.humidity * 100) / 100,
        press: Math.round(expected.barometer!.pressure) / 100,
      });
    } finally {
      sensors.close();
    }
  });
  test("with chips on the bus the extra sensor only fills what no chip measures, and is not sampled when it fills nothing", () => {
    const w = board("aht20");
    let sensors = new Sensors({ io: I2C, data: SDA, clock: SCL, extra: simulatedAt(JAN_1) });
    try {
      assert.deepEqual(sensors.detect(), ["aht20@0x38", "simulated"]);
      const r = sensors.read();
      const c = w.environment.at(now());
      near(r.temp, c.temperature, 0.006, "temp from the AHT20");
      near(r.humi, c.humidity, 0.006, "humi from the AHT20");
      assert.equal(r.press, Math.round(new SimulatedSensor({ now: () => JAN_1 }).sample().barometer!.pressure) / 100, "press from the extra sensor");
    } finally {
      sensors.close();
    }
    board("aht20,bmp280");
    sensors = new Sensors({ io: I2C, data: SDA, clock: SCL, extra: simulatedAt(JAN_1) });
    try {
      assert.deepEqual(sensors.detect(), ["aht20@0x38", "bmp280@0x76", "simulated"]);
      sensors.read();
      const extra = sensors.sensors.find((s) => s.kind === "simulated");
      assert.ok(extra !== undefined);
      assert.deepEqual(extra.roles, []);
      assert.equal(extra.samples, 0);
    } finally {
      sensors.close();
    }
  });
  test("an extra sensor that fails: properties omitted, one warning naming it, reopened, then reported again", () => {
    let failing = 1;
    let opened = 0;
    class Flaky extends SimulatedSensor {
      static override readonly kind = "flaky";
      constructor() {
        super({ now: () => JAN_1 });
        opened++;
      }
      override sample() {
        if (failing > 0) {
          failing--;
          throw new Error("flaky: no answer");
        }
        return super.sample();
      }
    }
    const lines: string[] = [];
    const sensors = new Sensors({ io: undefined, extra: Flaky, log: logTo((...line) => lines.push(formatLine(0, ...line))) });
    try {
      assert.deepEqual(sensors.detect(), ["flaky"]);
      assert.deepEqual(sensors.read(), {});
      assert.ok(lines.includes('0 WARN sensors: sample failed; properties omitted sensor=flaky fault=error failures=1 error="Error: flaky: no answer"'), lines.join("\n"));
      assert.deepEqual(Object.keys(sensors.read()).sort(), ["humi", "press", "temp"]);
      assert.equal(opened, 2, "closed after the failure and opened again");
      assert.ok(lines.includes("0 INFO sensors: recovered sensor=flaky failures=1"), lines.join("\n"));
    } finally {
      sensors.close();
    }
  });
});

suite("sim: scripted environment", (test) => {
  test("deterministic: same seed and time, same conditions; another seed differs", () => {
    const a = new Environment({ seed: 5 });
    const b = new Environment({ seed: 5 });
    const c = new Environment({ seed: 6 });
    const t = Date.UTC(2026, 5, 1, 6, 30);
    assert.deepEqual(a.at(t), b.at(t));
    assert.ok(a.at(t).temperature !== c.at(t).temperature);
  });
  test("plausible over the day: afternoon warmer and drier than before dawn, smooth minute to minute", () => {
    const env = new Environment({ seed: 11, utcOffsetHours: 8 });
    for (let day = 0; day < 5; day++) {
      const midnightUtc = Date.UTC(2026, 0, 1 + day) - 8 * 3_600_000; // local midnight
      const afternoon = env.at(midnightUtc + 15 * 3_600_000);
      const dawn = env.at(midnightUtc + 4 * 3_600_000);
      assert.ok(afternoon.temperature > dawn.temperature + 4, `day ${day}: ${afternoon.temperature} vs ${dawn.temperature}`);
      assert.ok(afternoon.humidity < dawn.humidity, `day ${day}: humidity`);
    }
    let previous = env.at(Date.UTC(2026, 0, 1));
    for (let minute = 1; minute < 3 * 24 * 60; minute += 7) {
      const c = env.at(Date.UTC(2026, 0, 1) + minute * 60_000);
      assert.ok(c.humidity >= 5 && c.humidity <= 98, "humidity in range");
      assert.ok(c.pressure > 95_000 && c.pressure < 106_000, "pressure plausible");
      previous = c;
    }
    const a = env.at(Date.UTC(2026, 0, 2, 3));
    const b = env.at(Date.UTC(2026, 0, 2, 3, 1));
    assert.ok(Math.abs(a.temperature - b.temperature) < 0.3, "temperature changes slowly");
    assert.ok(previous.temperature > -50);
  });
  test("the env control forces and releases values", () => {
    const env = new Environment({ seed: 1 });
    const t = Date.UTC(2026, 0, 1);
    env.command("temperature 30.5", t);
    assert.equal(env.at(t).temperature, 30.5);
    env.command("release", t);
    assert.ok(env.at(t).temperature !== 30.5);
  });
});

suite("drivers: board data", (test) => {
  test("uptime in whole seconds since start from the app's Uptime clock, right across the tick sign flip; rssi only from a live source; heap from instrumentation when present", () => {
    const none = new Board().read();
    assert.equal(none.uptime, 0);
    let board = 2147480000; // 3.6 s before the ESP32 tick turns negative
    const clock = new Uptime(() => board | 0);
    const flipping = new Board(undefined, clock);
    board += 5999;
    assert.equal(flipping.read().uptime, 5);
    board += 24 * 86400_000; // far past the flip and the wrap of the 32-bit counter
    assert.equal(flipping.read().uptime, 5 + 24 * 86400);
    assert.equal("rssi" in none, false);
    assert.ok(none.heap === undefined || (Number.isInteger(none.heap) && none.heap > 0));
    const source = { rssi: -61 as number | undefined };
    const b = new Board(source);
    assert.equal(b.read().rssi, -61);
    source.rssi = undefined;
    assert.equal("rssi" in b.read(), false);
  });
});
