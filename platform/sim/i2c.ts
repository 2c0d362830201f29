// The Moddable desktop simulators (lin, mac) have no I2C bus: Sensors.detect() finds nothing on it.
import type { I2CRole } from "../types";

const io: I2CRole = undefined;
export default io;
