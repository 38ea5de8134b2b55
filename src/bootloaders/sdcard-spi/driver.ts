// Klipper's flash-sdcard as a driver: a board whose SD slot is on its
// MCU's SPI, reached over the running Klipper's tty (USB CDC, or a UART at
// the row's baud, 250000 by default). The rows are board_defs.py's boards;
// those needing a vendor conversion of the image are listed but refused.

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
import { openSerial } from "../../transport/serial.js";
import { createHash } from "node:crypto";
import { SdSpiAdapter, type SdSpiAdapterOptions } from "./adapter.js";
import { busText, sdSpiProfile } from "./profile.js";
import { KlipperSdSession } from "./session.js";

/** Klipper's default UART speed (flash-sdcard.sh -b). */
export const DEFAULT_KLIPPER_BAUD = 250000;

function serial(t: Target, link: Link): SerialLink {
  if (link.kind !== "serial")
    throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["serial"]);
  return link;
}

function opener(t: Target, link: SerialLink, env: DriverEnv): () => Promise<ByteTransport> {
  return async () => {
    const s = await openSerial({
      path: link.device,
      baudRate: link.baud ?? t.defaultBaud ?? DEFAULT_KLIPPER_BAUD,
      clock: env.clock,
      ...(env.procRoot ? { procRoot: env.procRoot } : {}),
    });
    return env.wrapTransport ? env.wrapTransport(s) : s;
  };
}

/** The adapter for one board (tests pass `open` for an in-process link). */
export function sdSpiAdapter(
  t: Target,
  link: SerialLink,
  env: DriverEnv,
  extra: Partial<SdSpiAdapterOptions> = {},
): SdSpiAdapter {
  return new SdSpiAdapter({
    target: t,
    profile: sdSpiProfile(t),
    device: link.device,
    open: opener(t, link, env),
    ...extra,
  });
}

/** What -s says: the running Klipper, the card, and the bootloader's files on it. */
export async function sdSpiStatus(
  t: Target,
  device: string,
  open: () => Promise<ByteTransport>,
  env: DriverEnv,
): Promise<StatusReport> {
  const p = sdSpiProfile(t);
  const ctx = driverContext(env);
  const session = new KlipperSdSession({
    device,
    target: t.id,
    profile: p,
    open,
    clock: ctx.clock,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  try {
    const id = await session.connect();
    const m = await session.mountCard();
    const names = (await m.volume.list()).map((f) => f.name);
    const cur = await m.volume.read(p.currentName);
    const fw = names.find((n) => n.toLowerCase() === p.fileName.toLowerCase());
    const d = id.dictionary;
    return {
      bootloader: "Klipper (flash-sdcard)",
      fields: [
        { label: "Klipper", value: d.version },
        { label: "MCU", value: d.mcu ?? "unknown" },
        { label: "SD card", value: `${busText(p)}, CS ${p.csPin}, FAT${m.volume.layout.type}` },
        { label: p.fileName, value: fw ? "on the card (not flashed yet)" : "not on the card" },
        {
          label: p.currentName,
          value: cur
            ? `${cur.length} bytes, SHA-1 ${createHash("sha1").update(cur).digest("hex")}`
            : "not on the card",
        },
      ],
      description: `Klipper ${d.version} on ${d.mcu ?? "an unknown MCU"} (${p.board}), SD card ready`,
    };
  } finally {
    await session.close();
  }
}

export const driver: BootloaderDriver = {
  protocol: "sdcard-spi",
  name: "Klipper flash-sdcard",
  links: ["serial"],
  // Rows needing a vendor conversion are listed as not flashable (their seed
  // command is Klipper's own script); the adapter refuses them too.
  supports: (t) =>
    t.protocol === "sdcard-spi" && t.sdSpi !== undefined && !t.sdSpi.conversionScript,
  adapter: (t, link, env) => sdSpiAdapter(t, serial(t, link), env),
  status: (t, link, env) => {
    const l = serial(t, link);
    return sdSpiStatus(t, l.device, opener(t, l, env), env);
  },
};
