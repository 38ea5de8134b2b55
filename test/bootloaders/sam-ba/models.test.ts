// The SAM-BA models keep what the firmware does, bad input included: the
// byte-wise parser (commands before N#, garbage, unknown letters, terminal
// mode), uf2-samdx1's 0xFF bug, the read bugs bossac works around, bus
// faults that hang the monitor, BOOTPROT and EEFC lock/command errors, and
// applets really run (canflash's applet on the EEFC).
import { describe, expect, it } from "vitest";
import { AppletLayout, appletImage, bufferStart } from "../../../src/bootloaders/sam-ba/applet.js";
import { Command } from "../../../src/bootloaders/sam-ba/codec.js";
import { randomBytes } from "../../../src/util/random.js";
import { pair } from "./pair.js";

const enc = (s: string) => new TextEncoder().encode(s);

/** Sends `bytes` and collects what comes back within `ms`. */
async function talk(
  p: ReturnType<typeof pair>,
  bytes: Uint8Array | string,
  ms = 20,
): Promise<Uint8Array> {
  await p.host.write(typeof bytes === "string" ? enc(bytes) : bytes);
  return p.clock.run(
    p.host.read(ms).then(async (first) => {
      const more = await p.host.read(ms);
      return Uint8Array.from([...first, ...more]);
    }),
  );
}
const str = (b: Uint8Array) => new TextDecoder().decode(b);

describe("the monitor's parser", () => {
  it("Arduino Zero: binary mode from power-on, so commands work before N#; N# answers \\n\\r", async () => {
    const p = pair({ kind: "zero" });
    expect([...(await talk(p, "w41002018,4#"))]).toEqual([0x05, 0x03, 0x01, 0x10]);
    expect(str(await talk(p, "N#"))).toBe("\n\r");
  });

  it("terminal mode (T#): hex text, \\n\\r and the > prompt; N# returns to binary", async () => {
    const p = pair({ kind: "zero" });
    expect(str(await talk(p, "T#"))).toBe("\n\r>");
    expect(str(await talk(p, "w41002018,4#"))).toBe("\n\r0x10010305\n\r>");
    expect(str(await talk(p, "N#"))).toBe("\n\r");
    expect((await talk(p, "w41002018,4#")).length).toBe(4);
  });

  it("garbage and unknown commands get no answer, and the next command still works", async () => {
    const p = pair({ kind: "zero" });
    expect(
      (
        await talk(
          p,
          randomBytes(200, 5).map((b) => (b === 0x23 ? 0x24 : b)),
        )
      ).length,
    ).toBe(0);
    expect(await talk(p, "Q1234#")).toHaveLength(0);
    expect(str(await talk(p, "V#"))).toMatch(/^v2\.0 \[Arduino:XYZ\]/);
  });

  it("the UF2 monitor says nothing to N#, ends V# with a NUL, and drops the rest of a USB packet after 0xFF", async () => {
    const p = pair({ kind: "uf2-samd51" });
    expect(await talk(p, "N#")).toHaveLength(0);
    const v = await talk(p, "V#");
    expect(v.at(-1)).toBe(0);
    expect(await talk(p, Uint8Array.from([0xff, ...enc("V#")]))).toHaveLength(0);
    expect((await talk(p, "V#")).length).toBe(v.length);
    // the Zero bootloader only skips the 0xFF
    expect(
      (await talk(pair({ kind: "zero" }), Uint8Array.from([0xff, ...enc("V#")]))).length,
    ).toBeGreaterThan(10);
  });

  it("a read of an address the chip does not have hangs the monitor (HardFault): nothing answers any more", async () => {
    const p = pair({ kind: "zero" });
    expect(await talk(p, "w60000000,4#")).toHaveLength(0);
    expect(p.board.monitor!.hung).toBe(true);
    expect(await talk(p, "V#")).toHaveLength(0);
  });

  it("the SAM3X ROM starts in terminal mode on its UART (the auto-baud '#' gets \\n\\r>)", async () => {
    const p = pair({ kind: "due-programming-port", iface: "uart" });
    expect(str(await talk(p, Uint8Array.of(0x80, 0x80, 0x23), 100))).toBe("\n\r>");
    expect(str(await talk(p, "N#", 100))).toBe("\n\r");
  });
});

