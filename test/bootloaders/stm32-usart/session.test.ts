// The STM32 ROM USART driver's adapter through the flasher core against
// the ROM model on virtual time: whole flashes of the F103 and the F407
// (only the image's pages or sectors erased, ≤ 256-byte word-aligned
// writes, read back, GO to the flash start last), the entry (a person
// sets BOOT0; an already synced ROM; a stray byte in its parser), and the
// refusals and failures that must leave the chip as it was or in the ROM.
import { flashFailure } from "../../fakes/flash-failure.js";
import { describe, expect, it } from "vitest";
import {
  Stm32UsartAdapter,
  type Stm32AdapterOptions,
} from "../../../src/bootloaders/stm32-usart/adapter.js";
import * as c from "../../../src/bootloaders/stm32-usart/codec.js";
import { Stm32UsartSession } from "../../../src/bootloaders/stm32-usart/session.js";
import {
  Stm32LinkedForOffsetError,
  Stm32NackError,
  Stm32NoAnswerError,
  Stm32NoBootloaderBelowError,
  Stm32ReadoutProtectedError,
  Stm32WriteProtectedError,
  Stm32WrongPartError,
} from "../../../src/bootloaders/stm32-usart/errors.js";
import { VerifyMismatchError } from "../../../src/flasher/errors.js";
import { runFlash } from "../../../src/flasher/execute.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";
import { stm32RomPair, type Stm32RomSetup } from "../../../src/sim/stm32/index.js";
import type { ByteTransport } from "../../../src/transport/byte-transport.js";
import { VirtualClock } from "../../../src/util/clock.js";
import { armImage } from "./images.js";

const BASE = 0x08000000;
const F103_ROW = { id: "stm32f103-rom-serial", chip: "stm32f103" };
const F4_ROW = { id: "stm32f4-rom-serial", chip: "stm32f407" };

function board(
  o: Partial<Stm32RomSetup> & { preset?: "f103" | "f407" } = {},
  a: Partial<Stm32AdapterOptions> & {
    wrap?: (t: ByteTransport) => ByteTransport;
    /** Sees every flash event as it happens (to act like a person or a fault at that moment). */
    onEvent?: (
      e: FlashEvent,
      rom: ReturnType<typeof stm32RomPair>["rom"],
      clock: VirtualClock,
    ) => void;
  } = {},
) {
  const clock = new VirtualClock();
  const preset = o.preset ?? "f103";
  const { host, rom } = stm32RomPair({ clock, ...o, preset });
  const adapter = new Stm32UsartAdapter({
    port: "/dev/ttyAMA0",
    line: { baud: 57600, frameBits: 11 },
    mode: "8e1",
    target: preset === "f103" ? F103_ROW : F4_ROW,
    open: () => Promise.resolve(a.wrap ? a.wrap(host) : host),
    ...a,
  });
  const events: FlashEvent[] = [];
  const flash = (segments: { address: number; data: Uint8Array }[], dryRun = false) =>
    clock.run(
      runFlash(
        adapter,
        { segments },
        {
          clock,
          onEvent: (e) => {
            events.push(e);
            a.onEvent?.(e, rom, clock);
          },
          dryRun,
        },
      ),
    );
  return { clock, host, rom, adapter, events, flash };
}

const commands = (rom: { events: readonly { type: string; code?: number }[] }) =>
  rom.events.filter((e) => e.type === "command").map((e) => e.code!);

