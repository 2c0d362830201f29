// What the boot banner says about the firmware and the board.

import config from "mc/config";

/** Firmware version; test/app-config.test.ts checks it against package.json. */
export const VERSION = "0.1.0";

/**
 * The board name: `config.board`, which manifest.json sets per platform ("esp32", "esp32/<board>",
 * "lin" …) and the simulator may pass as a flag; "unknown" when neither did.
 */
export function boardName(): string {
  const board = config.board;
  return typeof board === "string" && board !== "" ? board : "unknown";
}
