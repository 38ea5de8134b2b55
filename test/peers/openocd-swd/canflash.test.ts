// canflash's own SWD flash end to end: the built CLI starts the real
// openocd 0.12 (through the harness's wrapper, which alone carries the
// stand-in libusb) with a CMSIS-DAP config canflash writes
// (cmsisDapConfig, WORKAREASIZE 0), and OpenOCD drives the SAM C21/D21
// model behind the CMSIS-DAP v2 probe model. A fresh model flashed by
// canflash must hold what a second fresh model holds after the real
// openocd alone ran the seed's sequence (chip-erase, bootloader 0,
// program … verify, reset run): the same dump, the image byte for byte,
// BOOTPROT, the core running the image. The bad cases: a cell that reads
// back wrong (verify fails, exit 4, no reset run, the retry line), a part
// OpenOCD does not know and an unpowered target (no target, exit 3,
// nothing written), a chip erase as slow as a real one (canflash waits
// for DSU STATUSA.DONE), the backup of the old flash, -s, and
// -d openocd:HOST:PORT into an OpenOCD the test keeps running.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cmsisDapConfig } from "../../../src/bootloaders/openocd/config.js";
import { appImage, canflash, type CliResult } from "../../cli/helpers.js";
import {
  elf,
  elfSegments,
  freePort,
  openocdConfig,
  openocdRpc,
  runOpenocd,
  startSwdTarget,
  type StartSwdTargetOptions,
  type SwdTargetHandle,
} from "./harness.js";

