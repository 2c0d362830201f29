// Stand-in for ./i2c-io on builds without I2C (the Moddable lin/mac simulators): no bus, so
// Sensors.detect() finds nothing and the app reports board data only.
import type { I2CClass } from "./sensor";

const io: I2CClass | undefined = undefined;
export default io;
