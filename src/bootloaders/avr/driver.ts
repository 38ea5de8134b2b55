// The Arduino serial bootloaders (STK500v1: Optiboot, ATmegaBOOT; STK500v2:
// the Mega 2560's) as drivers, one per protocol, sharing everything but the
// session: a tty, a reset pulse into the listen window, the signature check
// against the row's chip. Status reads the bootloader's version and part; a
// request is impossible (the bootloader runs the application after about a
// second): the driver has none, so the caller refuses before touching the board.

import {
  driverContext,
  type BootloaderDriver,
  type DriverEnv,
  type Link,
  type SerialLink,
  type StatusReport,
} from "../../flash-api/driver.js";
import { LinkNotSupportedError } from "../../flash-api/errors.js";
import type { Target } from "../../targets/index.js";
import { avrAdapterFor, type AvrAdapterOptions } from "./adapter-for.js";
import { isAvrRow, type AvrProtocol } from "./rows.js";

function serial(t: Target, link: Link): SerialLink {
  if (link.kind !== "serial")
    throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["serial"]);
  return link;
}

const options = (
  link: SerialLink,
  env: DriverEnv,
  extra: Partial<AvrAdapterOptions> = {},
): AvrAdapterOptions => ({
  device: link.device,
  ...(link.baud !== undefined ? { baud: link.baud } : {}),
  ...(env.procRoot ? { procRoot: env.procRoot } : {}),
  ...(env.wrapTransport ? { wrapTransport: env.wrapTransport } : {}),
  ...extra,
});

export function avrDriver(protocol: AvrProtocol): BootloaderDriver {
  return {
    protocol,
    name: protocol === "stk500v2" ? "Arduino STK500v2" : "Arduino STK500v1",
    links: ["serial"],

    supports: (t) => t.protocol === protocol && isAvrRow(t),

    adapter: (t, link, env) => avrAdapterFor(t, options(serial(t, link), env)),

    async status(t, link, env): Promise<StatusReport> {
      const adapter = avrAdapterFor(t, options(serial(t, link), env));
      const ctx = driverContext(env);
      try {
        await adapter.enter!(ctx);
        const d = await adapter.connect(ctx);
        return {
          bootloader: t.bootloader.split(" (")[0]!,
          fields: [
            { label: "Bootloader Version", value: d.bootloaderVersion ?? "?" },
            { label: "MCU type", value: d.mcu ?? "?" },
            { label: "Page Size", value: `${d.geometry.blockSize} bytes` },
            {
              label: "Application Space",
              value: `0x0..0x${(d.geometry.end ?? 0).toString(16).toUpperCase()}`,
            },
          ],
          description: d.description,
          notes: [d.description],
        };
      } finally {
        await adapter.close();
      }
    },

    async probe(t, link, env) {
      const adapter = avrAdapterFor(
        t,
        options(serial(t, link), env, { resetRounds: 1, probeOthers: false }),
      );
      const ctx = driverContext(env);
      try {
        await adapter.enter!(ctx);
        const d = await adapter.connect(ctx);
        return { present: true, description: d.description };
      } catch {
        return { present: false };
      } finally {
        await adapter.close();
      }
    },
  };
}
