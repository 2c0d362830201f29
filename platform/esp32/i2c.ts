// The board's I2C: ECMA-419 `embedded:io/i2c` (manifest includes $(MODULES)/io/i2c on esp32). The host
// runs this same file over its simulated bus (tools/sim/modules/embedded/io/i2c.ts).
import I2C from "embedded:io/i2c";
import type { I2CRole } from "../types";

const io: I2CRole = I2C;
export default io;
