// The I2C class the app hands to Sensors: ECMA-419 `embedded:io/i2c` (ESP32 builds, which include
// $(MODDABLE)/modules/io/manifest.json, and our simulator under `npm start`). The Moddable desktop
// simulators (lin, mac) have no I2C: their manifest section maps this module to ./i2c-none.
import I2C from "embedded:io/i2c";
import type { I2CClass } from "./sensor";

const io: I2CClass | undefined = I2C;
export default io;
