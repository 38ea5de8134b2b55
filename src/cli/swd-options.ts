// The SWD/OpenOCD flags of the command line, parsed into the link the
// library takes (flash-api's OpenOcdLink): -d openocd:HOST:PORT for a
// running OpenOCD, --openocd-config for the user's config, or --swd pins
// (with --swd-driver) for the config canflash writes. Contradictions and
// missing parts are UsageErrors before anything runs.

import type { OpenOcdLink } from "../flash-api/driver.js";
import { UsageError } from "./usage-error.js";

/** OpenOCD's TCL RPC port when -d openocd: names none. */
export const OPENOCD_RPC_DEFAULT_PORT = 6666;

export interface SwdFlags {
  device?: string | undefined;
  openocdConfig?: string | undefined;
  swd?: string | undefined;
  swdDriver?: string | undefined;
  swdSpeed?: string | undefined;
  swdChip?: string | undefined;
  address?: string | undefined;
  openocdBin?: string | undefined;
  backup?: string | false | undefined;
  chipErase?: boolean | undefined;
  bootloaderSize?: string | undefined;
  workAreaSize?: string | undefined;
  connectUnderReset?: boolean | undefined;
}

/** Did the command line say anything about SWD? */
export const anySwdFlag = (f: SwdFlags): boolean =>
  [
    f.openocdConfig,
    f.swd,
    f.swdDriver,
    f.swdSpeed,
    f.swdChip,
    f.address,
    f.openocdBin,
    f.bootloaderSize,
    f.workAreaSize,
    f.connectUnderReset,
  ].some((x) => x !== undefined) || isOpenOcdDevice(f.device);

export const isOpenOcdDevice = (d: string | undefined): boolean => !!d && /^openocd:/i.test(d);

const SEED_PINS = "--swd swclk=25,swdio=24,srst=18";

function number(flag: string, s: string, max = 0xffffffff): number {
  const example = `e.g. ${flag} ${flag === "--address" ? "0x08000000" : "16384"}`;
  const n = /^0x[0-9a-f]+$/i.test(s) ? Number.parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN;
  if (Number.isNaN(n))
    throw new UsageError(`${flag} ${s}: not a number (decimal, or hex with 0x)`, example);
  if (!Number.isSafeInteger(n) || n > max)
    throw new UsageError(
      `${flag} ${s}: too large, at most ${max} (0x${max.toString(16)})`,
      example,
    );
  return n;
}

/** "swclk=25,swdio=24,srst=18[,chip=0]" → pins. */
export function parseSwdPins(s: string): {
  swclk: number;
  swdio: number;
  srst?: number;
  gpiochip?: number;
} {
  const out: Record<string, number> = {};
  for (const part of s.split(",").filter(Boolean)) {
    const m = /^(swclk|swdio|srst|chip)=(\d+)$/i.exec(part.trim());
    if (!m)
      throw new UsageError(
        `--swd ${s}: "${part}" is not pin=GPIO`,
        `e.g. ${SEED_PINS} (the seed's wiring)`,
      );
    out[m[1]!.toLowerCase()] = Number(m[2]);
  }
  if (out.swclk === undefined || out.swdio === undefined)
    throw new UsageError(`--swd ${s}: swclk and swdio are both needed`, `e.g. ${SEED_PINS}`);
  const used = [out.swclk, out.swdio, ...(out.srst !== undefined ? [out.srst] : [])];
  if (new Set(used).size !== used.length || used.some((n) => n > 63))
    throw new UsageError(
      `--swd ${s}: the SWD pins must differ and be GPIO numbers (0-63)`,
      `e.g. ${SEED_PINS}`,
    );
  return {
    swclk: out.swclk,
    swdio: out.swdio,
    ...(out.srst !== undefined ? { srst: out.srst } : {}),
    ...(out.chip !== undefined ? { gpiochip: out.chip } : {}),
  };
}

/** "openocd:HOST:PORT", "openocd:HOST", "openocd:" → where OpenOCD's RPC server is. */
export function parseOpenOcdDevice(d: string): { host: string; port: number } {
  const rest = d.replace(/^openocd:/i, "");
  const m = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(rest);
  if (!m) throw new UsageError(`-d ${d}: not openocd:HOST:PORT`, "e.g. -d openocd:localhost:6666");
  const port = m[2] !== undefined ? Number(m[2]) : OPENOCD_RPC_DEFAULT_PORT;
  if (port < 1 || port > 65535)
    throw new UsageError(`-d ${d}: no TCP port`, "e.g. -d openocd:localhost:6666");
  return { host: (m[1] || "localhost").replace(/^\[|\]$/g, ""), port };
}

