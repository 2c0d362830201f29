// Soak figures (tools/soak/soak.ts): the app in XS against the OneNET emulator for 26 virtual days of
// 600 s reports, across the tick's sign flip and wrap, through the soak's faults (12-hour outage,
// Wi-Fi drops, broker restarts, refused logins, reboots, hostile downlinks). `npm run soak -- days=60
// interval=60` gives the long run's figures. No anchor: these are counts, the same on every machine.
import { minDays, runSoak } from "../tools/soak/soak.ts";
import type { Report } from "./run.ts";

const DAYS = minDays();
const INTERVAL = 600;

export default async function bench(report: Report): Promise<void> {
  const { figures } = await runSoak({ days: DAYS, interval: INTERVAL });
  const size = `${DAYS} days at ${INTERVAL} s`;
  report({
    name: "soak.readings_lost",
    value: figures.readingsLost,
    unit: `readings the platform never got, beyond those the device counted dropped in the 12-hour outage (${size}; lower is better, target 0)`,
  });
  report({
    name: "soak.heap_growth_slots",
    value: figures.heapGrowthSlots,
    unit: `XS heap slots after GC, largest growth within a boot, checked daily (${size}; lower is better)`,
  });
  report({
    name: "soak.flash_writes_per_day",
    value: figures.flashWritesPerDay,
    unit: `preference (NVS) writes per virtual day (${size}, with 12-hour outage; lower is better)`,
  });
}
