// The report interval, writable from the cloud and kept across reboots in Moddable's `preference`
// store (NVS on the board, a file in the simulators).
//
// The configured value (mcconfig `interval=`) stays the default: a value set from the cloud wins until
// the firmware is rebuilt with a different `interval`, then the new configured value takes over
// (otherwise a reflash could never change the period back).

import Preference from "preference";
import { describe, type Logger } from "../lib/log";

const DOMAIN = "app";
const INTERVAL = "interval";
const CONFIGURED = "intervalCfg";

function readNumber(key: string, log: Logger): number | undefined {
  try {
    const value = Preference.get(DOMAIN, key);
    return typeof value === "number" && Number.isInteger(value) ? value : undefined;
  } catch (e) {
    log.log("WARN", "settings", "cannot read preference", { name: key, error: describe(e) });
    return undefined;
  }
}

/** The interval to use at boot: the one set from the cloud, unless the configured value changed. */
export function loadInterval(configured: number, min: number, max: number, log: Logger): { seconds: number; source: "config" | "cloud" } {
  const stored = readNumber(INTERVAL, log);
  const storedFor = readNumber(CONFIGURED, log);
  if (stored !== undefined && storedFor === configured && stored >= min && stored <= max) {
    return { seconds: stored, source: "cloud" };
  }
  return { seconds: configured, source: "config" };
}

/** Persists an interval set from the cloud. Returns false (and logs) when the store refused it. */
export function saveInterval(seconds: number, configured: number, log: Logger): boolean {
  try {
    Preference.set(DOMAIN, INTERVAL, seconds);
    Preference.set(DOMAIN, CONFIGURED, configured);
    return true;
  } catch (e) {
    log.log("WARN", "settings", "cannot persist interval", { seconds, error: describe(e) });
    return false;
  }
}
