// Reaching OpenOCD for one link: connect to the running one it names, or
// start openocd with the link's config file or with the config canflash
// writes (config.ts) for its GPIO pins and chip. The config and a dry
// run's script are what a person would type; close() ends what was opened.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OpenOcdLink } from "../../flash-api/driver.js";
import type { Clock } from "../../util/clock.js";
import type { SwdChip } from "./chips.js";
import { gpioConfig, raspberryPiOf, SEED_SWD_SPEED_KHZ } from "./config.js";
import { OpenOcdSetupError } from "./errors.js";
import { launchOpenOcd, type OpenOcdProcess } from "./process.js";
import { OpenOcdRpc } from "./rpc-client.js";

/** The openocd binary when the link names none (the CLI takes $CANFLASH_OPENOCD and --openocd-bin). */
export const DEFAULT_OPENOCD_BIN = "openocd";

export interface SessionEnv {
  clock: Clock;
  signal?: AbortSignal | undefined;
  /** /proc (tests: a fake tree with device-tree/model). */
  procRoot?: string | undefined;
}

/** The config text canflash writes for a GPIO link, or undefined when the link names its own config or a running OpenOCD. */
export async function writtenConfig(
  link: OpenOcdLink,
  chip: SwdChip | undefined,
  env: SessionEnv,
  target: string,
): Promise<string | undefined> {
  if (link.rpc || link.config) return undefined;
  const g = link.gpio;
  if (!g)
    throw new OpenOcdSetupError(
      "pins-missing",
      `${target}: give the SWD pins (swclk, swdio, srst) or an OpenOCD config file`,
    );
  if (!chip)
    throw new OpenOcdSetupError(
      "no-chip",
      `${target}: canflash writes a config only for a chip it knows; name the chip or give an OpenOCD config file`,
    );
  let base = g.peripheralBase;
  let coeffs: readonly [number, number] | undefined;
  if (g.driver === "bcm2835gpio" && base === undefined) {
    const model = await readFile(join(env.procRoot ?? "/proc", "device-tree/model"), "utf8").catch(
      () => "",
    );
    const pi = raspberryPiOf(model);
    if (!pi)
      throw new OpenOcdSetupError(
        "pi-unknown",
        `bcm2835gpio drives a Raspberry Pi 1–4's GPIO, and this is ${model.replace(/\0/g, "").trim() || "no Raspberry Pi"}: use linuxgpiod`,
      );
    base = pi.peripheralBase;
    coeffs = pi.speedCoeffs;
  }
  return gpioConfig({
    driver: g.driver,
    pins: { swclk: g.swclk, swdio: g.swdio, ...(g.srst !== undefined ? { srst: g.srst } : {}) },
    ...(base !== undefined ? { peripheralBase: base } : {}),
    ...(coeffs ? { speedCoeffs: coeffs } : {}),
    ...(g.gpiochip !== undefined ? { gpiochip: g.gpiochip } : {}),
    speedKhz: link.speedKhz ?? SEED_SWD_SPEED_KHZ,
    targetCfg: chip.targetCfg,
    ...(link.workAreaSize !== undefined ? { workAreaSize: link.workAreaSize } : {}),
    ...(link.connectUnderReset ? { connectUnderReset: true } : {}),
  });
}

/** The adapter driver a config names, for messages ("bcm2835gpio", "cmsis-dap"). */
export function adapterOf(configText: string): string | undefined {
  return /^\s*adapter\s+driver\s+(\S+)/m.exec(configText)?.[1];
}

export class OpenOcdSession {
  private constructor(
    readonly rpc: OpenOcdRpc,
    readonly process: OpenOcdProcess | undefined,
    private readonly tempDir: string | undefined,
    /** The adapter driver, when known. */
    readonly adapter: string | undefined,
    /** Where the session keeps files OpenOCD reads (image pieces). */
    readonly workDir: string,
  ) {}

  /** Connects or starts openocd. */
  static async open(
    link: OpenOcdLink,
    chip: SwdChip | undefined,
    env: SessionEnv,
    target: string,
  ): Promise<OpenOcdSession> {
    const work = await mkdtemp(join(tmpdir(), "canflash-openocd-"));
    try {
      if (link.rpc) {
        const rpc = await OpenOcdRpc.connect(link.rpc.host, link.rpc.port, env.clock);
        return new OpenOcdSession(rpc, undefined, work, undefined, work);
      }
      const text = await writtenConfig(link, chip, env, target);
      let config = link.config;
      let adapter: string | undefined;
      if (text !== undefined) {
        config = join(work, "canflash-openocd.cfg");
        await writeFile(config, text);
        adapter = adapterOf(text);
      } else if (config) adapter = adapterOf(await readFile(config, "utf8").catch(() => ""));
      const bin = link.bin ?? DEFAULT_OPENOCD_BIN;
      const { process: child, rpc } = await launchOpenOcd({
        bin,
        config: config!,
        clock: env.clock,
        signal: env.signal,
        ...(link.env ? { env: link.env } : {}),
        adapter,
      });
      return new OpenOcdSession(rpc, child, work, adapter, work);
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      throw e;
    }
  }

  /** What openocd printed, when canflash started it. */
  get output(): string {
    return this.process?.text ?? "";
  }

  async close(): Promise<void> {
    await this.rpc.close().catch(() => undefined);
    await this.process?.stop();
    if (this.tempDir) await rm(this.tempDir, { recursive: true, force: true });
  }
}
