// The write path through the real openocd 0.12 without a chip: the chain
// is canflash's TAP model behind remote_bitbang, the target and flash
// OpenOCD's own stand-ins — the "testee" target (examined, halts, has no
// memory) and a "faux" flash bank (writes go to host RAM). canflash finds the bank
// (address, size), erases the sectors it writes, writes its pieces with
// `flash write_image` — and the verify fails (testee cannot read memory),
// so the chip is never `reset run` into what was written: the flash fails
// in verify with the chip left halted.
import { afterEach, describe, expect, it } from "vitest";
import { driverFor } from "../../../src/bootloaders/index.js";
import type { OpenOcdLink } from "../../../src/flash-api/driver.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { FlashError } from "../../../src/flasher/errors.js";
import { findTarget } from "../../../src/targets/index.js";
import { realClock } from "../../../src/util/clock.js";
import { randomBytes } from "../../../src/util/random.js";
import { RemoteBitbangServer } from "../../../src/sim/jtag/remote-bitbang.js";
import { JtagTap } from "../../../src/sim/jtag/tap.js";
import { bitbangConfig, configFile, haveOpenOcd, OPENOCD } from "./harness.js";

const ARM_JTAG_DP = 0x4ba00477;
const FAUX = `target create chip.cpu testee -chain-position chip.cpu
flash bank chip.flash faux 0x08000000 0x10000 0 0 chip.cpu
`;
let bitbang: RemoteBitbangServer | undefined;
afterEach(async () => bitbang?.close());

describe.skipIf(!haveOpenOcd)("openocd 0.12's testee target and faux flash", () => {
  it("writes through flash write_image, fails verify, never resets into the image", async () => {
    const target = findTarget("openocd-swd");
    // The chain: remote_bitbang into the TAP model (IDCODE as expected), then the stand-ins on it.
    bitbang = await RemoteBitbangServer.listen(new JtagTap({ idcode: ARM_JTAG_DP }));
    const config = configFile(bitbangConfig(bitbang.port, ARM_JTAG_DP) + FAUX);
    const link: OpenOcdLink = { kind: "openocd", config, bin: OPENOCD };
    const adapter = (await driverFor(target)).adapter(target, link, { clock: realClock });
    const commands: string[] = [];
    const infos: string[] = [];
    const image = { segments: [{ address: 0x08000000, data: randomBytes(20_000, 9) }] };
    const e = await runFlash(adapter, image, {
      onEvent: (ev) => {
        if (ev.type !== "info") return;
        infos.push(ev.message);
        if (typeof ev.data?.command === "string") commands.push(ev.data.command);
      },
    }).catch((x: unknown) => x);
    expect(
      infos.some((m) => /chip\.cpu \(testee\) over jtag, flash 64 KiB at 0x8000000/.test(m)),
    ).toBe(true);
    expect(commands.slice(0, 3)).toEqual([
      "reset halt",
      "flash erase_address pad 0x08000000 0x4000",
      "flash erase_address pad 0x08004000 0xe20",
    ]);
    expect(commands.filter((c) => c.startsWith("flash write_image"))).toHaveLength(2);
    expect(commands.at(-1)).toMatch(/^verify_image /);
    expect(commands).not.toContain("reset run");
    expect(e).toBeInstanceOf(FlashError);
    expect(e).toMatchObject({ phase: "verify", deviceState: "in-bootloader" });
    expect((e as FlashError).cause).toMatchObject({
      code: "OPENOCD_VERIFY_FAILED",
      address: 0x08000000,
    });
  });
});