describe("STM32 ROM through the flasher core", () => {
  it("F103: erases the image's pages only, writes ≤ 256-byte word-aligned blocks, verifies, then GO to 0x08000000", async () => {
    const b = board();
    const img = armImage({ size: 9 * 1024 + 10, linkedAt: BASE });
    const r = await b.flash([{ address: BASE, data: img }]);
    expect(r.verified).toBe(true);
    const dump = b.rom.flash();
    expect(Buffer.from(dump.subarray(0, img.length)).equals(Buffer.from(img))).toBe(true);
    expect(dump.subarray(img.length).every((x) => x === 0xff)).toBe(true);
    const erases = b.rom.events.filter((e) => e.type === "erase");
    expect(erases).toEqual([{ type: "erase", units: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }]);
    const writes = b.rom.events.filter((e) => e.type === "write") as {
      address: number;
      length: number;
    }[];
    expect(writes.every((w) => w.length <= 256 && w.length % 4 === 0 && w.address % 4 === 0)).toBe(
      true,
    );
    expect(writes.at(-1)).toEqual({ type: "write", address: BASE + 9 * 1024, length: 12 }); // 10 bytes, padded to a word
    expect(b.rom.count("read")).toBe(2 + 37); // flash size and option bytes, then every block
    const cmds = commands(b.rom);
    expect(cmds.slice(0, 3)).toEqual([c.Cmd.GET, c.Cmd.GET_VERSION, c.Cmd.GET_ID]);
    expect(cmds.at(-1)).toBe(c.Cmd.GO);
    expect(cmds.indexOf(c.Cmd.GO)).toBeGreaterThan(cmds.lastIndexOf(c.Cmd.READ_MEMORY));
    expect(b.rom.events.at(-1)).toMatchObject({ type: "go", address: BASE, runs: true });
    expect(b.rom.uart.overruns).toBe(0);
    expect(b.events.some((e) => e.type === "info" && /set BOOT0 back to 0/.test(e.message))).toBe(
      true,
    );
  });

  it("F407: EXTENDED_ERASE of the sectors the image covers; 1 s per 128 KiB sector shows in the time", async () => {
    const b = board({ preset: "f407" });
    const img = armImage({ size: 0x24000, linkedAt: BASE, vectorWords: 98 });
    const r = await b.flash([{ address: BASE, data: img }]);
    expect(r.verified).toBe(true);
    expect(b.rom.events.filter((e) => e.type === "erase")).toEqual([
      { type: "erase", units: [0, 1, 2, 3, 4, 5] },
    ]);
    expect(r.phaseMs.erase!).toBeGreaterThanOrEqual(4 * 250 + 550 + 1000);
    expect(commands(b.rom)).toContain(c.Cmd.EXTENDED_ERASE);
    expect(commands(b.rom)).not.toContain(c.Cmd.ERASE);
    expect(Buffer.from(b.rom.flash().subarray(0, img.length)).equals(Buffer.from(img))).toBe(true);
  });

  it("an image with a gap: only the pages under its data are erased and written", async () => {
    const b = board({ initial: new Uint8Array(64 * 1024).fill(0x5a) });
    const head = armImage({ size: 600, linkedAt: BASE });
    const tail = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    await b.flash([
      { address: BASE, data: head },
      { address: BASE + 0x3000, data: tail },
    ]);
    expect(b.rom.events.filter((e) => e.type === "erase")).toEqual([
      { type: "erase", units: [0, 12] },
    ]);
    const f = b.rom.flash();
    expect(f[0x1000]).toBe(0x5a); // page 4 untouched
    expect(Array.from(f.subarray(0x3000, 0x3000 + 300))).toEqual(Array.from(tail));
  });

  it("mass erase only when asked", async () => {
    const b = board({ initial: new Uint8Array(64 * 1024).fill(0x5a) }, { massErase: true });
    await b.flash([{ address: BASE, data: armImage({ size: 1000, linkedAt: BASE }) }]);
    expect(b.rom.events.filter((e) => e.type === "erase")).toEqual([
      { type: "erase", units: "mass" },
    ]);
    expect(b.rom.flash()[0x8000]).toBe(0xff);
  });

  it("erased runs are not sent (the page is 0xFF already), and still read back", async () => {
    const b = board();
    const img = armImage({ size: 2048, linkedAt: BASE });
    img.fill(0xff, 256, 768); // blocks 1 and 2 erased
    img.fill(0xff, 1000, 1024); // the end of block 3
    await b.flash([{ address: BASE, data: img }]);
    const writes = b.rom.events.filter((e) => e.type === "write") as {
      address: number;
      length: number;
    }[];
    expect(writes.map((w) => [w.address - BASE, w.length])).toEqual([
      [0, 256],
      [768, 232],
      [1024, 256],
      [1280, 256],
      [1536, 256],
      [1792, 256],
    ]);
    expect(b.rom.events.filter((e) => e.type === "read").length).toBe(2 + 8);
    expect(Buffer.from(b.rom.flash().subarray(0, 2048)).equals(Buffer.from(img))).toBe(true);
  });

  it("READ goes out in one write, WRITE too when no pair of its bytes could run as a command", async () => {
    const b = board();
    const img = armImage({ size: 1024, linkedAt: BASE });
    img.set([0x82, 0x7d], 600); // a READOUT_PROTECT pair inside block 2
    await b.flash([{ address: BASE, data: img }]);
    const w = b.host.mock.written.map((x) => x.length);
    // block 0, 1, 3: 2 + 5 + 258 at once; block 2: step by step
    expect(w.filter((n) => n === 265)).toHaveLength(3);
    expect(w.filter((n) => n === 258)).toHaveLength(1);
    expect(w.filter((n) => n === 9)).toHaveLength(1 + 4); // the option bytes, then the verify reads
    expect(Buffer.from(b.rom.flash().subarray(0, 1024)).equals(Buffer.from(img))).toBe(true);
  });
});

