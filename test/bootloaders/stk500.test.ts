// STK500v1 and STK500v2: golden frames from the protocol notes, and whole
// flashes through the flasher core against bootloader models on virtual
// time (Optiboot, ATmegaBOOT, the Mega 2560 stk500v2 bootloader). The real
// bootloaders in simavr are exercised in test/avr.
import { describe, expect, it } from "vitest";
import { AvrNoAnswerError, AvrSignatureMismatchError } from "../../src/bootloaders/avr/errors.js";
import { findAvrPart, type AvrPart } from "../../src/bootloaders/avr/parts.js";
import * as v1 from "../../src/bootloaders/avr/stk500v1/codec.js";
import { Stk500v1Adapter } from "../../src/bootloaders/avr/stk500v1/adapter.js";
import * as v2 from "../../src/bootloaders/avr/stk500v2/codec.js";
import { Stk500v2Adapter } from "../../src/bootloaders/avr/stk500v2/adapter.js";
import { FlashError, VerifyMismatchError } from "../../src/flasher/errors.js";
import { runFlash } from "../../src/flasher/execute.js";
import { ImageDoesNotFitError } from "../../src/flasher/plan.js";
import { Stk500v1Boot, type Stk500v1Flavour } from "../../src/sim/avr/stk500v1-boot.js";
import { Stk500v2Boot } from "../../src/sim/avr/stk500v2-boot.js";
import { SimUartPair } from "../../src/sim/avr/uart-pair.js";
import { VirtualClock } from "../../src/util/clock.js";
import { randomBytes } from "../../src/util/random.js";

const hex = (b: ArrayLike<number>) =>
  Buffer.from(Array.from(b)).toString("hex").replace(/(..)/g, "$1 ").trim();
const part = (name: string): AvrPart => findAvrPart(name)!;

describe("STK500v1 frames (stk500v1.md)", () => {
  it("addresses are word addresses, little endian; page lengths big endian", () => {
    expect(hex(v1.loadAddress(0x1fa00))).toBe("55 00 fd 20");
    expect(hex(v1.loadAddress(0x10000))).toBe("55 00 80 20");
    expect(hex(v1.loadAddress(0x0100))).toBe("55 80 00 20");
    expect(hex(v1.readPage(256))).toBe("74 01 00 46 20");
    const p = v1.progPage(new Uint8Array(128).fill(0xab));
    expect(hex(p.subarray(0, 4))).toBe("64 00 80 46");
    expect(p.length).toBe(133);
    expect(p[132]).toBe(0x20);
    expect(hex(v1.getSync())).toBe("30 20");
    expect(hex(v1.universal(0x4d, 0, v1.extendedByte(0x20000), 0))).toBe("56 4d 00 01 00 20");
    expect(() => v1.loadAddress(0x101)).toThrow(/odd/);
  });

  it("names what came back instead of INSYNC", () => {
    expect(v1.describeReplyByte(0x30)).toMatch(/echoed/);
    expect(v1.describeReplyByte(0x15)).toMatch(/NOSYNC/);
    expect(v1.describeReplyByte(0xe3)).toMatch(/wrong baud rate/);
  });
});

describe("STK500v2 messages (stk500v2.md §10)", () => {
  it("matches the worked examples byte for byte", () => {
    expect(hex(v2.encodeMessage(0x0a, v2.loadAddress(0x200, true)))).toBe(
      "1b 0a 00 05 0e 06 80 00 01 00 9d",
    );
    const prog = v2.encodeMessage(0x0d, v2.programFlash(new Uint8Array(256).fill(0xff)));
    expect(hex(prog.subarray(0, 15))).toBe("1b 0d 01 0a 0e 13 01 00 c1 0a 40 4c 20 00 00");
    expect(prog.at(-1)).toBe(0xe6);
    expect(hex(v2.encodeMessage(0x0b, v2.readFlash(256)))).toBe("1b 0b 00 04 0e 14 01 00 20 2f");
    expect(hex(v2.encodeMessage(0x08, v2.readSignatureByte(1)))).toBe(
      "1b 08 00 06 0e 1b 04 30 00 01 00 35",
    );
    expect(hex(v2.encodeMessage(0x01, v2.signOn()))).toBe("1b 01 00 01 0e 01 14");
    expect(hex(v2.loadAddress(0x10000, true))).toBe("06 80 00 80 00");
    expect(hex(v2.loadAddress(0x20000, true))).toBe("06 80 01 00 00");
  });

  it("the reader skips noise and bad checksums and keeps partial messages", () => {
    const r = new v2.MessageReader();
    const good = v2.encodeMessage(7, [0x01, 0x00, 8, ...new TextEncoder().encode("AVRISP_2")]);
    const bad = Uint8Array.from(good);
    bad[8] = bad[8]! ^ 1;
    const stream = Uint8Array.from([0x00, 0x1b, 0x42, ...bad, 0xff, ...good]);
    expect(r.push(stream.subarray(0, 20))).toEqual([]);
    const msgs = r.push(stream.subarray(20));
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.seq).toBe(7);
    expect(r.bad).toBeGreaterThan(0);
  });
});