/** The OpenOCD link the flags describe, for a row of protocol "swd". */
export function swdLinkOf(f: SwdFlags, env: Record<string, string | undefined>): OpenOcdLink {
  const rpc = isOpenOcdDevice(f.device) ? parseOpenOcdDevice(f.device!) : undefined;
  if (f.device !== undefined && !rpc)
    throw new UsageError(
      `-d ${f.device}: an SWD target is reached through OpenOCD, not a tty`,
      `give the pins (${SEED_PINS}), an OpenOCD config (--openocd-config my.cfg) or a running OpenOCD (-d openocd:localhost:6666)`,
    );
  const ways = [
    rpc && "-d openocd:…",
    f.openocdConfig && "--openocd-config",
    f.swd && "--swd",
  ].filter(Boolean);
  if (ways.length > 1)
    throw new UsageError(
      `${ways.join(" and ")} are different ways to reach the chip: give one`,
      `your own config: --openocd-config my.cfg; or the pins for canflash's: ${SEED_PINS}`,
    );
  if (ways.length === 0)
    throw new UsageError(
      "how is the chip wired? an SWD target needs its SWD pins or an OpenOCD config",
      `on a Raspberry Pi: ${SEED_PINS}; with a probe: --openocd-config my.cfg; a running OpenOCD: -d openocd:localhost:6666`,
    );
  if (f.connectUnderReset && !/srst=/i.test(f.swd ?? ""))
    throw new UsageError(
      f.swd
        ? "--connect-under-reset holds the reset wire: give srst=<GPIO> in --swd"
        : "--connect-under-reset shapes the config canflash writes for --swd pins",
      f.swd
        ? `e.g. ${SEED_PINS} --connect-under-reset`
        : "in your own config: reset_config srst_only srst_nogate connect_assert_srst",
    );
  if (
    !f.swd &&
    (f.swdDriver !== undefined || f.swdSpeed !== undefined || f.workAreaSize !== undefined)
  )
    throw new UsageError(
      `${f.swdDriver !== undefined ? "--swd-driver" : f.swdSpeed !== undefined ? "--swd-speed" : "--work-area-size"} only shapes the config canflash writes for --swd pins`,
      "set it in your OpenOCD config instead, or give --swd pins",
    );
  if (rpc && f.openocdBin !== undefined)
    throw new UsageError(
      "--openocd-bin starts an openocd; -d openocd:… names one already running",
      "drop one",
    );
  const driver = f.swdDriver ?? "bcm2835gpio";
  if (driver !== "bcm2835gpio" && driver !== "linuxgpiod")
    throw new UsageError(
      `--swd-driver ${driver}: bcm2835gpio or linuxgpiod`,
      "a Pi 1-4: bcm2835gpio; a Pi 5 or another board: linuxgpiod",
    );
  const pins = f.swd ? parseSwdPins(f.swd) : undefined;
  const bin = f.openocdBin ?? env.CANFLASH_OPENOCD;
  return {
    kind: "openocd",
    ...(rpc ? { rpc } : {}),
    ...(f.openocdConfig ? { config: f.openocdConfig } : {}),
    ...(pins ? { gpio: { driver, ...pins } } : {}),
    ...(f.swdSpeed !== undefined ? { speedKhz: number("--swd-speed", f.swdSpeed, 100_000) } : {}),
    ...(f.workAreaSize !== undefined
      ? { workAreaSize: number("--work-area-size", f.workAreaSize) }
      : {}),
    ...(bin !== undefined && !rpc ? { bin } : {}),
    ...(f.swdChip ? { chip: f.swdChip } : {}),
    ...(f.connectUnderReset ? { connectUnderReset: true } : {}),
    ...(f.address !== undefined ? { address: number("--address", f.address) } : {}),
    ...(typeof f.backup === "string" ? { backup: f.backup } : {}),
    ...(f.chipErase === false ? { noChipErase: true } : {}),
    ...(f.bootloaderSize !== undefined
      ? { bootProtectAfter: number("--bootloader-size", f.bootloaderSize) }
      : {}),
  };
}

/** The flags that give `link` again (the retry line). */
export function openocdFlags(l: OpenOcdLink): string {
  const parts: string[] = [];
  if (l.rpc) parts.push(`-d openocd:${l.rpc.host}:${l.rpc.port}`);
  if (l.config) parts.push(`--openocd-config ${l.config}`);
  // the binary that ran (from --openocd-bin or CANFLASH_OPENOCD): without it a retry starts another
  if (l.bin !== undefined && l.bin !== "openocd") parts.push(`--openocd-bin ${l.bin}`);
  if (l.gpio) {
    const g = l.gpio;
    parts.push(
      `--swd swclk=${g.swclk},swdio=${g.swdio}${g.srst !== undefined ? `,srst=${g.srst}` : ""}${g.gpiochip !== undefined ? `,chip=${g.gpiochip}` : ""}`,
    );
    if (g.driver !== "bcm2835gpio") parts.push(`--swd-driver ${g.driver}`);
  }
  if (l.speedKhz !== undefined) parts.push(`--swd-speed ${l.speedKhz}`);
  if (l.connectUnderReset) parts.push("--connect-under-reset");
  if (l.chip) parts.push(`--swd-chip ${l.chip}`);
  if (l.address !== undefined) parts.push(`--address 0x${l.address.toString(16)}`);
  if (l.backup === undefined) parts.push("--no-backup");
  if (l.noChipErase) parts.push("--no-chip-erase");
  if (l.bootProtectAfter !== undefined) parts.push(`--bootloader-size ${l.bootProtectAfter}`);
  return parts.join(" ");
}