describe("getting to the ROM", () => {
  it("BOOT0 low: canflash says what to do, and syncs once the person sets BOOT0 and resets", async () => {
    const b = board(
      { boot0: false },
      {
        onEvent: (e, rom, clock) => {
          if (e.type === "info" && e.data?.prompt === "boot-pins")
            clock.schedule(4000, () => {
              rom.boot0 = true;
              rom.reset();
            });
        },
      },
    );
    const r = await b.flash([{ address: BASE, data: armImage({ size: 512, linkedAt: BASE }) }]);
    expect(r.verified).toBe(true);
    const prompt = b.events.find((e) => e.type === "info" && e.data?.prompt === "boot-pins");
    expect(prompt && prompt.type === "info" && prompt.message).toMatch(
      /set BOOT0 high \(BOOT1 low\) and press reset/,
    );
    expect(b.rom.count("sync")).toBe(1);
  });

  it("nobody sets BOOT0: Stm32NoAnswerError at the named deadline, nothing written", async () => {
    const b = board({ boot0: false }, { entryWaitMs: 5000 });
    const e = await flashFailure(
      b.flash([{ address: BASE, data: armImage({ size: 512, linkedAt: BASE }) }]),
    );
    expect(e.phase).toBe("enter");
    expect(e.deviceState).toBe("untouched");
    expect(e.cause).toBeInstanceOf(Stm32NoAnswerError);
    const n = e.cause as Stm32NoAnswerError;
    expect(n.prompted).toBe(true);
    expect(n.waitedMs).toBeGreaterThanOrEqual(5000);
    expect(n.waitedMs).toBeLessThan(7500);
  });

  it("a ROM synced by an earlier session: 0x7F is read as a command byte, the second draws NACK — synced", async () => {
    const b = board();
    await b.flash([{ address: BASE, data: armImage({ size: 300, linkedAt: BASE }) }], true);
    const again = new Stm32UsartAdapter({ ...b.adapter.options });
    const r = await b.clock.run(
      runFlash(
        again,
        { segments: [{ address: BASE, data: armImage({ size: 300, linkedAt: BASE }) }] },
        { clock: b.clock },
      ),
    );
    expect(r.verified).toBe(true);
    expect(b.rom.count("sync")).toBe(1);
    expect(b.rom.events.some((e) => e.type === "nack" && e.code === 0x7f)).toBe(true);
  });

  it("a stray byte in the ROM's parser (a late ACK, line noise): GET is refused, canflash realigns", async () => {
    const b = board(
      {},
      {
        wrap: (t) => {
          let first = true;
          return {
            ...t,
            name: t.name,
            clock: t.clock,
            read: (ms, o) => t.read(ms, o),
            discardInput: () => t.discardInput(),
            close: () => t.close(),
            write: async (d) => {
              // After the sync, one noise byte reaches the ROM before GET.
              if (first && d[0] === c.Cmd.GET) {
                first = false;
                await t.write(Uint8Array.of(0x44));
              }
              await t.write(d);
            },
          };
        },
      },
    );
    const r = await b.flash([{ address: BASE, data: armImage({ size: 300, linkedAt: BASE }) }]);
    expect(r.verified).toBe(true);
    expect(b.rom.events.filter((e) => e.type === "nack").length).toBeGreaterThanOrEqual(1);
  });
});