/** A board with an STK500v1 bootloader model on a simulated UART. */
function v1Board(o: {
  flavour: Stk500v1Flavour;
  part: string;
  bootStart: number;
  baud: number;
  acceptsLines?: boolean;
  boardPart?: string;
}) {
  const clock = new VirtualClock();
  const uart = new SimUartPair(clock, {
    baud: o.baud,
    ...(o.acceptsLines === false ? { acceptsLines: false } : {}),
  });
  const boot = new Stk500v1Boot(uart.device, {
    flavour: o.flavour,
    part: part(o.boardPart ?? o.part),
    bootStart: o.bootStart,
    clock,
  });
  uart.onReset(() => boot.reset());
  const adapter = new Stk500v1Adapter({
    port: "/dev/ttyUSB0",
    baud: o.baud,
    part: part(o.part),
    bootloader: o.flavour === "optiboot" ? "Optiboot" : "ATmegaBOOT",
    bootStart: o.bootStart,
    listenWindowMs: o.flavour === "optiboot" ? 1400 : 1330,
    target: "test-stk500v1",
    autoReset: true,
    open: () => Promise.resolve(uart.host),
  });
  return { clock, uart, boot, adapter };
}

function v2Board(o: { part: string; boardPart?: string; acceptsLines?: boolean }) {
  const clock = new VirtualClock();
  const uart = new SimUartPair(clock, {
    baud: 115200,
    ...(o.acceptsLines === false ? { acceptsLines: false } : {}),
  });
  const boot = new Stk500v2Boot(uart.device, {
    part: part(o.boardPart ?? o.part),
    bootStart: 0x3e000,
    clock,
  });
  uart.onReset(() => boot.reset());
  const adapter = new Stk500v2Adapter({
    port: "/dev/ttyACM0",
    baud: 115200,
    part: part(o.part),
    bootloader: "stk500v2 (Arduino Mega)",
    bootStart: 0x3e000,
    listenWindowMs: 830,
    target: "test-stk500v2",
    autoReset: true,
    open: () => Promise.resolve(uart.host),
  });
  return { clock, uart, boot, adapter };
}

const image = (size: number, seed: number) => randomBytes(size, seed);

