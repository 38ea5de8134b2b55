// The STM32 ROM USART bootloader (ST AN3155, what stm32flash does) as a
// driver: a tty at the row's baud in 8E1 (or the line mode given: 8N1 for
// ptys and adapters without parity), entered by a person (BOOT0 + reset).
// Status reports the ROM's version, product id and commands — readout
// protection included, which only GET/GET_VERSION/GET_ID survive. There
// is no request: software cannot set BOOT0; the caller refuses -r first.

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
import type { ByteTransport } from "../../transport/byte-transport.js";
import { MODE_8E1 } from "../../transport/serial-mode.js";
import { Stm32UsartAdapter, type Stm32AdapterOptions } from "./adapter.js";
import { cmdName, formatVersion } from "./codec.js";
import { DEFAULT_STM32_BAUD, lineTiming, modeText, openStm32Line } from "./line.js";
import { formatPid, partsForChip } from "./parts.js";

function serial(t: Target, link: Link): SerialLink {
  if (link.kind !== "serial")
    throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["serial"]);
  return link;
}

/** The adapter for one board on a tty, from its row and link. */
export function stm32Adapter(
  t: Target,
  link: SerialLink,
  env: DriverEnv,
  extra: Partial<Stm32AdapterOptions> = {},
): Stm32UsartAdapter {
  const baud = link.baud ?? t.defaultBaud ?? DEFAULT_STM32_BAUD;
  const mode = link.mode ?? MODE_8E1;
  const open = async (): Promise<ByteTransport> => {
    const l = await openStm32Line({
      device: link.device,
      baud,
      mode,
      clock: env.clock,
      ...(env.usbTree ? { sysRoot: env.usbTree.sysfsRoot } : {}),
      ...(env.procRoot ? { procRoot: env.procRoot } : {}),
    });
    return env.wrapTransport ? env.wrapTransport(l) : l;
  };
  return new Stm32UsartAdapter({
    port: link.device,
    line: lineTiming(baud, mode),
    mode: modeText(mode),
    target: { id: t.id, chip: t.chip },
    open,
    ...(link.lines ? { lines: link.lines } : {}),
    ...extra,
  });
}

export const driver: BootloaderDriver = {
  protocol: "stm32-usart",
  name: "STM32 ROM bootloader",
  links: ["serial"],
  serialModes: ["8e1", "8n1"],
  lineSequences: true,

  supports: (t) => t.protocol === "stm32-usart" && partsForChip(t.chip).length > 0,

  adapter: (t, link, env) => stm32Adapter(t, serial(t, link), env),

  async status(t, link, env): Promise<StatusReport> {
    const adapter = stm32Adapter(t, serial(t, link), env);
    const ctx = driverContext(env);
    try {
      await adapter.enter(ctx);
      const id = await adapter.identify();
      const part = id.part
        ? `${id.part.name} (${formatPid(id.pid)})`
        : `unknown part ${formatPid(id.pid)}`;
      const fields = [
        { label: "Bootloader Version", value: formatVersion(id.version) },
        { label: "Product ID", value: part },
        {
          label: "Flash",
          value: id.readoutProtected
            ? "unreadable (readout protection)"
            : `${(id.flashSize ?? 0) / 1024} KiB`,
        },
        { label: "Readout Protection", value: id.readoutProtected ? "on" : "off" },
        {
          label: "Write Protection",
          value: !id.writeProtected
            ? "unknown"
            : id.writeProtected.length
              ? id.writeProtected
                  .map(([s, e]) => `0x${s.toString(16)}..0x${e.toString(16)}`)
                  .join(", ")
              : "none",
        },
        { label: "Commands", value: id.commands.map(cmdName).join(", ") },
      ];
      const description = `STM32 ROM bootloader ${formatVersion(id.version)} on ${part}`;
      // A board the entry sequence reset into the ROM goes back to its application.
      const back = await adapter.abandon(ctx);
      const notes = [description, ...(back ? ["the exit sequence restarted the application"] : [])];
      return { bootloader: "STM32 ROM bootloader", fields, description, notes };
    } finally {
      await adapter.close();
    }
  },

  async probe(t, link, env) {
    const adapter = stm32Adapter(t, serial(t, link), env);
    const ctx = driverContext(env);
    try {
      await adapter.reach(ctx, false);
      const id = await adapter.identify();
      return {
        present: true,
        description: `STM32 ROM bootloader ${formatVersion(id.version)} on ${id.part?.name ?? formatPid(id.pid)}`,
      };
    } catch {
      return { present: false };
    } finally {
      await adapter.close();
    }
  },
};
