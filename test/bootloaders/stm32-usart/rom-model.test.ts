// The STM32 ROM model at the byte level, as the firmware behaves on bad
// input (stm32-usart.md §3–§5): the sync byte once per reset, garbage or a
// command before it, wrong complements and checksums, addresses outside
// its memory, the 256-byte and word-alignment rules, unsupported commands,
// readout protection, the receive register overrunning while it erases,
// and the wire time of every byte.
import { describe, expect, it } from "vitest";
import * as c from "../../../src/bootloaders/stm32-usart/codec.js";
import { stm32RomPair, type Stm32RomSetup } from "../../../src/sim/stm32/index.js";
import { ExactReader } from "../../../src/transport/exact-reader.js";
import { VirtualClock } from "../../../src/util/clock.js";

const hex = (b: ArrayLike<number>) =>
  Buffer.from(Array.from(b)).toString("hex").replace(/(..)/g, "$1 ").trim();

function rig(o: Partial<Stm32RomSetup> & { preset?: "f103" | "f407" } = {}) {
  const clock = new VirtualClock();
  const { host, rom } = stm32RomPair({ preset: "f103", clock, ...o });
  const reader = new ExactReader(host);
  /** Sends bytes, waits `ms`, returns what came back. */
  const say = (bytes: number[] | Uint8Array, n = 64, ms = 200) =>
    clock.run(
      (async () => {
        await host.write(Uint8Array.from(bytes));
        return reader.read(n, ms);
      })(),
    );
  return { clock, host, rom, say };
}

describe("STM32 ROM model: sync", () => {
  it("answers the first 0x7F with ACK; a later 0x7F is the first byte of a command", async () => {
    const r = rig();
    expect(hex(await r.say([0x7f]))).toBe("79");
    expect(hex(await r.say([0x7f]))).toBe(""); // waits for its complement
    expect(hex(await r.say([0x7f]))).toBe("1f"); // 7f 7f: complement wrong
    expect(r.rom.count("sync")).toBe(1);
  });

  it("a command or garbage before the sync locks the autobaud onto a wrong rate until reset", async () => {
    const r = rig();
    expect(hex(await r.say([0x00, 0xff]))).toBe("");
    expect(hex(await r.say([0x7f]))).toBe("");
    expect(r.rom.mode).toBe("deaf");
    r.rom.reset();
    expect(hex(await r.say([0x7f]))).toBe("79");
  });

  it("a rate above the autobaud range gets no answer", async () => {
    const r = rig({ line: { baud: 230400, frameBits: 11 } });
    expect(hex(await r.say([0x7f]))).toBe("");
  });

  it("with BOOT0 low the application runs and ignores the sync", async () => {
    const r = rig({ boot0: false });
    expect(hex(await r.say([0x7f]))).toBe("");
    r.rom.boot0 = true;
    r.rom.reset();
    expect(hex(await r.say([0x7f]))).toBe("79");
  });
});

