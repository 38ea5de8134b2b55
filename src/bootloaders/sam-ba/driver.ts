// The SAM-BA driver (bossac's job): SAM3X (Arduino Due) and SAM4 (Duet) ROM
// monitors, the Arduino Zero SAMD21 bootloader and the UF2 SAMD51
// bootloader, over a tty (USB CDC or a UART). Status reads the monitor's
// version and chip; a request is the row's entry (the 1200-baud touch, and
// following the board to its bootloader's port), which leaves the board in
// the monitor; a probe only greets the monitor that is there (N#, V#) and
// reads the chip id — it never touches the board.

import {
  driverContext,
  type BootloaderDriver,
  type DriverEnv,
  type Link,
  type RequestReport,
  type SerialLink,
  type StatusReport,
} from "../../flash-api/driver.js";
import { LinkNotSupportedError } from "../../flash-api/errors.js";
import type { Target } from "../../targets/index.js";
import { rowChip, SamBaAdapter, type SamBaAdapterOptions } from "./adapter.js";
import { identifyChip } from "./identify.js";
import { flashSize } from "./parts.js";
import { reachMonitor } from "./reach.js";

function serial(t: Target, link: Link): SerialLink {
  if (link.kind !== "serial")
    throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["serial"]);
  return link;
}

const options = (
  t: Target,
  link: SerialLink,
  env: DriverEnv,
  extra: Partial<SamBaAdapterOptions> = {},
): SamBaAdapterOptions => ({
  device: link.device,
  target: t,
  ...(link.baud !== undefined ? { baud: link.baud } : {}),
  ...(env.usbTree ? { tree: env.usbTree } : {}),
  ...(env.procRoot ? { procRoot: env.procRoot } : {}),
  ...(env.wrapTransport ? { wrapTransport: env.wrapTransport } : {}),
  ...extra,
});

const hex = (n: number) => `0x${n.toString(16).toUpperCase()}`;

export const driver: BootloaderDriver = {
  protocol: "sam-ba",
  name: "SAM-BA",
  links: ["serial"],

  supports: (t) => t.protocol === "sam-ba" && rowChip(t) !== undefined,

  adapter: (t, link, env) => new SamBaAdapter(options(t, serial(t, link), env)),

  async status(t, link, env): Promise<StatusReport> {
    const adapter = new SamBaAdapter(options(t, serial(t, link), env, { stayInMonitor: true }));
    const ctx = driverContext(env);
    try {
      await adapter.enter(ctx);
      const d = await adapter.connect(ctx);
      const c = adapter.chip!;
      return {
        bootloader: t.bootloader,
        fields: [
          { label: "Version", value: d.bootloaderVersion ?? "?" },
          { label: "Device", value: c.chip.name },
          { label: "MCU type", value: c.mcu ?? "?" },
          { label: "Chip id", value: c.id },
          { label: "Address", value: hex(c.chip.flashBase) },
          { label: "Pages", value: String(c.chip.pages) },
          { label: "Page Size", value: `${c.chip.pageSize} bytes` },
          { label: "Total Size", value: `${flashSize(c.chip) / 1024}KB` },
          {
            label: "Application Space",
            value: `${hex(d.geometry.start)}..${hex(d.geometry.end ?? 0)}`,
          },
        ],
        description: d.description,
      };
    } finally {
      await adapter.close();
    }
  },

  async request(t, link, env): Promise<RequestReport> {
    const ctx = driverContext(env);
    const r = await reachMonitor(options(t, serial(t, link), env), ctx);
    await r.link.close();
    return {
      bootloader: t.bootloader,
      at: r.path,
      already: r.entered === "already",
      confirmed: true,
    };
  },

  async probe(t, link, env) {
    const ctx = driverContext({ ...env, dryRun: true });
    const s = serial(t, link);
    const r = await reachMonitor(options(t, s, env), ctx).catch(() => undefined);
    if (!r) return { present: false };
    try {
      const m = await identifyChip(r.session, s.device);
      return {
        present: true,
        description: `${t.bootloader} (${r.version.text}) on ${m.mcu ?? m.chip.name}`,
      };
    } catch {
      return { present: true, description: `${t.bootloader} (${r.version.text})` };
    } finally {
      await r.link.close();
    }
  },
};
