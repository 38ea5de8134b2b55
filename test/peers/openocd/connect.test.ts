// -d openocd:HOST:PORT: an OpenOCD the user runs (here started by the test,
// as a user would in another shell) is driven over its RPC port and left
// running — canflash neither starts nor stops it. The chain is the TAP
// model behind remote_bitbang, the target and flash OpenOCD's testee and
// faux stand-ins: -s reads it; a flash writes through it and fails verify
// (testee has no memory) with exit 4, the chip left halted and the retry.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchOpenOcd, type OpenOcdProcess } from "../../../src/bootloaders/openocd/process.js";
import type { OpenOcdRpc } from "../../../src/bootloaders/openocd/rpc-client.js";
import { RemoteBitbangServer } from "../../../src/sim/jtag/remote-bitbang.js";
import { JtagTap } from "../../../src/sim/jtag/tap.js";
import { realClock } from "../../../src/util/clock.js";
import { appImage, canflash } from "../../cli/helpers.js";
import { bitbangConfig, configFile, haveOpenOcd, OPENOCD } from "./harness.js";

const ARM_JTAG_DP = 0x4ba00477;
const dir = mkdtempSync(join(tmpdir(), "canflash-swd-connect-"));
let bitbang: RemoteBitbangServer;
let running: { process: OpenOcdProcess; rpc: OpenOcdRpc };

describe.skipIf(!haveOpenOcd)("canflash -d openocd: with an OpenOCD already running", () => {
  beforeAll(async () => {
    bitbang = await RemoteBitbangServer.listen(new JtagTap({ idcode: ARM_JTAG_DP }));
    const config = configFile(
      `${bitbangConfig(bitbang.port, ARM_JTAG_DP)}target create chip.cpu testee -chain-position chip.cpu\nflash bank chip.flash faux 0x08000000 0x10000 0 0 chip.cpu\n`,
    );
    running = await launchOpenOcd({ bin: OPENOCD, config, clock: realClock });
  });
  afterAll(async () => {
    await running?.rpc.close();
    await running?.process.stop();
    await bitbang?.close();
  });

  it("-s reads it and leaves it running", async () => {
    const r = await canflash([
      "--target",
      "openocd-swd",
      "-d",
      `openocd:127.0.0.1:${running.process.port}`,
      "-s",
    ]);
    expect(r.stdout).toMatch(/^TAP chip\.cpu: IDCODE 0x4ba00477$/m);
    expect(r.code).toBe(0);
    expect(running.process.hasExited).toBe(false);
    expect(await running.rpc.run("version")).toMatch(/0\.12/);
  });

  it("a flash whose verify fails: exit 4, no reset run, the chip halted, OpenOCD still running", async () => {
    const file = join(dir, "hid_bootloader.bin");
    writeFileSync(file, await appImage(6000, 8, 0x08000000));
    const r = await canflash(
      [
        "--target",
        "openocd-swd",
        "--swd-chip",
        "stm32f103xe",
        "-d",
        `openocd:127.0.0.1:${running.process.port}`,
        "--no-backup",
        "--no-chip-erase",
        "-v",
        file,
      ],
      { cwd: dir },
    );
    expect(r.stderr).toMatch(/flash write_image \S+ 0x08000000 bin/);
    expect(r.stderr).toMatch(/verify failed at 0x08000000/);
    expect(r.stderr).toMatch(/left halted, not reset into what was written/);
    expect(r.stderr).toMatch(
      /then retry: canflash --target openocd-swd -d openocd:127\.0\.0\.1:\d+ --swd-chip stm32f103xe --no-backup --no-chip-erase /,
    );
    expect(r.stderr).not.toMatch(/openocd: reset run/);
    expect(r.code).toBe(4);
    expect(running.process.hasExited).toBe(false);
  });

  it("an existing backup file is never written over", async () => {
    const file = join(dir, "k.bin");
    writeFileSync(file, await appImage(2000, 9, 0x08000000));
    writeFileSync(join(dir, "old-backup.bin"), "precious");
    const r = await canflash(
      [
        "--target",
        "openocd-swd",
        "--swd-chip",
        "stm32f103xe",
        "-d",
        `openocd:127.0.0.1:${running.process.port}`,
        "--backup",
        "old-backup.bin",
        file,
      ],
      { cwd: dir },
    );
    expect(r.stderr).toMatch(/exists: canflash does not write over a backup/);
    expect(r.code).toBe(2);
  });
});
