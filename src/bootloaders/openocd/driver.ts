// The SWD driver (rows samc21-swd, openocd-swd): chips reached through
// OpenOCD — a running one's TCL RPC port, or an openocd started with the
// user's config or the seed's Raspberry Pi config canflash writes. The chip
// comes from the link (a name given), else the row; its family picks the
// target script and the erase command (chips.ts).

import type {
  BootloaderDriver,
  DriverEnv,
  Link,
  OpenOcdLink,
  StatusReport,
} from "../../flash-api/driver.js";
import { LinkNotSupportedError } from "../../flash-api/errors.js";
import type { Target } from "../../targets/index.js";
import { OpenOcdAdapter } from "./adapter.js";
import { KNOWN_SWD_CHIPS, swdChip, type SwdChip } from "./chips.js";
import { examine } from "./examine.js";
import { OpenOcdSetupError } from "./errors.js";
import { OpenOcdSession } from "./session.js";

function openocdLink(t: Target, link: Link): OpenOcdLink {
  if (link.kind !== "openocd")
    throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["openocd"]);
  if (link.config && link.gpio)
    throw new OpenOcdSetupError(
      "config-and-pins",
      `${t.id}: an OpenOCD config file and SWD pins are two ways to say the same; give one`,
    );
  return link;
}

/** The chip's name and facts: the link's, else the row's single MCU. */
export function chipOf(
  t: Target,
  link: OpenOcdLink,
): { mcu: string | undefined; chip: SwdChip | undefined } {
  const mcu = link.chip ?? (t.mcu.length === 1 && t.mcu[0] !== "*" ? t.mcu[0] : undefined);
  const chip = mcu ? swdChip(mcu) : undefined;
  if (mcu && !chip && !link.config && !link.rpc)
    throw new OpenOcdSetupError(
      "unknown-chip",
      `canflash knows no OpenOCD target script for ${mcu} (it knows ${KNOWN_SWD_CHIPS}): give an OpenOCD config file`,
    );
  return { mcu, chip };
}

const sessionEnv = (env: DriverEnv) => ({
  clock: env.clock,
  signal: env.signal,
  ...(env.procRoot ? { procRoot: env.procRoot } : {}),
});

export const driver: BootloaderDriver = {
  protocol: "swd",
  name: "OpenOCD (SWD)",
  links: ["openocd"],
  supports: (t) => t.protocol === "swd",
  adapter(t, link, env) {
    const l = openocdLink(t, link);
    const { mcu, chip } = chipOf(t, l);
    if (l.bootProtectAfter !== undefined && !chip?.bootProtect)
      throw new OpenOcdSetupError(
        "no-boot-protect",
        `${mcu ?? t.id}: only the SAMD/SAMC/SAME5x chips keep a bootloader size (BOOTPROT) to set`,
      );
    return new OpenOcdAdapter({ target: t, link: l, chip, mcu, env: sessionEnv(env) });
  },
  async status(t, link, env): Promise<StatusReport> {
    const l = openocdLink(t, link);
    const { chip } = chipOf(t, l);
    const s = await OpenOcdSession.open(l, chip, sessionEnv(env), t.id);
    try {
      const e = await examine(s.rpc, env.signal);
      const fields = [
        { label: "OpenOCD", value: e.version },
        { label: "Transport", value: e.transport },
        ...(e.dpidr !== undefined
          ? [{ label: "DPIDR", value: `0x${e.dpidr.toString(16).padStart(8, "0")}` }]
          : []),
        ...e.taps.map((tap) => ({
          label: `TAP ${tap.name}`,
          value: `IDCODE 0x${tap.idcode.toString(16).padStart(8, "0")}`,
        })),
        ...e.targets.map((x) => ({ label: `Target ${x.name}`, value: `${x.type}, ${x.state}` })),
      ];
      return {
        bootloader: "OpenOCD",
        fields,
        description: `${e.version} over ${e.transport}: ${e.targets.map((x) => `${x.name} ${x.state}`).join(", ") || "no target"}`,
      };
    } finally {
      await s.close();
    }
  },
};
