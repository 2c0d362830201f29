// The Moddable `wifi` module as the SDK implements it (modules/network/wifi/esp32/wifi.js + xs6wifi.c,
// and the simulator's modules/network/wifi/sim/wifi.js). Replaces @moddable/typings' wifi.d.ts, which
// gets these wrong:
// - it declares static `station_connected` / `station_disconnected` members; the class has no such
//   statics. The access-point events arrive only as the message strings "station_connect" and
//   "station_disconnect" (WIFI_EVENT_AP_STACONNECTED / _STADISCONNECTED in xs6wifi.c).
// - its callback takes one argument; on esp32 "disconnect" carries a second one, the reason
//   (-1 = password rejected, from gDisconnectReason), and the callback also sees "start"
//   (and "init" on older releases).
// - `static mode` is a getter/setter pair and `Mode.off` exists only on esp32.
declare module "wifi" {
  export type WiFiOptions = {
    ssid: string;
    password?: string;
    bssid?: ArrayBuffer;
    channel?: number;
  };
  export type WiFiMessage =
    | "connect"
    | "gotIP"
    | "lostIP"
    | "disconnect"
    | "start"
    | "init"
    | "station_connect"
    | "station_disconnect";
  /** `value` is present for "disconnect" only: -1 when the password was rejected, else 0. */
  export type WiFiCallback = (message: WiFiMessage, value?: number) => void;
  export type WiFiScanItem = {
    ssid: string;
    authentication?: string;
    rssi: number;
    bssid?: ArrayBuffer;
    channel?: number;
    hidden?: boolean;
  };
  /** Called once per access point, then once with null (esp32) or undefined (simulator) at the end. */
  export type WiFiScanCallback = (item: WiFiScanItem | null | undefined) => void;
  export type ScanOptions = { hidden?: boolean; channel?: number };
  export type AccessPointOptions = {
    ssid: string;
    password?: string;
    channel?: number;
    hidden?: boolean;
    interval?: number;
    max?: number;
    station?: boolean;
  };

  class WiFi {
    constructor(options?: WiFiOptions, callback?: WiFiCallback);
    close(): void;
    set onNotify(callback: WiFiCallback | undefined);
    static get mode(): number;
    static set mode(value: number);
    static scan(options: ScanOptions, callback: WiFiScanCallback): void;
    /** Without options: disconnect. */
    static connect(options?: WiFiOptions): void;
    static disconnect(): void;
    static accessPoint(options: AccessPointOptions): void;

    static readonly Mode: { readonly off?: -5; readonly none: 0; readonly station: 1; readonly accessPoint: 2 };
    static readonly gotIP: "gotIP";
    static readonly lostIP: "lostIP";
    static readonly connected: "connect";
    static readonly disconnected: "disconnect";
  }
  export { WiFi as default };
}
