// Compile-time only: every platform folder provides every role with the shape of platform/types.ts.
// tsconfig.json type-checks this file; no build loads it.

import type { ClockClass, FlashRole, I2CRole, LedClass, OtaRole, SensorRole } from "./types";
import type Esp32Led from "./esp32/led";
import type SimLed from "./sim/led";
import type Esp32Clock from "./esp32/clock";
import type SimClock from "./sim/clock";
import type esp32I2C from "./esp32/i2c";
import type simI2C from "./sim/i2c";
import type esp32Sensor from "./esp32/sensor";
import type simSensor from "./sim/sensor";
import type esp32Flash from "./esp32/flash";
import type simFlash from "./sim/flash";
import type esp32Ota from "./esp32/ota";
import type simOta from "./sim/ota";

type Is<T, _Shape extends T> = true;

export type Conformance = [
  Is<LedClass, typeof Esp32Led>,
  Is<LedClass, typeof SimLed>,
  Is<ClockClass, typeof Esp32Clock>,
  Is<ClockClass, typeof SimClock>,
  Is<I2CRole, typeof esp32I2C>,
  Is<I2CRole, typeof simI2C>,
  Is<SensorRole, typeof esp32Sensor>,
  Is<SensorRole, typeof simSensor>,
  Is<FlashRole, typeof esp32Flash>,
  Is<FlashRole, typeof simFlash>,
  Is<OtaRole, typeof esp32Ota>,
  Is<OtaRole, typeof simOta>,
];
