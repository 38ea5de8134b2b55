// canflash as a user runs it (the built binary) with the real openocd 0.12:
// the user's config (the dummy adapter: OpenOCD runs, no chip answers) is
// "no target" with the seed's advice and exit 3; an openocd that cannot
// start is exit 5 with how to install it.
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appImage, canflash } from "../../cli/helpers.js";
import { RemoteBitbangServer } from "../../../src/sim/jtag/remote-bitbang.js";
import { JtagTap } from "../../../src/sim/jtag/tap.js";
import { bitbangConfig, configFile, DUMMY_CONFIG, haveOpenOcd, OPENOCD } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-swd-peer-"));
const ARM_JTAG_DP = 0x4ba00477;
let bitbang: RemoteBitbangServer | undefined;
afterEach(async () => bitbang?.close());

/** The TAP model (holding `idcode`) behind remote_bitbang, with OpenOCD's testee target on it. */
async function chain(idcode: number): Promise<string> {
  bitbang = await RemoteBitbangServer.listen(new JtagTap({ idcode }));
  return configFile(
    `${bitbangConfig(bitbang.port, ARM_JTAG_DP)}target create chip.cpu testee -chain-position chip.cpu\n`,
  );
}

describe.skipIf(!haveOpenOcd)("canflash --target samc21-swd with openocd 0.12", () => {
  it("no chip on the wires: exit 3, the seed's advice, no backup file made", async () => {
    const file = join(dir, "klipper.bin");
    writeFileSync(file, await appImage(8192, 5, 0));
    const r = await canflash(
      [
        "--target",
        "samc21-swd",
        "--openocd-config",
        configFile(DUMMY_CONFIG),
        "--backup",
        join(dir, "b.bin"),
        file,
      ],
      { env: { CANFLASH_OPENOCD: OPENOCD }, cwd: dir },
    );
    expect(r.stderr).toMatch(/OpenOCD reaches no target/);
    expect(r.stderr).toMatch(/GND, SWCLK, SWDIO and RST/);
    expect(r.stderr).toMatch(/hold the board's reset button/);
    expect(r.stderr).toMatch(/cold-plug/);
    expect(r.stderr).toMatch(/Nothing was written/);
    expect(r.code).toBe(3);
  });

  it("an openocd that is not there: exit 5 and how to install it", async () => {
    const file = join(dir, "k2.bin");
    writeFileSync(file, await appImage(4096, 6, 0));
    const r = await canflash(
      ["--target", "samc21-swd", "--openocd-config", configFile(DUMMY_CONFIG), "--no-backup", file],
      {
        env: { CANFLASH_OPENOCD: "/nonexistent/openocd" },
        cwd: dir,
      },
    );
    expect(r.stderr).toMatch(/apt-get install openocd/);
    expect(r.code).toBe(5);
  });

  it("-s: what OpenOCD reaches, the TAP's IDCODE read through the model", async () => {
    const r = await canflash(
      ["--target", "openocd-swd", "--openocd-config", await chain(ARM_JTAG_DP), "-s"],
      {
        env: { CANFLASH_OPENOCD: OPENOCD },
        cwd: dir,
      },
    );
    expect(r.stdout).toMatch(/^OpenOCD Connected$/m);
    expect(r.stdout).toMatch(/^Transport: jtag$/m);
    expect(r.stdout).toMatch(/^TAP chip\.cpu: IDCODE 0x4ba00477$/m);
    expect(r.stdout).toMatch(/^Target chip\.cpu: testee/m);
    expect(r.code).toBe(0);
  });

  it("a chip with another IDCODE: exit 6, both IDCODEs and the wiring advice, nothing written", async () => {
    const file = join(dir, "k3.elf.bin");
    writeFileSync(file, await appImage(4096, 7, 0));
    const r = await canflash(
      ["--target", "samc21-swd", "--openocd-config", await chain(0x2ba01477), "--no-backup", file],
      {
        env: { CANFLASH_OPENOCD: OPENOCD },
        cwd: dir,
      },
    );
    expect(r.stderr).toMatch(/JTAG tap chip\.cpu answered IDCODE 0x2ba01477, expected 0x4ba00477/);
    expect(r.stderr).toMatch(/another chip than the config's target/);
    expect(r.stderr).toMatch(/Nothing was written/);
    expect(r.code).toBe(6);
  });
});
