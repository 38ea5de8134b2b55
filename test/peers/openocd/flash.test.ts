// canflash's SWD flash through the real openocd 0.12 as far as a chip-less
// adapter goes: started through a wrapper binary (the path is the
// caller's), with the caller's environment, it finds no target, the flash
// fails in connect with nothing written, and the openocd it started is gone.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { driverFor } from "../../../src/bootloaders/index.js";
import type { OpenOcdLink } from "../../../src/flash-api/driver.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { FlashError } from "../../../src/flasher/errors.js";
import { findTarget } from "../../../src/targets/index.js";
import { realClock } from "../../../src/util/clock.js";
import { alive, configFile, DUMMY_CONFIG, haveOpenOcd, OPENOCD } from "./harness.js";

describe.skipIf(!haveOpenOcd)("an SWD flash through openocd 0.12 with no chip", () => {
  it("fails in connect with OPENOCD_NO_TARGET, nothing written, openocd stopped", async () => {
    const config = configFile(DUMMY_CONFIG);
    const pidFile = join(dirname(config), "pid");
    const wrapper = join(dirname(config), "openocd-wrapper");
    writeFileSync(
      wrapper,
      `#!/bin/sh\necho $$ > "${pidFile}"\necho "$WRAPPED_BY" > "${pidFile}.env"\nexec ${OPENOCD} "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    const target = findTarget("samc21-swd");
    const link: OpenOcdLink = {
      kind: "openocd",
      config,
      bin: wrapper,
      env: { ...process.env, WRAPPED_BY: "the-test" },
    };
    const adapter = (await driverFor(target)).adapter(target, link, { clock: realClock });
    const events: string[] = [];
    const image = { segments: [{ address: 0, data: new Uint8Array(1024).fill(0x5a) }] };
    const e = await runFlash(adapter, image, {
      onEvent: (ev) => ev.type === "info" && events.push(ev.message),
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FlashError);
    expect(e).toMatchObject({ phase: "connect", deviceState: "untouched" });
    expect((e as FlashError).cause).toMatchObject({ code: "OPENOCD_NO_TARGET", transport: "jtag" });
    expect(events.some((m) => m.includes("write_image"))).toBe(false);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(alive(pid)).toBe(false);
    expect(readFileSync(`${pidFile}.env`, "utf8").trim()).toBe("the-test");
  });

  it("a dry run starts nothing and says what it would send", async () => {
    const target = findTarget("samc21-swd");
    const link: OpenOcdLink = {
      kind: "openocd",
      gpio: { driver: "linuxgpiod", swclk: 25, swdio: 24, srst: 18 },
      bin: "/nonexistent/openocd",
      backup: "/tmp/backup.bin",
    };
    const adapter = (await driverFor(target)).adapter(target, link, { clock: realClock });
    const infos: Array<Record<string, unknown>> = [];
    const r = await runFlash(
      adapter,
      { segments: [{ address: 0, data: new Uint8Array(40000).fill(1) }] },
      {
        dryRun: true,
        onEvent: (ev) => ev.type === "info" && ev.data && infos.push(ev.data),
      },
    );
    expect(r.dryRun).toBe(true);
    const script = infos.find((d) => d.openocdScript)!;
    expect(script.openocdScript).toEqual([
      "reset halt",
      "flash read_bank 0 /tmp/backup.bin",
      "at91samd chip-erase",
      "read_memory 0x41002101 8 1",
      "at91samd bootloader 0",
      "reset halt",
      expect.stringMatching(/^flash write_image \S+block-0\.bin 0x00000000 bin$/),
      expect.stringMatching(/^flash write_image \S+block-4000\.bin 0x00004000 bin$/),
      expect.stringMatching(/^flash write_image \S+block-8000\.bin 0x00008000 bin$/),
      expect.stringMatching(/^verify_image \S+block-0\.bin 0x00000000 bin$/),
      expect.stringMatching(/^verify_image \S+block-4000\.bin 0x00004000 bin$/),
      expect.stringMatching(/^verify_image \S+block-8000\.bin 0x00008000 bin$/),
      "reset run",
    ]);
    expect(script.openocdConfig).toContain("source [find target/at91samdXX.cfg]");
  });
});