describe("STM32 ROM model: commands", () => {
  it("GET, GET_VERSION and GET_ID as an F103 answers them", async () => {
    const r = rig();
    await r.say([0x7f], 1);
    expect(hex(await r.say([0x00, 0xff]))).toBe("79 0b 22 00 01 02 11 21 31 43 63 73 82 92 79");
    expect(hex(await r.say([0x01, 0xfe]))).toBe("79 22 00 00 79");
    expect(hex(await r.say([0x02, 0xfd]))).toBe("79 01 04 10 79");
  });

  it("the F407 announces EXTENDED_ERASE instead of ERASE, and NACKs ERASE", async () => {
    const r = rig({ preset: "f407" });
    await r.say([0x7f], 1);
    expect(hex(await r.say([0x00, 0xff]))).toBe("79 0b 31 00 01 02 11 21 31 44 63 73 82 92 79");
    expect(hex(await r.say([0x02, 0xfd]))).toBe("79 01 04 13 79");
    expect(hex(await r.say([0x43, 0xbc]))).toBe("1f");
  });

  it("a wrong complement or an unknown command is NACKed, and the next command works", async () => {
    const r = rig();
    await r.say([0x7f], 1);
    expect(hex(await r.say([0x00, 0xfe]))).toBe("1f");
    expect(hex(await r.say([0x55, 0xaa]))).toBe("1f");
    expect(hex(await r.say([0x02, 0xfd]))).toBe("79 01 04 10 79");
  });

  it("READ: a bad address checksum, an address outside memory, a read past it: NACK", async () => {
    const r = rig();
    await r.say([0x7f], 1);
    expect(hex(await r.say([0x11, 0xee]))).toBe("79");
    expect(hex(await r.say([0x08, 0x00, 0x00, 0x00, 0x09]))).toBe("1f");
    expect(hex(await r.say([0x11, 0xee, ...c.address(0x30000000)]))).toBe("79 1f");
    expect(hex(await r.say([0x11, 0xee, ...c.address(0x0800ff80), 0xff, 0x00]))).toBe("79 79 1f");
    const ok = await r.say([0x11, 0xee, ...c.address(0x1ffff7e0), 0x01, 0xfe], 5);
    expect(hex(ok)).toBe("79 79 79 40 00"); // 64 KiB
  });

  it("WRITE: unaligned address, a length that is not a multiple of 4, a bad checksum: NACK; nothing written", async () => {
    const r = rig();
    await r.say([0x7f], 1);
    expect(hex(await r.say([0x31, 0xce, ...c.address(0x08000002)]))).toBe("79 1f");
    const three = Uint8Array.of(1, 2, 3);
    expect(hex(await r.say([0x31, 0xce, ...c.address(0x08000000), ...c.dataBlock(three)]))).toBe(
      "79 79 1f",
    );
    const block = c.dataBlock(Uint8Array.of(1, 2, 3, 4));
    block[block.length - 1]! ^= 1;
    expect(hex(await r.say([0x31, 0xce, ...c.address(0x08000000), ...block]))).toBe("79 79 1f");
    expect(r.rom.count("write")).toBe(0);
    expect(r.rom.flash().every((b) => b === 0xff)).toBe(true);
  });

  it("WRITE of 256 bytes programs; an F1 refuses to program a half-word that is not erased", async () => {
    const r = rig();
    await r.say([0x7f], 1);
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    const w = [0x31, 0xce, ...c.address(0x08000400), ...c.dataBlock(data)];
    const t0 = r.clock.now();
    expect(hex(await r.say(w))).toBe("79 79 79");
    // 265 characters at 57600 8E1 plus 6.7 ms of programming
    expect(r.clock.now() - t0).toBeGreaterThan(265 * (11000 / 57600) + 6.5);
    expect(Array.from(r.rom.flash().subarray(0x400, 0x500))).toEqual(Array.from(data));
    expect(hex(await r.say(w))).toBe("79 79 1f");
  });

  it("ERASE of listed pages only; the global erase; a page that does not exist: NACK", async () => {
    const r = rig({ initial: new Uint8Array(64 * 1024).fill(0x00) });
    await r.say([0x7f], 1);
    expect(hex(await r.say([0x43, 0xbc, ...c.erasePages([1, 3])]))).toBe("79 79");
    const f = r.rom.flash();
    expect(f.subarray(0x400, 0x800).every((b) => b === 0xff)).toBe(true);
    expect(f.subarray(0x800, 0xc00).every((b) => b === 0x00)).toBe(true);
    expect(f.subarray(0xc00, 0x1000).every((b) => b === 0xff)).toBe(true);
    expect(hex(await r.say([0x43, 0xbc, ...c.erasePages([64])]))).toBe("79 1f");
    expect(hex(await r.say([0x43, 0xbc, 0xff, 0x00]))).toBe("79 79");
    expect(r.rom.flash().every((b) => b === 0xff)).toBe(true);
  });

  it("EXTENDED_ERASE on the F407 erases sectors in their datasheet time", async () => {
    const r = rig({ preset: "f407", initial: new Uint8Array(0x40000).fill(0x00) });
    await r.say([0x7f], 1);
    expect(hex(await r.say([0x44, 0xbb]))).toBe("79");
    const t0 = r.clock.now();
    expect(hex(await r.say(c.extendedErasePages([0, 4]), 1, 2000))).toBe("79");
    expect(r.clock.now() - t0).toBeGreaterThanOrEqual(250 + 550);
    const f = r.rom.flash();
    expect(f.subarray(0, 0x4000).every((b) => b === 0xff)).toBe(true);
    expect(f[0x4000]).toBe(0x00);
    expect(f.subarray(0x10000, 0x20000).every((b) => b === 0xff)).toBe(true);
    expect(hex(await r.say([0x44, 0xbb, ...c.extendedErasePages([12])]))).toBe("79 1f");
  });

  it("bytes sent while it erases: one waits in the receive register, the rest are lost", async () => {
    const r = rig();
    await r.say([0x7f], 1);
    // ERASE of 10 pages (200 ms), then GET_ID at once: the 00 of nothing, 02 held, fd lost
    const got = await r.say(
      [0x43, 0xbc, ...c.erasePages([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 0x02, 0xfd],
      16,
      500,
    );
    expect(hex(got)).toBe("79 79");
    expect(r.rom.uart.overruns).toBe(1);
    // The held 0x02 is read after the erase; 0x02 0x02 is a wrong complement.
    expect(hex(await r.say([0x02]))).toBe("1f");
  });

  it("readout protection: GET/GET_ID answer, READ/WRITE/ERASE/GO are NACKed; unprotecting mass-erases and resets", async () => {
    const r = rig({ readoutProtected: true, initial: new Uint8Array(1024).fill(0x12) });
    await r.say([0x7f], 1);
    expect(hex(await r.say([0x02, 0xfd]))).toBe("79 01 04 10 79");
    for (const cmd of [0x11, 0x31, 0x43, 0x21])
      expect(hex(await r.say([cmd, ~cmd & 0xff]))).toBe("1f");
    expect(r.rom.flash()[0]).toBe(0x12);
    expect(hex(await r.say([0x92, 0x6d]))).toBe("79 79");
    expect(r.rom.flash().every((b) => b === 0xff)).toBe(true);
    expect(r.rom.memory.readoutProtected).toBe(false);
    expect(hex(await r.say([0x7f]))).toBe("79"); // reset: a new sync
  });

  it("GO loads the stack pointer and reset vector from the address and leaves the ROM", async () => {
    const init = new Uint8Array(1024).fill(0xff);
    init.set([0x00, 0x50, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08]);
    const r = rig({ initial: init });
    await r.say([0x7f], 1);
    expect(hex(await r.say([0x21, 0xde, ...c.address(0x08000000)]))).toBe("79 79");
    expect(r.rom.events.at(-1)).toEqual({
      type: "go",
      address: 0x08000000,
      sp: 0x20005000,
      pc: 0x08000101,
      runs: true,
    });
    expect(r.rom.mode).toBe("app");
    expect(hex(await r.say([0x02, 0xfd]))).toBe("");
  });
});
