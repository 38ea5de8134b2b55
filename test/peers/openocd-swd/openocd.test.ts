// The real openocd 0.12 (Debian) flashes canflash's SAM C21/D21 model
// through a CMSIS-DAP v2 probe model and the stand-in libusb, with the
// seed's sequence for a Duet 3 1LC / SAM D21 board: init, reset halt,
// at91samd chip-erase, at91samd bootloader 0, program … verify, reset run.
// The model's flash must then hold the image byte for byte (and nothing
// else), its user row BOOTPROT 7 with the other fuses untouched, and the
// core run from the image's reset vector. The negative cases show that
// verify reads the model (a bad cell fails it and openocd stops before
// reset run) and what a user sees for a wrong part, a protected boot
// section, an unpowered target and a wrong DPIDR.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  freePort,
  openocdConfig,
  openocdRpc,
  runOpenocd,
  elf,
  startSwdTarget,
  type StartSwdTargetOptions,
} from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-openocd-swd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SP = 0x20008000;
const RESET_VECTOR = 0x000004c1;

/** A 32,100-byte image: a vector table (SP, reset handler), then seeded noise (odd length: a partial last page). */
function image(seed: number, length = 32_100): Uint8Array {
  const b = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  const v = new DataView(b.buffer);
  v.setUint32(0, SP, true);
  v.setUint32(4, RESET_VECTOR, true);
  return b;
}

/** A user row with an 8 KiB boot section protected (BOOTPROT 2), as on a board that shipped with a bootloader. */
const BOOTPROT_8K = Uint8Array.of(0xfa, 0xc7, 0xe0, 0xd8, 0x5d, 0xfc, 0xff, 0xff);

const SEQUENCE = (fw: string) => [
  "init",
  "reset halt",
  "at91samd chip-erase",
  "at91samd bootloader 0",
  `program ${fw} verify 0x0`,
  "reset run",
  "shutdown",
];

const same = (x: Uint8Array, y: Uint8Array) => Buffer.from(x).equals(Buffer.from(y));

async function flashWith(
  o: StartSwdTargetOptions,
  chipName: string,
  commands: (fw: string) => string[],
  img: Uint8Array,
  file = img,
  ext = "bin",
  extraConfig = "",
) {
  const fw = join(dir, `fw-${Math.random().toString(36).slice(2)}.${ext}`);
  writeFileSync(fw, file);
  const t = await startSwdTarget(o);
  try {
    const r = await runOpenocd(`${openocdConfig({ chipName })}${extraConfig}`, commands(fw), t.env);
    return { r, t };
  } finally {
    await t.close();
  }
}