describe("STK500v1 through the flasher core", () => {
  it.each([
    ["optiboot", "atmega328p", 0x7e00, 115200, 8 * 1024],
    ["optiboot", "atmega1284p", 0x1fc00, 115200, 20 * 1024],
    ["atmegaboot", "atmega1280", 0x1f000, 57600, 10 * 1024 + 100],
  ] as const)(
    "%s on %s: writes, verifies, starts the application",
    async (flavour, name, bootStart, baud, size) => {
      const b = v1Board({ flavour, part: name, bootStart, baud });
      const img = image(size, size);
      const r = await b.clock.run(
        runFlash(b.adapter, { segments: [{ address: 0, data: img }] }, { clock: b.clock }),
      );
      expect(r.verified).toBe(true);
      expect(r.device.description).toMatch(
        new RegExp(`(STK500v1) on ${name}`.replace(/[()]/g, "\\$&")),
      );
      expect(b.boot.flash.subarray(0, size)).toEqual(img);
      expect(b.boot.flash.subarray(size, bootStart).every((x) => x === 0xff)).toBe(true);
      expect(b.boot.events.some((e) => e.type === "overrun")).toBe(false);
      await b.clock.advance(50); // Optiboot leaves through a 16 ms watchdog reset
      expect(b.boot.events.at(-1)).toMatchObject({ type: "app" });
    },
  );

  it("a HEX with a gap writes only the pages that hold data", async () => {
    const b = v1Board({ flavour: "optiboot", part: "atmega328p", bootStart: 0x7e00, baud: 115200 });
    const lo = image(300, 1);
    const hi = image(200, 2);
    await b.clock.run(
      runFlash(
        b.adapter,
        {
          segments: [
            { address: 0, data: lo },
            { address: 0x4000, data: hi },
          ],
        },
        { clock: b.clock },
      ),
    );
    const pages = b.boot.events
      .filter((e) => e.type === "page")
      .map((e) => (e as { address: number }).address);
    expect(pages).toEqual([0, 128, 256, 0x4000, 0x4080]);
    expect(b.boot.flash.subarray(0x4000, 0x4000 + 200)).toEqual(hi);
  });

  it("wrong part: refused with the chip it found, nothing written", async () => {
    const b = v1Board({
      flavour: "atmegaboot",
      part: "atmega1280",
      boardPart: "atmega2560",
      bootStart: 0x1f000,
      baud: 57600,
    });
    const e = await b.clock
      .run(
        runFlash(
          b.adapter,
          { segments: [{ address: 0, data: image(1000, 3) }] },
          { clock: b.clock },
        ),
      )
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FlashError);
    const cause = (e as FlashError).cause;
    expect(cause).toBeInstanceOf(AvrSignatureMismatchError);
    expect(cause.message).toBe(
      "the bootloader reports signature 1e 98 01 (atmega2560), not atmega1280's 1e 97 03",
    );
    expect(b.boot.events.some((x) => x.type === "page")).toBe(false);
  });

  it("an image reaching into the bootloader is refused before a page is written", async () => {
    const b = v1Board({ flavour: "optiboot", part: "atmega328p", bootStart: 0x7e00, baud: 115200 });
    const e = await b.clock
      .run(
        runFlash(
          b.adapter,
          { segments: [{ address: 0x7c00, data: image(1024, 4) }] },
          { clock: b.clock },
        ),
      )
      .catch((x: unknown) => x);
    expect((e as FlashError).cause).toBeInstanceOf(ImageDoesNotFitError);
    expect(b.boot.events.some((x) => x.type === "page")).toBe(false);
  });

  it("nothing answering: a timeout naming the listen window and the reset, within three rounds", async () => {
    const b = v1Board({ flavour: "optiboot", part: "atmega328p", bootStart: 0x7e00, baud: 115200 });
    b.uart.onReset(() => undefined); // the board never resets: no bootloader listens
    const t0 = b.clock.now();
    const e = await b.clock
      .run(
        runFlash(
          b.adapter,
          { segments: [{ address: 0, data: image(100, 5) }] },
          { clock: b.clock },
        ),
      )
      .catch((x: unknown) => x);
    const cause = (e as FlashError).cause as AvrNoAnswerError;
    expect(cause).toBeInstanceOf(AvrNoAnswerError);
    expect(cause.message).toMatch(
      /no answer from the Optiboot bootloader on \/dev\/ttyUSB0 at 115200 baud after \d+ sync attempts: it listens only about 1\.4 s after a reset, and canflash reset the board with a DTR\/RTS pulse/,
    );
    expect(b.clock.now() - t0).toBeLessThan(3 * (1400 + 400) + 100);
  });

  it("a port without DTR/RTS: no pulse, the message says the board was not reset; a board reset by hand syncs", async () => {
    const b = v1Board({
      flavour: "atmegaboot",
      part: "atmega1280",
      bootStart: 0x1f000,
      baud: 57600,
      acceptsLines: false,
    });
    const e = await b.clock
      .run(
        runFlash(
          b.adapter,
          { segments: [{ address: 0, data: image(100, 6) }] },
          { clock: b.clock },
        ),
      )
      .catch((x: unknown) => x);
    expect((e as FlashError).cause.message).toMatch(
      /refused the DTR\/RTS reset pulse, so the board was not reset/,
    );

    const c = v1Board({
      flavour: "atmegaboot",
      part: "atmega1280",
      bootStart: 0x1f000,
      baud: 57600,
      acceptsLines: false,
    });
    c.boot.reset(); // the user pressed reset
    const events: string[] = [];
    const r = await c.clock.run(
      runFlash(
        c.adapter,
        { segments: [{ address: 0, data: image(700, 7) }] },
        { clock: c.clock, onEvent: (x) => x.type === "info" && events.push(x.message) },
      ),
    );
    expect(r.verified).toBe(true);
    expect(events[0]).toMatch(/takes no DTR\/RTS/);
  });

  it("a verify mismatch ends without LEAVE_PROGMODE", async () => {
    const b = v1Board({
      flavour: "atmegaboot",
      part: "atmega1280",
      bootStart: 0x1f000,
      baud: 57600,
    });
    const img = image(2048, 8);
    const adapter = b.adapter;
    const write = adapter.writeBlock.bind(adapter);
    adapter.writeBlock = async (ctx, block) => {
      await write(ctx, block);
      if (block.address === 512) b.boot.flash[600] = b.boot.flash[600]! ^ 0x10; // a bit flips in flash
    };
    const e = await b.clock
      .run(runFlash(adapter, { segments: [{ address: 0, data: img }] }, { clock: b.clock }))
      .catch((x: unknown) => x);
    expect((e as FlashError).cause).toBeInstanceOf(VerifyMismatchError);
    expect((e as FlashError).cause.message).toMatch(/at 0x0*258/);
    expect(b.boot.events.some((x) => x.type === "app" && x.why === "LEAVE_PROGMODE")).toBe(false);
  });
});