describe("the read bugs bossac works around", () => {
  it("SAM3X ROM: flash reads as zeros; USB reads of a power of two over 32 bytes are garbled", async () => {
    const p = pair({ kind: "due", application: randomBytes(256, 1) });
    expect((await talk(p, "R00080000,00000010#")).every((b) => b === 0)).toBe(true);
    const ram = randomBytes(64, 2);
    await p.host.write(Command.send(0x20002000, 64));
    await p.host.write(ram);
    expect(
      Buffer.from(await talk(p, Command.receive(0x20002000, 64))).equals(Buffer.from(ram)),
    ).toBe(false);
    expect(
      Buffer.from(await talk(p, Command.receive(0x20002000, 63))).equals(
        Buffer.from(ram.subarray(0, 63)),
      ),
    ).toBe(true);
  });

  it("Arduino Zero over USB: R of 64 bytes or more from flash is garbled, 63 is fine", async () => {
    const app = randomBytes(256, 3);
    const p = pair({ kind: "zero", application: app });
    expect(
      Buffer.from(await talk(p, Command.receive(0x2000, 63))).equals(
        Buffer.from(app.subarray(0, 63)),
      ),
    ).toBe(true);
    expect(
      Buffer.from(await talk(p, Command.receive(0x2000, 64))).equals(
        Buffer.from(app.subarray(0, 64)),
      ),
    ).toBe(false);
  });
});

describe("flash controllers", () => {
  it("UF2 SAMD51: BOOTPROT keeps the bootloader; an erase there sets LOCKE and changes nothing", async () => {
    const p = pair({ kind: "uf2-samd51" });
    const before = p.board.flash().slice(0, 0x4000);
    await talk(p, "W41004014,00000000#W41004004,0000A501#");
    expect((await talk(p, "o41004010,4#"))[0]! & 0x08).toBe(0x08);
    expect(Buffer.from(p.board.flash().slice(0, 0x4000)).equals(Buffer.from(before))).toBe(true);
  });

  it("Arduino Zero: Y does not erase (bits only go from 1 to 0), X does", async () => {
    const p = pair({ kind: "zero" });
    const w = async (data: Uint8Array) => {
      await p.host.write(Command.send(0x20004100, data.length));
      await p.host.write(data);
      await talk(p, Command.setBuffer(0x20004100));
      await talk(p, Command.writeBuffer(0x2000, data.length), 50);
    };
    await w(new Uint8Array(64).fill(0x0f));
    await w(new Uint8Array(64).fill(0xf3));
    expect(p.board.application(64).every((b) => b === 0x03)).toBe(true);
    expect(str(await talk(p, Command.chipErase(0x2000), 3000))).toBe("X\n\r");
    expect(p.board.application(64).every((b) => b === 0xff)).toBe(true);
  });

  it("EEFC: a command without the 0x5A key sets FCMDE, which clears when FSR is read", async () => {
    const p = pair({ kind: "due" });
    await talk(p, "W400E0A04,00000105#");
    expect([...(await talk(p, "w400E0A08,4#"))]).toEqual([0x03, 0, 0, 0]);
    expect([...(await talk(p, "w400E0A08,4#"))]).toEqual([0x01, 0, 0, 0]);
  });

  it("G runs the uploaded Thumb code: canflash's applet programs EEFC pages; a jump to an even address hangs", async () => {
    const p = pair({ kind: "due" });
    const A = 0x20001000;
    const buf = bufferStart(A);
    const data = randomBytes(512, 9);
    await p.host.write(Command.send(A, AppletLayout.SIZE));
    await p.host.write(appletImage());
    await p.host.write(Command.send(buf, 512));
    await p.host.write(data);
    const slots: [number, number][] = [
      [AppletLayout.DST, 0x80000 + 2 * 256],
      [AppletLayout.SRC, buf],
      [AppletLayout.WORDS, 64],
      [AppletLayout.FCR, 0x400e0a04],
      [AppletLayout.FCR_VALUE, 0x5a000201],
      [AppletLayout.PAGES, 2],
      [AppletLayout.VECTOR, 0x20010000],
      [AppletLayout.ENTRY, A + AppletLayout.PROGRAM_ENTRY + 1],
    ];
    for (const [o, v] of slots) await p.host.write(Command.writeWord(A + o, v));
    await p.host.write(Command.go(A + AppletLayout.VECTOR));
    expect([...(await talk(p, Command.readWord(A + AppletLayout.RESULT), 50))]).toEqual([
      1, 0, 0, 0,
    ]);
    expect(Buffer.from(p.board.flash().slice(512, 1024)).equals(Buffer.from(data))).toBe(true);
    const applet = p.board.events.find((e) => e.type === "applet");
    expect(applet).toMatchObject({ type: "applet" });
    await talk(p, Command.writeWord(A + AppletLayout.ENTRY, A));
    await talk(p, Command.go(A + AppletLayout.VECTOR));
    expect(p.board.monitor!.hung).toBe(true);
  });
});