describe("openocd 0.12 programs the SAM C21/D21 model over CMSIS-DAP v2", () => {
  it("SAM C21G18A (Duet 3 1LC): chip-erase, bootloader 0, program … verify, reset run leave exactly the image, BOOTPROT 7, the core running it", async () => {
    const img = image(7);
    const old = new Uint8Array(0x40000).fill(0x5a); // an old bootloader and firmware
    const { r, t } = await flashWith(
      { chip: "samc21g18a", userRow: BOOTPROT_8K, flash: old },
      "at91samc21",
      SEQUENCE,
      img,
    );
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SWD DPIDR 0x0bc11477/);
    expect(r.output).toMatch(/SAMD MCU: SAMC21G18A \(256KB Flash, 32KB RAM\)/);
    expect(r.output).toMatch(/chip erase started/);
    expect(r.output).toMatch(/\*\* Verified OK \*\*/);
    const dump = t.flashDump();
    expect(same(dump.subarray(0, img.length), img)).toBe(true);
    expect(dump.subarray(img.length).every((b) => b === 0xff)).toBe(true);
    expect(t.target.dsu.chipErases).toBe(1);
    // BOOTPROT (bits 2:0) now 7, every other user-row bit as it was
    const row = t.userRow();
    expect(row[0]! & 7).toBe(7);
    expect(row[0]! & ~7).toBe(BOOTPROT_8K[0]! & ~7);
    expect(row.subarray(1, 8)).toEqual(BOOTPROT_8K.subarray(1));
    // reset run: out of reset from the new vector table, not halted
    expect(t.target.core.halted).toBe(false);
    expect(t.target.core.pc).toBe(RESET_VECTOR & ~1);
  });

  it("SAM D21G18A (automatic page writes, 512-byte packets): the same sequence leaves the same image", async () => {
    const img = image(11, 24_576);
    const { r, t } = await flashWith(
      { chip: "samd21g18a", packetSize: 512 },
      "at91samd21",
      SEQUENCE,
      img,
    );
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SAMD MCU: SAMD21G18A/);
    expect(r.output).toMatch(/\*\* Verified OK \*\*/);
    expect(same(t.flashDump(img.length), img)).toBe(true);
    // no WP commands: each page went to flash when its last word was loaded
    expect(t.target.nvm.commands.filter((c) => c.cmd === 0x04)).toEqual([]);
  });

  it("with SRST wired (reset_config srst_only): resets go through the probe's nRESET pin, the DSU holds the CPU after each (cold plug) until openocd's dsu_reset_deassert, and the result is the same", async () => {
    const img = image(23, 16_384);
    const { r, t } = await flashWith(
      { chip: "samc21g18a", userRow: BOOTPROT_8K },
      "at91samc21",
      SEQUENCE,
      img,
      img,
      "bin",
      "\nreset_config srst_only",
    );
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/\*\* Verified OK \*\*/);
    expect(same(t.flashDump(img.length), img)).toBe(true);
    expect(t.target.bootprotFuse).toBe(7);
    expect(t.target.core.events).not.toContain("sysresetreq");
    expect(t.target.core.resets).toBeGreaterThanOrEqual(4); // power-on + three reset-pin releases
    expect(t.target.core.heldInReset).toBe(false);
    expect(t.target.core.halted).toBe(false);
    expect(t.target.core.pc).toBe(RESET_VECTOR & ~1);
  });

  it("flash read_bank (a backup before flashing) reads the model's flash as it is", async () => {
    const old = image(29, 0x40000);
    const backup = join(dir, "backup.bin");
    const { r } = await flashWith(
      { chip: "samd21g18a", flash: old },
      "at91samd21",
      () => ["init", "reset halt", `flash read_bank 0 ${backup} 0 0x10000`, "shutdown"],
      new Uint8Array(0),
    );
    expect(r.code, r.output).toBe(0);
    expect(same(readFileSync(backup), old.subarray(0, 0x10000))).toBe(true);
  });

  it("an ELF linked for 0x2000 (program klipper.elf verify, no address): its load segment lands there, the rows below stay erased", async () => {
    const img = image(13, 20_480);
    const { r, t } = await flashWith(
      { chip: "samc21g18a" },
      "at91samc21",
      (fw) => SEQUENCE(fw).map((c) => c.replace(/ 0x0$/, "")),
      img,
      elf(img, 0x2000),
      "elf",
    );
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/\*\* Verified OK \*\*/);
    const dump = t.flashDump();
    expect(same(dump.subarray(0x2000, 0x2000 + img.length), img)).toBe(true);
    expect(dump.subarray(0, 0x2000).every((b) => b === 0xff)).toBe(true);
  });

  it("over the TCL RPC port of a running openocd (what a driver does): the same sequence, the core polled while it runs", async () => {
    const img = image(17, 16_384);
    const fw = join(dir, "rpc.bin");
    writeFileSync(fw, img);
    const t = await startSwdTarget({ chip: "samc21g18a" });
    const port = await freePort();
    const run = runOpenocd(
      `${openocdConfig({ servers: true })}\ngdb_port disabled\ntelnet_port disabled\ntcl_port ${port}`,
      ["init"],
      t.env,
    );
    const rpc = await openocdRpc(port);
    try {
      expect(await rpc.send("capture {reset halt}")).toMatch(/halted due to/);
      expect(await rpc.send("capture {at91samd chip-erase}")).toMatch(/chip erase started/);
      expect(await rpc.send("catch {at91samd bootloader 0}")).toBe("0");
      expect(await rpc.send(`catch {program ${fw} verify 0x0}`)).toBe("0");
      expect(await rpc.send("catch {reset run}")).toBe("0");
      const polls = t.model.dap.counts.get(0x05) ?? 0;
      // openocd polls DHCSR of the running core (every 100 ms) until asked to stop
      await expect
        .poll(() => t.model.dap.counts.get(0x05) ?? 0, { timeout: 5000 })
        .toBeGreaterThan(polls + 2);
      // the core really runs: the NVM commands want it halted
      expect(await rpc.send("capture {at91samd bootloader}")).toBe("Target not halted");
      await rpc.send("halt");
      expect(await rpc.send("capture {at91samd bootloader}")).toMatch(/Bootloader size is 0 bytes/);
      expect(await rpc.send("catch {resume}")).toBe("0");
      await rpc.send("shutdown");
    } finally {
      rpc.close();
    }
    const r = await run;
    await t.close();
    expect(r.code, r.output).toBe(0);
    expect(same(t.flashDump(img.length), img)).toBe(true);
    expect(t.target.core.halted).toBe(false);
    expect(t.target.bootprotFuse).toBe(7);
  });

  it("a chip erase as slow as openocd's own comment has it (240 ms): bootloader 0 right after cannot read the stalled user row; polling DSU STATUSA.DONE first makes the sequence work", async () => {
    const img = image(19, 8192);
    const slow = { chip: "samc21g18a", chipEraseUs: 240_000, userRow: BOOTPROT_8K } as const;
    const bare = await flashWith(slow, "at91samc21", SEQUENCE, img);
    expect(bare.r.code).toBe(1);
    expect(bare.r.output).toMatch(/Failed to read memory at 0x0080400/);
    expect(bare.t.target.bootprotFuse).toBe(2); // the user row was not rewritten
    const pollDone =
      'set n 0; while {([read_memory 0x41002101 8 1] & 1) == 0 && $n < 1000} {incr n}; echo "DONE after $n polls"';
    const { r, t } = await flashWith(
      slow,
      "at91samc21",
      (fw) => SEQUENCE(fw).flatMap((c) => (c === "at91samd chip-erase" ? [c, pollDone] : [c])),
      img,
    );
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/DONE after [1-9]\d* polls/);
    expect(r.output).toMatch(/\*\* Verified OK \*\*/);
    expect(same(t.flashDump(img.length), img)).toBe(true);
    expect(t.target.bootprotFuse).toBe(7);
  });

  it("a flash cell that reads back wrong fails openocd's verify: exit 1, ** Verify Failed **, no reset run (the core stays halted)", async () => {
    const img = image(3);
    const { r, t } = await flashWith(
      { chip: "samc21g18a", corruptByteAt: 0x4321 },
      "at91samc21",
      SEQUENCE,
      img,
    );
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/checksum mismatch - attempting binary compare/);
    expect(r.output).toMatch(/\*\* Verify Failed \*\*/);
    expect(r.output).not.toMatch(/Verified OK/);
    // the write itself went through: only the read-back differs
    expect(same(t.flashDump(img.length), img)).toBe(true);
    expect(t.target.core.halted).toBe(true);
  });

  it("without at91samd bootloader 0 the 8 KiB boot section stays protected: openocd reports the NVM lock error and writes nothing there", async () => {
    const img = image(5);
    const { r, t } = await flashWith(
      { chip: "samc21g18a", userRow: BOOTPROT_8K },
      "at91samc21",
      (fw) => SEQUENCE(fw).filter((c) => !c.startsWith("at91samd bootloader")),
      img,
    );
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/SAMD: NVM lock error/);
    expect(r.output).toMatch(/\*\* Programming Failed \*\*/);
    expect(t.flashDump(0x2000).every((b) => b === 0xff)).toBe(true);
    expect(t.target.bootprotFuse).toBe(2);
  });

  it("a DSU DID of no known part: openocd names the DID and programming fails", async () => {
    const { r } = await flashWith(
      { chip: "samc21g18a", did: 0x110100ff },
      "at91samc21",
      SEQUENCE,
      image(1, 4096),
    );
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/Couldn't find part corresponding to DID 110100ff/);
    expect(r.output).toMatch(/\*\* Programming Failed \*\*/);
  });

  it("an unpowered or unwired target (nothing drives SWDIO): openocd cannot read the DP's IDR", async () => {
    const { r } = await flashWith(
      { chip: "samc21g18a", powered: false },
      "at91samc21",
      SEQUENCE,
      image(1, 4096),
    );
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/CMSIS-DAP: Interface ready/);
    expect(r.output).toMatch(/Error connecting DP: cannot read IDR/);
  });

  it("a DPIDR that is not the SAM D21's: openocd 0.12 only logs it (SWD has no expected-id check) and carries on", async () => {
    const img = image(9, 8192);
    const { r, t } = await flashWith(
      { chip: "samc21g18a", dpidr: 0x2ba01477 },
      "at91samc21",
      SEQUENCE,
      img,
    );
    expect(r.output).toMatch(/SWD DPIDR 0x2ba01477/);
    expect(r.code, r.output).toBe(0);
    expect(same(t.flashDump(img.length), img)).toBe(true);
  });

  it("the wrapper script (for a program that spawns openocd itself) reaches the same model", async () => {
    const t = await startSwdTarget({ chip: "samd21g18a" });
    try {
      const r = await runOpenocd(
        openocdConfig({ chipName: "at91samd21" }),
        ["init", "shutdown"],
        {},
        [],
        t.openocdPath,
      );
      expect(r.code, r.output).toBe(0);
      expect(r.output).toMatch(/SWD DPIDR 0x0bc11477/);
    } finally {
      await t.close();
    }
  });

  it("no probe on the bus: openocd finds no CMSIS-DAP device", async () => {
    const t = await startSwdTarget({});
    await t.close();
    const r = await runOpenocd(openocdConfig(), ["init", "shutdown"], t.env);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/unable to find a matching CMSIS-DAP device/);
  });
});
