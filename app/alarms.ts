// The thing model's `alarm` event ({code, msg}, msg at most 64 characters): what the app raises so a
// user sees faults in the OneNET console, not only on the serial port.

export const ALARM = Object.freeze({
  /** Sensor properties stopped arriving (a sensor unplugged or failing). */
  sensorLost: 1,
  /** Sensor properties that were lost arrive again. */
  sensorBack: 2,
  /** A value set from the cloud could not be written to flash: it is lost at the next reboot. */
  settingsNotSaved: 3,
  /** The readings log was full: unsent readings were overwritten (msg: how many, from when to when). */
  readingsLost: 4,
} as const);

/** The properties that come from sensors, in bit order. */
export const SENSOR_PROPERTIES: readonly string[] = Object.freeze(["temp", "humi", "press"]);

export interface SensorChange {
  /** 0 when nothing to raise, else ALARM.sensorLost or ALARM.sensorBack. */
  readonly code: number;
  readonly msg: string;
  /** Bits lost and not back yet, after this change. */
  readonly lost: number;
}

const NONE: SensorChange = Object.freeze({ code: 0, msg: "", lost: 0 });

function names(bits: number): string {
  let text = "";
  for (let i = 0; i < SENSOR_PROPERTIES.length; i++) if (bits & (1 << i)) text += (text ? "," : "") + SENSOR_PROPERTIES[i];
  return text;
}

/**
 * Compares the sensor properties of two reports (`before` -1: the first report, which sets the
 * baseline). A property missing now that was there before is lost; a lost property that is there again
 * is back. Losses win when both happen at once (the next report then says what came back).
 */
export function sensorChange(before: number, now: number, lost: number): SensorChange {
  if (before < 0) return lost === 0 ? NONE : { code: 0, msg: "", lost };
  const gone = before & ~now;
  if (gone !== 0) return { code: ALARM.sensorLost, msg: "sensor data lost: " + names(gone), lost: lost | gone };
  const back = lost & now;
  if (back !== 0) return { code: ALARM.sensorBack, msg: "sensor data back: " + names(back), lost: lost & ~back };
  return lost === 0 ? NONE : { code: 0, msg: "", lost };
}
