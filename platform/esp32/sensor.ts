// The board's sensors are the chips on its I2C bus (drivers/sensors.ts finds them): no extra one.
import type { SensorRole } from "../types";

const sensor: SensorRole = undefined;
export default sensor;