describe("STK500v2 through the flasher core", () => {
  it("writes a 70 KiB image from page 0 in order (extended addressing), verifies, leaves", async () => {
    const b = v2Board({ part: "atmega2560" });
    const img = image(70 * 1024, 9);
    const r = await b.clock.run(
      runFlash(b.adapter, { segments: [{ address: 0, data: img }] }, { clock: b.clock }),
    );
    expect(r.verified).toBe(true);
    expect(r.device.description).toMatch(/STK500v2, AVRISP_2\) on atmega2560, signature 1e 98 01/);
    expect(b.boot.flash.subarray(0, img.length)).toEqual(img);
    expect(b.boot.events.at(-1)).toMatchObject({ type: "app", why: "LEAVE_PROGMODE" });
    expect(b.boot.events.some((e) => e.type === "chip-erase")).toBe(false);
  });

  it("a HEX with a gap is still written as every page from 0 (the bootloader erases by its own counter)", async () => {
    const b = v2Board({ part: "atmega2560" });
    const hi = image(300, 10);
    await b.clock.run(
      runFlash(
        b.adapter,
        {
          segments: [
            { address: 0, data: image(100, 11) },
            { address: 0x11000, data: hi },
          ],
        },
        { clock: b.clock },
      ),
    );
    const pages = b.boot.events
      .filter((e) => e.type === "page")
      .map((e) => (e as { address: number }).address);
    expect(pages.length).toBe((0x11000 + 512) / 256);
    expect(pages.every((p, i) => p === i * 256)).toBe(true);
    expect(b.boot.flash.subarray(0x11000, 0x11000 + 300)).toEqual(hi);
  });

  it("the model is faithful: a page written out of order lands on unerased flash", async () => {
    const clock = new VirtualClock();
    const uart = new SimUartPair(clock, { baud: 115200 });
    const boot = new Stk500v2Boot(uart.device, {
      part: part("atmega2560"),
      bootStart: 0x3e000,
      clock,
    });
    boot.reset();
    boot.flash.fill(0x00, 0x100, 0x200); // old firmware left zeros in page 1
    let seq = 1;
    const send = (body: number[]) => uart.host.write(v2.encodeMessage(seq++, body));
    await send(v2.loadAddress(0x100, true));
    await send(v2.programFlash(new Uint8Array(256).fill(0xa5)));
    await clock.advance(100);
    // The erase pointer erased page 0, not page 1: the new data ANDs with the old zeros.
    expect(boot.flash[0x100]).toBe(0x00);
  });

  it("wrong part: the atmega1280 preset on the 2560 bootloader is refused", async () => {
    const b = v2Board({ part: "atmega1280", boardPart: "atmega2560" });
    const e = await b.clock
      .run(
        runFlash(
          b.adapter,
          { segments: [{ address: 0, data: image(512, 12) }] },
          { clock: b.clock },
        ),
      )
      .catch((x: unknown) => x);
    expect((e as FlashError).cause.message).toMatch(
      /reports signature 1e 98 01 \(atmega2560\), not atmega1280's 1e 97 03/,
    );
    expect(b.boot.events.some((x) => x.type === "page")).toBe(false);
  });

  it("no bootloader: sign-on gives up after its rounds with the listen window in the message", async () => {
    const b = v2Board({ part: "atmega2560" });
    b.uart.onReset(() => undefined);
    const e = await b.clock
      .run(
        runFlash(
          b.adapter,
          { segments: [{ address: 0, data: image(512, 13) }] },
          { clock: b.clock },
        ),
      )
      .catch((x: unknown) => x);
    expect((e as FlashError).cause.message).toMatch(/listens only about 0\.8 s after a reset/);
  });
});
