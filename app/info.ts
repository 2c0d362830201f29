// What the boot banner says about the firmware and the board.

import config from "mc/config";
import { DEFAULTS } from "./config";

/**
 * The running image's version: `config.version`, baked in by the build (manifest.json, or
 * `npm run image -- version=`); test/app-config.test.ts keeps the manifest, the config default and
 * package.json on one number.
 */
export function runningVersion(): string {
  const v = config.version;
  return typeof v === "string" && v !== "" ? v : DEFAULTS.version; // what validateConfig takes then
}

/**
 * The board name: `config.board`, which manifest.json sets per platform ("esp32", "esp32/<board>",
 * "lin" …) and the simulator may pass as a flag; "unknown" when neither did.
 */
export function boardName(): string {
  const board = config.board;
  return typeof board === "string" && board !== "" ? board : "unknown";
}