const root = mkdtempSync(join(tmpdir(), "canflash-swd-e2e-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** One spawned canflash run (openocd included) against the model. */
const CLI_TIMEOUT_MS = 100_000;

/** A user row with an 8 KiB boot section protected (BOOTPROT 2), as on a board that shipped with a bootloader. */
const BOOTPROT_8K = Uint8Array.of(0xfa, 0xc7, 0xe0, 0xd8, 0x5d, 0xfc, 0xff, 0xff);
/** The flash of a board in use: an old bootloader and firmware. */
const oldFlash = (): Uint8Array => new Uint8Array(0x40000).fill(0x5a);

const same = (x: Uint8Array, y: Uint8Array): boolean => Buffer.from(x).equals(Buffer.from(y));

let n = 0;
/** A folder of its own for a run (cwd: the default backup lands there). */
function workDir(): string {
  const d = join(root, `run-${n++}`);
  mkdirSync(d);
  return d;
}

/** The config a user writes for a CMSIS-DAP probe, here the model (no work area: verify reads back). */
function modelConfig(dir: string, o: { srst?: boolean } = {}): string {
  const file = join(dir, "cmsis-dap.cfg");
  writeFileSync(
    file,
    cmsisDapConfig({
      backend: "usb_bulk",
      speedKhz: 400,
      workAreaSize: 0,
      targetCfg: "target/at91samdXX.cfg",
      ...(o.srst ? { srst: true } : {}),
    }),
  );
  return file;
}

/** canflash (the built CLI) with the config for the model and the harness's openocd. */
function canflashSwd(
  t: SwdTargetHandle,
  dir: string,
  args: string[],
  config = modelConfig(dir),
): Promise<CliResult> {
  return canflash(["--openocd-config", config, "--openocd-bin", t.openocdPath, ...args], {
    cwd: dir,
    timeoutMs: CLI_TIMEOUT_MS,
  });
}

/** The seed's sequence, run by the real openocd alone. */
const SEED = (fw: string, bootloaderSize?: number, address = " 0x0") => [
  "init",
  "reset halt",
  "at91samd chip-erase",
  // openocd 0.12's chip-erase does not wait for the DSU: the seed's commands, with the wait
  "set n 0; while {([read_memory 0x41002101 8 1] & 1) == 0 && $n < 1000} {incr n}",
  "at91samd bootloader 0",
  `program ${fw} verify${address}`,
  ...(bootloaderSize !== undefined ? [`at91samd bootloader ${bootloaderSize}`] : []),
  "reset run",
  "shutdown",
];

/** A second fresh model like `o`, flashed by openocd alone with the seed's sequence: its flash dump. */
async function seedDump(
  o: StartSwdTargetOptions,
  chipName: string,
  fw: string,
  bootloaderSize?: number,
  /** After `program <file> verify`: " 0x0" for a .bin, "" for an ELF (its own addresses). */
  address?: string,
): Promise<{ dump: Uint8Array; bootprot: number }> {
  const t = await startSwdTarget(o);
  try {
    const r = await runOpenocd(
      openocdConfig({ chipName }),
      SEED(fw, bootloaderSize, address),
      t.env,
    );
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/\*\* Verified OK \*\*/);
    return { dump: t.flashDump(), bootprot: t.target.bootprotFuse };
  } finally {
    await t.close();
  }
}

async function withTarget<T>(
  o: StartSwdTargetOptions,
  f: (t: SwdTargetHandle) => Promise<T>,
): Promise<T> {
  const t = await startSwdTarget(o);
  try {
    return await f(t);
  } finally {
    await t.close();
  }
}

describe("canflash --target samc21-swd / openocd-swd through openocd 0.12 into the SWD model", () => {
  it("a Duet 3 1LC (SAM C21) in use: klipper.bin written and verified, the same flash as the seed's openocd sequence leaves, BOOTPROT 7, running; the old flash backed up", async () => {
    const dir = workDir();
    const img = await appImage(32_100, 7, 0);
    const fw = join(dir, "klipper.bin");
    writeFileSync(fw, img);
    const o = { chip: "samc21g18a", userRow: BOOTPROT_8K, flash: oldFlash() } as const;
    const seed = await seedDump(o, "at91samc21", fw);
    await withTarget(o, async (t) => {
      const r = await canflashSwd(t, dir, ["--target", "samc21-swd", fw]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Wrote and verified 32100 bytes/);
      expect(r.stdout).toMatch(/^Erasing\.\.\.$/m); // the whole chip: no size to say
      const dump = t.flashDump();
      expect(same(dump.subarray(0, img.length), img)).toBe(true);
      expect(dump.subarray(img.length).every((b) => b === 0xff)).toBe(true);
      expect(same(dump, seed.dump)).toBe(true);
      expect(t.target.dsu.chipErases).toBe(1);
      expect(t.target.bootprotFuse).toBe(7);
      expect(seed.bootprot).toBe(7);
      // reset run: out of reset from the new vector table, running
      expect(t.target.core.halted).toBe(false);
      expect(t.target.core.pc).toBe(0x100);
      // the default backup (./samc21-swd-backup-<time>.bin): the flash as it was
      const backups = readdirSync(dir).filter((f) => /^samc21-swd-backup-.*\.bin$/.test(f));
      expect(backups).toHaveLength(1);
      expect(same(readFileSync(join(dir, backups[0]!)), oldFlash())).toBe(true);
    });
  });

  it("with the reset wire (reset_config srst_only srst_nogate): resets through the probe's nRESET, no SYSRESETREQ, the same flash", async () => {
    const dir = workDir();
    const img = await appImage(16_384, 23, 0);
    const fw = join(dir, "klipper.bin");
    writeFileSync(fw, img);
    await withTarget({ chip: "samc21g18a", userRow: BOOTPROT_8K, flash: oldFlash() }, async (t) => {
      const r = await canflashSwd(
        t,
        dir,
        ["--target", "samc21-swd", "--no-backup", fw],
        modelConfig(dir, { srst: true }),
      );
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Wrote and verified 16384 bytes/);
      expect(same(t.flashDump(img.length), img)).toBe(true);
      expect(
        t
          .flashDump()
          .subarray(img.length)
          .every((b) => b === 0xff),
      ).toBe(true);
      expect(t.target.bootprotFuse).toBe(7);
      expect(t.target.core.events).not.toContain("sysresetreq");
      expect(t.target.core.heldInReset).toBe(false);
      expect(t.target.core.halted).toBe(false);
      expect(t.target.core.pc).toBe(0x100);
    });
  });

  it("klipper.elf with --backup FILE: the load segment at its address, the backup equal to the flash before", async () => {
    const dir = workDir();
    const img = await appImage(20_480, 13, 0);
    const fw = join(dir, "klipper.elf");
    writeFileSync(fw, elf(img, 0));
    const before = await appImage(0x40000, 99, 0);
    const o = { chip: "samc21g18a", flash: before } as const;
    const seed = await seedDump(o, "at91samc21", fw, undefined, "");
    await withTarget(o, async (t) => {
      const backup = join(dir, "1lc-before.bin");
      const r = await canflashSwd(t, dir, ["--target", "samc21-swd", "--backup", backup, fw]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Wrote and verified 20480 bytes/);
      expect(same(readFileSync(backup), before)).toBe(true);
      expect(same(t.flashDump(), seed.dump)).toBe(true);
      expect(same(t.flashDump(img.length), img)).toBe(true);
      expect(t.target.core.halted).toBe(false);
    });
  });

  it("a klipper.elf laid out as the linker does (.text at 0, .data loaded after it but run in RAM, .bss in RAM only): the flash the seed's program klipper.elf verify leaves", async () => {
    const dir = workDir();
    const text = await appImage(12_000, 41, 0);
    const data = await appImage(600, 42, 0);
    const fw = join(dir, "klipper.elf");
    writeFileSync(
      fw,
      elfSegments(
        [
          { data: text, vaddr: 0 },
          { data, vaddr: 0x2000_0000, paddr: text.length },
          { data: new Uint8Array(0), vaddr: 0x2000_0000 + data.length, memsz: 4096 },
        ],
        0x100,
      ),
    );
    const o = { chip: "samc21g18a", flash: oldFlash() } as const;
    const seed = await seedDump(o, "at91samc21", fw, undefined, "");
    await withTarget(o, async (t) => {
      const r = await canflashSwd(t, dir, ["--target", "samc21-swd", "--no-backup", fw]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Wrote and verified 12600 bytes/);
      const dump = t.flashDump();
      expect(same(dump.subarray(0, text.length), text)).toBe(true);
      expect(same(dump.subarray(text.length, text.length + data.length), data)).toBe(true);
      expect(same(dump, seed.dump)).toBe(true);
    });
  });

  it("openocd-swd, a SAM-BA bootloader install on a SAM D21 (--swd-chip, --bootloader-size 8192): as the seed's bootloader 0 … program … bootloader 8192 leaves it, BOOTPROT 2", async () => {
    const dir = workDir();
    const img = await appImage(6000, 21, 0);
    const fw = join(dir, "samd21_sam_ba.bin");
    writeFileSync(fw, img);
    const o = { chip: "samd21g18a", packetSize: 512 } as const;
    const seed = await seedDump(o, "at91samd21", fw, 8192);
    await withTarget(o, async (t) => {
      const r = await canflashSwd(t, dir, [
        "--target",
        "openocd-swd",
        "--swd-chip",
        "samd21g18a",
        "--bootloader-size",
        "8192",
        "--no-backup",
        fw,
      ]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Wrote and verified 6000 bytes/);
      expect(same(t.flashDump(), seed.dump)).toBe(true);
      expect(same(t.flashDump(img.length), img)).toBe(true);
      expect(t.target.bootprotFuse).toBe(2);
      expect(seed.bootprot).toBe(2);
      expect(t.target.core.halted).toBe(false);
    });
  });

  it("--no-chip-erase: only the rows written are erased (flash erase_address pad), the rest of the old flash stays", async () => {
    const dir = workDir();
    const img = await appImage(10_000, 31, 0);
    const fw = join(dir, "klipper.bin");
    writeFileSync(fw, img);
    await withTarget({ chip: "samc21g18a", flash: oldFlash(), userRow: BOOTPROT_8K }, async (t) => {
      const r = await canflashSwd(t, dir, [
        "--target",
        "samc21-swd",
        "--no-chip-erase",
        "--no-backup",
        "-v",
        fw,
      ]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout + r.stderr).toMatch(/openocd: flash erase_address pad 0x00000000 /);
      expect(t.target.dsu.chipErases).toBe(0);
      const dump = t.flashDump();
      expect(same(dump.subarray(0, img.length), img)).toBe(true);
      // padded to the 256-byte row: erased up to it, the old contents after it
      const rowEnd = Math.ceil(img.length / 256) * 256;
      expect(dump.subarray(img.length, rowEnd).every((b) => b === 0xff)).toBe(true);
      expect(dump.subarray(rowEnd).every((b) => b === 0x5a)).toBe(true);
      expect(t.target.bootprotFuse).toBe(7);
      expect(t.target.core.halted).toBe(false);
    });
  });

  it("a chip erase as slow as a real one (240 ms, BOOTPROT set): canflash reads DSU STATUSA until DONE before bootloader 0, and the flash goes through", async () => {
    const dir = workDir();
    const img = await appImage(8192, 19, 0);
    const fw = join(dir, "klipper.bin");
    writeFileSync(fw, img);
    await withTarget(
      { chip: "samc21g18a", chipEraseUs: 240_000, userRow: BOOTPROT_8K, flash: oldFlash() },
      async (t) => {
        const r = await canflashSwd(t, dir, ["--target", "samc21-swd", "--no-backup", "-v", fw]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const out = r.stdout + r.stderr;
        const reads = /DSU STATUSA\.DONE set after (\d+) reads/.exec(out);
        expect(reads, out).not.toBeNull();
        expect(Number(reads![1])).toBeGreaterThan(1); // not done at once: canflash waited
        expect(out.indexOf("DSU STATUSA.DONE set")).toBeLessThan(
          out.indexOf("openocd: at91samd bootloader 0"),
        );
        expect(same(t.flashDump(img.length), img)).toBe(true);
        expect(t.target.bootprotFuse).toBe(7);
        expect(t.target.core.halted).toBe(false);
      },
    );
  });

  it("a flash cell that reads back wrong: verify fails, exit 4, no reset run (the core stays halted), the retry line", async () => {
    const dir = workDir();
    const img = await appImage(32_100, 3, 0);
    const fw = join(dir, "klipper.bin");
    writeFileSync(fw, img);
    await withTarget({ chip: "samc21g18a", corruptByteAt: 0x4321 }, async (t) => {
      const r = await canflashSwd(t, dir, ["--target", "samc21-swd", "--no-backup", "-v", fw]);
      const out = r.stdout + r.stderr;
      expect(r.code, out).toBe(4);
      expect(r.stderr).toMatch(/left halted and not reset into the image: flash it again/);
      expect(r.stderr).toContain(
        `then retry: canflash --target samc21-swd --openocd-config ${join(dir, "cmsis-dap.cfg")} --openocd-bin ${t.openocdPath} --no-backup ${fw}`,
      );
      expect(out).toMatch(/openocd: verify_image/);
      expect(out).not.toMatch(/openocd: reset run/);
      expect(t.target.core.halted).toBe(true);
      // written, only the read-back differs
      expect(same(t.flashDump(img.length), img)).toBe(true);
    });
  });

  it("a DSU DID of no part OpenOCD knows: the no-target error with the seed's advice, exit 3, nothing erased or written, no backup", async () => {
    const dir = workDir();
    const fw = join(dir, "klipper.bin");
    writeFileSync(fw, await appImage(4096, 1, 0));
    const backup = join(dir, "b.bin");
    await withTarget({ chip: "samc21g18a", did: 0x110100ff, flash: oldFlash() }, async (t) => {
      const r = await canflashSwd(t, dir, ["--target", "samc21-swd", "--backup", backup, fw]);
      expect(r.code, r.stdout + r.stderr).toBe(3);
      expect(r.stderr).toMatch(/OpenOCD reaches no target: the chip's DSU answers DID 0x110100ff/);
      expect(r.stderr).toMatch(/GND, SWCLK, SWDIO and RST/);
      expect(r.stderr).toMatch(/hold the board's reset button/);
      expect(r.stderr).toMatch(/Nothing was written/);
      expect(t.target.dsu.chipErases).toBe(0);
      expect(same(t.flashDump(), oldFlash())).toBe(true);
      expect(readdirSync(dir)).not.toContain("b.bin");
    });
  });

  it("an unpowered target (nothing drives SWDIO): the no-target error with the seed's advice, exit 3", async () => {
    const dir = workDir();
    const fw = join(dir, "klipper.bin");
    writeFileSync(fw, await appImage(4096, 2, 0));
    await withTarget({ chip: "samc21g18a", powered: false, flash: oldFlash() }, async (t) => {
      const r = await canflashSwd(t, dir, ["--target", "samc21-swd", "--no-backup", fw]);
      expect(r.code, r.stdout + r.stderr).toBe(3);
      expect(r.stderr).toMatch(/OpenOCD reaches no target/);
      expect(r.stderr).toMatch(/has power of its own/);
      expect(r.stderr).toMatch(/cold-plug/);
      expect(r.stderr).toMatch(/Nothing was written/);
      expect(t.target.dsu.chipErases).toBe(0);
      expect(same(t.flashDump(), oldFlash())).toBe(true);
    });
  });

  it("-s: OpenOCD's version, SWD, the DPIDR the model answers, the target", async () => {
    const dir = workDir();
    await withTarget({ chip: "samc21g18a", dpidr: 0x0bc11478 }, async (t) => {
      const r = await canflashSwd(t, dir, ["--target", "samc21-swd", "-s"]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^OpenOCD: Open On-Chip Debugger 0\.12/m);
      expect(r.stdout).toMatch(/^Transport: swd$/m);
      expect(r.stdout).toMatch(/^DPIDR: 0x0bc11478$/m);
      expect(r.stdout).toMatch(/^Target at91samd\.cpu: cortex_m/m);
    });
  });

  it("-d openocd:127.0.0.1:PORT into an OpenOCD the test runs: the same flash, OpenOCD left running", async () => {
    const dir = workDir();
    const img = await appImage(16_384, 17, 0);
    const fw = join(dir, "klipper.bin");
    writeFileSync(fw, img);
    await withTarget({ chip: "samc21g18a", flash: oldFlash() }, async (t) => {
      const port = await freePort();
      const running = runOpenocd(
        `${openocdConfig({ servers: true })}\ngdb_port disabled\ntelnet_port disabled\ntcl_port ${port}`,
        ["init"],
        t.env,
      );
      const probe = await openocdRpc(port); // waits until it listens
      try {
        const r = await canflash(
          ["--target", "samc21-swd", "-d", `openocd:127.0.0.1:${port}`, "--no-backup", fw],
          { cwd: dir, timeoutMs: CLI_TIMEOUT_MS },
        );
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toMatch(/Wrote and verified 16384 bytes/);
        expect(same(t.flashDump(img.length), img)).toBe(true);
        expect(
          t
            .flashDump()
            .subarray(img.length)
            .every((b) => b === 0xff),
        ).toBe(true);
        expect(t.target.core.halted).toBe(false);
        expect(await probe.send("version")).toMatch(/Open On-Chip Debugger 0\.12/);
      } finally {
        await probe.send("shutdown");
        probe.close();
      }
      const r = await running;
      expect(r.code, r.output).toBe(0);
    });
  });
});
