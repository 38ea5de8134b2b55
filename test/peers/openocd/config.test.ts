// The config canflash writes, read by the real openocd 0.12: every line
// parses (a wrong command would end openocd with its own error), and it
// gets as far as opening the GPIO chip — which does not exist here, so the
// error is the typed adapter-not-found one, naming linuxgpiod. (Debian's
// amd64 openocd has no bcm2835gpio driver: that variant is checked by the
// unit tests against the names of openocd 0.12's raspberrypi-native.cfg.)
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { swdChip } from "../../../src/bootloaders/openocd/chips.js";
import { gpioConfig } from "../../../src/bootloaders/openocd/config.js";
import { launchOpenOcd } from "../../../src/bootloaders/openocd/process.js";
import { realClock } from "../../../src/util/clock.js";
import { configFile, haveOpenOcd, OPENOCD } from "./harness.js";

describe.skipIf(!haveOpenOcd)("canflash's OpenOCD config in openocd 0.12", () => {
  it.each(["samc21g18a", "samd51j19a", "stm32f103xe", "stm32f446xx", "rp2040"])(
    "for %s: parsed to the adapter's init",
    async (mcu) => {
      const text = gpioConfig({
        driver: "linuxgpiod",
        pins: { swclk: 25, swdio: 24, srst: 18 },
        gpiochip: 99,
        speedKhz: 40,
        targetCfg: swdChip(mcu)!.targetCfg,
        workAreaSize: 0,
        connectUnderReset: true,
      });
      const e = await launchOpenOcd({
        bin: OPENOCD,
        config: configFile(text),
        clock: realClock,
        adapter: "linuxgpiod",
      }).catch((x: unknown) => x);
      expect(e).toMatchObject({
        code: "OPENOCD_ADAPTER_NOT_FOUND",
        adapter: "linuxgpiod",
        detail: expect.stringMatching(/Cannot open LinuxGPIOD chip 99/),
      });
    },
  );

  it.each([
    "samc21g18a",
    "samd21g18a",
    "samd51j19a",
    "stm32f103xe",
    "stm32f446xx",
    "stm32g0b1xx",
    "stm32h743xx",
  ])(
    "for %s: the target script's flash driver has the erase and BOOTPROT commands canflash sends",
    async (mcu) => {
      const chip = swdChip(mcu)!;
      const commands = [chip.chipErase!, ...(chip.bootProtect ? [chip.bootProtect(0)] : [])];
      const groups = [...new Set(commands.map((c) => c.split(" ")[0]!))];
      const { stdout, stderr } = await promisify(execFile)(OPENOCD, [
        "-c", "adapter driver dummy; transport select jtag",
        "-c", `source [find ${chip.targetCfg}]`,
        ...groups.flatMap((g) => ["-c", `help ${g}`]),
        "-c", "shutdown",
      ]); // prettier-ignore
      const help = stdout + stderr;
      for (const c of commands) expect(help).toContain(c.split(" ").slice(0, 2).join(" "));
    },
  );
});
