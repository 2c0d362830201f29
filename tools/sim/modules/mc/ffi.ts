// The `mc/ffi` module as mcconfig generates it for this project's esp32 build (manifest.json
// platforms.esp32 "ffi": ESP-IDF functions called straight from JavaScript, docs/moddable.md "OTA and
// rollback"), with the simulator's board behind it:
//   esp_restart(): the board restarts (host restart; npm start boots the boot slot again);
//   esp_ota_mark_app_valid_cancel_rollback(): a "pending" running slot becomes "valid"; 0 (ESP_OK).
// Lane-neutral.
import { host } from "../../host.ts";
import { OTADATA_KEY, parseOtaData } from "../../lib/otadata.ts";

export default class FFI {
  esp_restart(): void {
    host().restart();
  }

  esp_ota_mark_app_valid_cancel_rollback(): number {
    const text = host().storageGet(OTADATA_KEY);
    const data = parseOtaData(text);
    if (data.state === "pending" && data.boot === data.running) {
      data.state = "valid";
      host().storageSet(OTADATA_KEY, JSON.stringify(data));
    }
    return 0;
  }
}