describe("the session after a refused step", () => {
  it("a pipelined READ refused at its address leaves bytes in the ROM's parser: the next command realigns first", async () => {
    const clock = new VirtualClock();
    const { host, rom } = stm32RomPair({ clock, preset: "f103" });
    const s = new Stm32UsartSession(host, { baud: 57600, frameBits: 11 });
    await clock.run(s.syncOnce());
    s.pipelined = true;
    const err = await clock.run(s.readMemory(0x30000000, 256).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(Stm32NackError);
    expect((err as Stm32NackError).step).toBe("address");
    // ff 00 after the refused address were read as a command: one more NACK is on its way.
    expect(await clock.run(s.getId())).toBe(0x410);
    expect(rom.events.filter((e) => e.type === "nack").length).toBeGreaterThanOrEqual(3);
  });

  it("a stepwise step refused: the ROM waits for a command at once, no realign needed", async () => {
    const clock = new VirtualClock();
    const { host } = stm32RomPair({ clock, preset: "f103" });
    const s = new Stm32UsartSession(host, { baud: 57600, frameBits: 11 });
    await clock.run(s.syncOnce());
    await clock.run(s.readMemory(0x30000000, 4).catch(() => undefined));
    const t0 = clock.now();
    expect(await clock.run(s.getId())).toBe(0x410);
    expect(clock.now() - t0).toBeLessThan(50);
  });
});

describe("refusals: nothing is written", () => {
  const nothingWritten = (rom: { count(t: string): number }) => {
    expect(rom.count("erase")).toBe(0);
    expect(rom.count("write")).toBe(0);
    expect(rom.count("go")).toBe(0);
  };

  it("readout protection: refused at connect with the part named", async () => {
    const b = board({ readoutProtected: true });
    const e = await flashFailure(
      b.flash([{ address: BASE, data: armImage({ size: 512, linkedAt: BASE }) }]),
    );
    expect(e.phase).toBe("connect");
    expect(e.deviceState).toBe("untouched");
    expect(e.cause).toBeInstanceOf(Stm32ReadoutProtectedError);
    expect(e.cause.message).toMatch(
      /STM32F10x medium density \(0x410\) on \/dev\/ttyAMA0 has readout protection on/,
    );
    nothingWritten(b.rom);
  });

  it("write-protected pages under the image: refused before erasing", async () => {
    const b = board({ writeProtected: [0] }); // WRP bit 0: pages 0..3
    const e = await flashFailure(
      b.flash([{ address: BASE, data: armImage({ size: 2048, linkedAt: BASE }) }]),
    );
    expect(e.cause).toBeInstanceOf(Stm32WriteProtectedError);
    expect((e.cause as Stm32WriteProtectedError).ranges).toEqual([[BASE, BASE + 0x800]]);
    nothingWritten(b.rom);
  });

  it("an F407 on the F103 row: the part that answered, and the row that fits", async () => {
    const b = board({ preset: "f407" }, { target: F103_ROW });
    const e = await flashFailure(
      b.flash([{ address: BASE, data: armImage({ size: 512, linkedAt: BASE }) }]),
    );
    expect(e.cause).toBeInstanceOf(Stm32WrongPartError);
    expect((e.cause as Stm32WrongPartError).suggestedTargets).toEqual(["stm32f4-rom-serial"]);
    nothingWritten(b.rom);
  });

  it("a .bin linked for Katapult's 0x08002000, written through the ROM at 0x08000000", async () => {
    const b = board();
    const e = await flashFailure(
      b.flash([{ address: BASE, data: armImage({ size: 16_000, linkedAt: 0x08002000 }) }]),
    );
    expect(e.cause).toBeInstanceOf(Stm32LinkedForOffsetError);
    expect((e.cause as Stm32LinkedForOffsetError).offset).toBe(0x2000);
    nothingWritten(b.rom);
  });

  it("an image placed at 0x08002000 with nothing below it; with a bootloader below it flashes and keeps it", async () => {
    const app = armImage({ size: 4000, linkedAt: 0x08002000 });
    const empty = board();
    const e = await flashFailure(empty.flash([{ address: 0x08002000, data: app }]));
    expect(e.cause).toBeInstanceOf(Stm32NoBootloaderBelowError);
    expect((e.cause as Stm32NoBootloaderBelowError).found).toBe("erased");
    nothingWritten(empty.rom);

    const katapult = armImage({ size: 6000, linkedAt: BASE });
    const withBoot = board({ initial: katapult });
    await withBoot.flash([{ address: 0x08002000, data: app }]);
    const f = withBoot.rom.flash();
    expect(Buffer.from(f.subarray(0, 6000)).equals(Buffer.from(katapult))).toBe(true);
    expect(Buffer.from(f.subarray(0x2000, 0x2000 + 4000)).equals(Buffer.from(app))).toBe(true);
    expect(withBoot.rom.events.filter((e) => e.type === "erase")).toEqual([
      { type: "erase", units: [8, 9, 10, 11] },
    ]);
    expect(withBoot.rom.events.at(-1)).toMatchObject({ type: "go", address: BASE });
  });
});

describe("failures after the first write: the ROM stays, GO is never sent", () => {
  it("a corrupted data block is NACKed: write fails, the board is in its bootloader", async () => {
    let n = 0;
    const b = board(
      {},
      {
        wrap: (t) => ({
          name: t.name,
          clock: t.clock,
          read: (ms, o) => t.read(ms, o),
          discardInput: () => t.discardInput(),
          close: () => t.close(),
          write: (d) => {
            // the second WRITE: flip a data byte on the wire
            if (d.length === 265 && ++n === 2) {
              const x = Uint8Array.from(d);
              x[100]! ^= 0x01;
              return t.write(x);
            }
            return t.write(d);
          },
        }),
      },
    );
    const e = await flashFailure(
      b.flash([{ address: BASE, data: armImage({ size: 2048, linkedAt: BASE }) }]),
    );
    expect(e.phase).toBe("write");
    expect(e.deviceState).toBe("in-bootloader");
    expect(e.cause).toBeInstanceOf(Stm32NackError);
    expect((e.cause as Stm32NackError).step).toBe("data");
    expect(b.rom.count("go")).toBe(0);
    expect(b.rom.mode).toBe("rom");
  });

  it("a verify mismatch: VerifyMismatchError with the address, no GO", async () => {
    // Between writing and reading back, a bit of flash flips (a worn cell).
    const b = board(
      {},
      {
        onEvent: (e, rom) => {
          if (e.type === "phase-start" && e.phase === "verify") rom.memory.flash[700]! ^= 0x10;
        },
      },
    );
    const e = await flashFailure(
      b.flash([{ address: BASE, data: armImage({ size: 1024, linkedAt: BASE }) }]),
    );
    expect(e.phase).toBe("verify");
    expect(e.cause).toBeInstanceOf(VerifyMismatchError);
    expect((e.cause as VerifyMismatchError).address).toBe(BASE + 700);
    expect(b.rom.count("go")).toBe(0);
  });
});

describe("dry run", () => {
  it("connects and plans; no ERASE, WRITE or GO reaches the ROM", async () => {
    const b = board();
    const r = await b.flash(
      [{ address: BASE, data: armImage({ size: 5000, linkedAt: BASE }) }],
      true,
    );
    expect(r.dryRun).toBe(true);
    expect(r.plan.blocks).toHaveLength(20);
    const forbidden = [
      c.Cmd.WRITE_MEMORY,
      c.Cmd.ERASE,
      c.Cmd.EXTENDED_ERASE,
      c.Cmd.GO,
      c.Cmd.WRITE_PROTECT,
      c.Cmd.WRITE_UNPROTECT,
      c.Cmd.READOUT_PROTECT,
      c.Cmd.READOUT_UNPROTECT,
    ];
    expect(commands(b.rom).filter((x) => forbidden.includes(x as never))).toEqual([]);
    expect(b.rom.flash().every((x) => x === 0xff)).toBe(true);
  });

  it("with no ROM answering, a dry run stops where a person would have to set BOOT0", async () => {
    const b = board({ boot0: false });
    const e = await flashFailure(
      b.flash([{ address: BASE, data: armImage({ size: 512, linkedAt: BASE }) }], true),
    );
    expect(e.cause.message).toMatch(/a real run would wait for the boot pins to be set/);
    expect(b.events.some((x) => x.type === "info" && x.data?.prompt)).toBe(false);
  });
});
