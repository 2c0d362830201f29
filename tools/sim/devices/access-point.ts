// The simulated Wi-Fi access point the station (sim/modules/wifi.ts) joins: an SSID, an optional
// password, a DHCP lease, a signal strength that wobbles a little, and DNS. Tests and `npm start`
// take it down and bring it back (control "wifi.ap": down, up, ...). Written like firmware (no Node
// API); it holds state only and tells its listener about changes, the station does the timing.

export interface AccessPointListener {
  /** The access point went away (down) or came back (up). */
  availability(up: boolean): void;
  /** The DHCP lease was lost while associated ("lostIP" on ports that report it). */
  leaseLost(): void;
}

export interface AccessPointOptions {
  ssid?: string;
  /** undefined: any password is accepted (the station's config decides what it sends). */
  password?: string;
  rssi?: number;
  channel?: number;
}

export class SimAccessPoint {
  ssid: string;
  password: string | undefined;
  channel: number;
  bssid = "02:00:5e:10:00:01";
  /** Address the station gets by DHCP, its gateway and DNS server. */
  stationIP = "192.168.4.2";
  gateway = "192.168.4.1";
  dns = "192.168.4.1";
  /** The station's own MAC (Net.get("MAC")). */
  stationMAC = "a4:cf:12:00:00:01";
  /** Timing of a join, in ms: association, then DHCP. */
  associateMs = 200;
  dhcpMs = 300;
  /** How long the station takes to notice a vanished AP (beacon loss). */
  beaconLossMs = 1000;
  /** How long a join attempt to an absent AP takes to fail. */
  joinTimeoutMs = 3000;
  /** When true, every join is refused as if the password were wrong. */
  rejectPassword = false;
  #up = true;
  #rssi: number;
  /** Name -> address table for Net.resolve; names not in it go to `resolver`, if set. */
  readonly hosts = new Map<string, string>([["localhost", "127.0.0.1"]]);
  resolver: ((name: string) => string | undefined) | undefined;
  #listener: AccessPointListener | undefined;
  /** Counts for tests. */
  downs = 0;

  constructor(options: AccessPointOptions = {}) {
    this.ssid = options.ssid ?? "sim-ap";
    this.password = options.password;
    this.channel = options.channel ?? 6;
    this.#rssi = options.rssi ?? -58;
  }

  get up(): boolean {
    return this.#up;
  }

  listen(listener: AccessPointListener | undefined): void {
    this.#listener = listener;
  }

  setUp(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    if (!up) this.downs++;
    this.#listener?.availability(up);
  }

  loseLease(): void {
    this.#listener?.leaseLost();
  }

  /** Signal strength at `ticks`: the base value with a slow deterministic wobble of ±3 dB. */
  rssiAt(ticks: number): number {
    return Math.round(this.#rssi + 3 * Math.sin(ticks / 47_000) * Math.cos(ticks / 131_000));
  }

  setRssi(rssi: number): void {
    this.#rssi = rssi;
  }

  /** Whether a station asking for `ssid` with `password` would be admitted (AP up assumed). */
  admits(ssid: string, password: string | undefined): "ok" | "no-ap" | "bad-password" {
    if (!this.#up || ssid !== this.ssid) return "no-ap";
    if (this.rejectPassword) return "bad-password";
    if (this.password !== undefined && password !== this.password) return "bad-password";
    return "ok";
  }

  resolve(name: string): string | undefined {
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return name;
    const known = this.hosts.get(name.toLowerCase());
    if (known !== undefined) return known;
    return this.resolver?.(name);
  }

  /**
   * Control command: "down", "up", "flap" (down then up on the station's next look), "rssi N",
   * "lose-ip", "reject-password on|off", "password X|none", "status".
   */
  command(arg: string): string {
    const words = arg.trim().split(/\s+/);
    switch (words[0]) {
      case "down":
        this.setUp(false);
        break;
      case "up":
        this.setUp(true);
        break;
      case "rssi": {
        const value = Number(words[1]);
        if (!Number.isFinite(value)) throw new RangeError("wifi.ap: rssi needs a number");
        this.setRssi(value);
        break;
      }
      case "lose-ip":
        this.loseLease();
        break;
      case "reject-password":
        this.rejectPassword = words[1] !== "off";
        break;
      case "password":
        this.password = words[1] === undefined || words[1] === "none" ? undefined : words[1];
        break;
      case "status":
      case "":
        break;
      default:
        throw new RangeError(`wifi.ap: unknown command "${arg}" (down, up, rssi N, lose-ip, reject-password on|off, password X|none, status)`);
    }
    // Never echo the password itself.
    return `wifi.ap ssid=${this.ssid} up=${this.#up} rssi=${this.#rssi} password=${this.password === undefined ? "any" : "set"} rejectPassword=${this.rejectPassword}`;
  }
}
