// Moddable `net` for the simulators, over the simulated station and access point:
// Net.get("IP") (undefined without a DHCP lease), "MAC", "SSID" and "BSSID" and "RSSI" (undefined
// when not associated), "DNS" (array of servers); Net.resolve(name, callback) answers later, never
// from inside the call, with the address or undefined (not online, or unknown name).
// Written like firmware.
import Timer from "./timer.ts";
import { host } from "../host.ts";
import { world } from "../devices/world.ts";
import { stationState } from "./wifi.ts";

function associated(): boolean {
  const s = stationState();
  return s === "associated" || s === "ip";
}

const Net = {
  get(what: string): string | number | string[] | undefined {
    const ap = world().accessPoint;
    switch (what) {
      case "IP":
        return stationState() === "ip" ? ap.stationIP : undefined;
      case "MAC":
        return ap.stationMAC;
      case "SSID":
        return associated() ? ap.ssid : undefined;
      case "BSSID":
        return associated() ? ap.bssid : undefined;
      case "RSSI":
        return associated() ? ap.rssiAt(host().ticks()) : undefined;
      case "DNS":
        return stationState() === "ip" ? [ap.dns] : [];
      default:
        return undefined;
    }
  },
  resolve(name: string, callback: (name: string, address?: string) => void): void {
    if (typeof callback !== "function") throw new TypeError("Net.resolve: callback required");
    Timer.set(() => {
      const address = stationState() === "ip" ? world().accessPoint.resolve(String(name)) : undefined;
      callback(name, address);
    }, 10);
  },
};

export default Net;
