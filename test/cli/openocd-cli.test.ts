// canflash's SWD command line: the bad inputs (each a usage error, exit 2,
// nothing started: the openocd named does not exist, so starting it would
// fail otherwise) and the dry run, which prints the config and the OpenOCD
// script a real run would send.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { appImage, runInProcess } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-swd-cli-"));
const NO_OPENOCD = ["--openocd-bin", "/nonexistent/openocd"];

async function image(name: string): Promise<string> {
  const p = join(dir, name);
  writeFileSync(p, await appImage(20000, 3, 0));
  return p;
}

describe("canflash SWD flags", () => {
  it.each([
    [["--target", "samc21-swd"], /needs its SWD pins or an OpenOCD config/],
    [
      ["--target", "samc21-swd", "--swd", "swclk=25,swdio=24", "--openocd-config", "/x.cfg"],
      /give one/,
    ],
    [["--target", "samc21-swd", "--swd", "swclk=25"], /swclk and swdio are both needed/],
    [["--target", "samc21-swd", "--swd", "swclk=25,swdio=x"], /is not pin=GPIO/],
    [["--target", "samc21-swd", "--swd", "swclk=25,swdio=25"], /must differ/],
    [
      ["--target", "samc21-swd", "--swd", "swclk=25,swdio=24", "--swd-driver", "ftdi"],
      /bcm2835gpio or linuxgpiod/,
    ],
    [
      ["--target", "samc21-swd", "--openocd-config", "/x.cfg", "--swd-speed", "100"],
      /only shapes the config canflash writes/,
    ],
    [["--target", "samc21-swd", "-d", "/dev/ttyACM0"], /not a tty/],
    [["--target", "samd21-zero-bossac", "--swd", "swclk=25,swdio=24"], /are for SWD rows/],
    [
      [
        "--target",
        "openocd-swd",
        "--swd",
        "swclk=25,swdio=24",
        "--swd-driver",
        "linuxgpiod",
        "--address",
        "0",
      ],
      /knows no OpenOCD target script|canflash writes a config only for a chip/,
    ],
    [
      ["--target", "openocd-swd", "--openocd-config", "/x.cfg", "--address", "nowhere"],
      /not a number/,
    ],
    [
      ["--target", "samc21-swd", "--swd", "swclk=25,swdio=24", "--swd-speed", "200000"],
      /--swd-speed 200000: too large, at most 100000/,
    ],
    [["-q", "--swd", "swclk=25,swdio=24"], /-q does not take --swd/],
    [
      ["--target", "samc21-swd", "--swd", "swclk=25,swdio=24", "--connect-under-reset"],
      /give srst=<GPIO>/,
    ],
    [
      [
        "--target",
        "openocd-swd",
        "--swd-chip",
        "stm32f103xe",
        "--openocd-config",
        "/x.cfg",
        "--bootloader-size",
        "2048",
      ],
      /BOOTPROT/,
    ],
    [
      ["-s", "--target", "samc21-swd", "--swd", "swclk=25,swdio=24", "--backup", "x.bin"],
      /-s does not take --backup/,
    ],
    [
      ["-r", "--target", "samc21-swd", "--swd", "swclk=25,swdio=24"],
      /has none: SWD flashes the chip as it is/,
    ],
  ])("%j → exit 2", async (args, message) => {
    const file = await image("klipper.elf.bin");
    const r = await runInProcess(
      [...args, ...NO_OPENOCD, ...(["-q", "-s", "-r"].includes(args[0]!) ? [] : [file])],
      dir,
    );
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it("a raw .bin for any chip, with no address and no chip, is refused before anything starts", async () => {
    const file = await image("raw.bin");
    const r = await runInProcess(
      ["--target", "openocd-swd", "--openocd-config", "/x.cfg", ...NO_OPENOCD, file],
      dir,
    );
    expect(r.stderr).toMatch(/raw binary without addresses/);
    expect(r.stderr).toMatch(/--address 0x08000000/);
    expect(r.code).toBe(2);
  });

  it("--dry-run prints the config canflash would write and the OpenOCD script, starting nothing", async () => {
    const file = await image("klipper.bin");
    const r = await runInProcess(
      [
        "--target",
        "samc21-swd",
        "--swd",
        "swclk=25,swdio=24,srst=18",
        "--swd-driver",
        "linuxgpiod",
        "--backup",
        "before.bin",
        "--connect-under-reset",
        "--dry-run",
        ...NO_OPENOCD,
        file,
      ],
      dir,
    );
    const text = r.stdout + r.stderr;
    expect(text).toMatch(/flash read_bank 0 \S*before\.bin/);
    expect(text).toMatch(/at91samd chip-erase/);
    expect(text).toMatch(/reset_config srst_only srst_nogate connect_assert_srst/);
    expect(text).toMatch(/adapter driver linuxgpiod\nadapter gpio swclk -chip 0 25/);
    expect(text).toMatch(/flash write_image \S+ 0x00000000 bin/);
    expect(text).toMatch(/verify_image/);
    expect(text).toMatch(/reset run .*only after every verify passed/);
    expect(r.code).toBe(0);
  });

  it("-d openocd: with nothing listening: exit 5, how to start one", async () => {
    const file = await image("k.elf.bin");
    const r = await runInProcess(
      ["--target", "samc21-swd", "-d", "openocd:127.0.0.1:1", "--no-backup", file],
      dir,
    );
    expect(r.stderr).toMatch(/no OpenOCD RPC server at 127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/let canflash start it: --openocd-config/);
    expect(r.code).toBe(5);
  });

  it("-d openocd: defaults to localhost:6666, and an IPv6 host in brackets", async () => {
    const { parseOpenOcdDevice } = await import("../../src/cli/swd-options.js");
    expect(parseOpenOcdDevice("openocd:")).toEqual({ host: "localhost", port: 6666 });
    expect(parseOpenOcdDevice("openocd:pi.local")).toEqual({ host: "pi.local", port: 6666 });
    expect(parseOpenOcdDevice("openocd:[::1]:7777")).toEqual({ host: "::1", port: 7777 });
  });
});
