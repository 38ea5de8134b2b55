// SAM-BA commands, CRC and XMODEM blocks against the protocol notes'
// examples (sam-ba.md §3, §11, §12); the applet's bytes against its source.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AppletLayout, appletImage } from "../../../src/bootloaders/sam-ba/applet.js";
import * as c from "../../../src/bootloaders/sam-ba/codec.js";
import { chipByChipId, chipByDeviceId } from "../../../src/bootloaders/sam-ba/parts.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("SAM-BA commands (sam-ba.md §3, §11)", () => {
  it("are bossac's byte for byte", () => {
    expect(text(c.Command.normal())).toBe("N#");
    expect(text(c.Command.version())).toBe("V#");
    expect(text(c.Command.readWord(0x41002018))).toBe("w41002018,4#");
    expect(text(c.Command.readByte(0x41004012))).toBe("o41004012,4#");
    expect(text(c.Command.writeWord(0x4100401c, 0x1080))).toBe("W4100401C,00001080#");
    expect(text(c.Command.writeWord(0x400e0a04, 0x5a00010b))).toBe("W400E0A04,5A00010B#");
    expect(text(c.Command.writeByte(0x41004010, 0xce))).toBe("O41004010,CE#");
    expect(text(c.Command.send(0x20004034, 0x1000))).toBe("S20004034,00001000#");
    expect(text(c.Command.receive(0x2000, 0x3f))).toBe("R00002000,0000003F#");
    expect(text(c.Command.go(0x20001020))).toBe("G20001020#");
    expect(text(c.Command.chipErase(0x2000))).toBe("X00002000#");
    expect(text(c.Command.setBuffer(0x20004034))).toBe("Y20004034,0#");
    expect(text(c.Command.writeBuffer(0x2000, 0x1000))).toBe("Y00002000,00001000#");
    expect(text(c.Command.checksum(0x2000, 0x40))).toBe("Z00002000,00000040#");
    expect(text(c.Command.writeWord(0xe000ed0c, 0x05fa0004))).toBe("WE000ED0C,05FA0004#");
  });

  it("CRC-16/XMODEM: the check values", () => {
    expect(c.crc16Xmodem(new TextEncoder().encode("123456789"))).toBe(0x31c3);
    expect(c.crc16Xmodem(new Uint8Array(64).fill(0xff))).toBe(0x278e);
    expect(c.crc16Xmodem(new Uint8Array(0))).toBe(0);
  });

  it("version texts: the printable prefix and the Arduino extension letters", () => {
    const zero = c.parseVersion(
      new TextEncoder().encode("v2.0 [Arduino:XYZ] Mar 17 2016 11:52:29\n\r"),
    );
    expect(zero).toMatchObject({
      text: "v2.0 [Arduino:XYZ] Mar 17 2016 11:52:29",
      extensions: "XYZ",
      canWriteBuffer: true,
      canChecksum: true,
    });
    const uf2 = c.parseVersion(
      Uint8Array.from([...new TextEncoder().encode("v1.1 [Arduino:XYZ] x\n\r"), 0]),
    );
    expect(uf2.text).toBe("v1.1 [Arduino:XYZ] x");
    const rom = c.parseVersion(new TextEncoder().encode("v1.1 Dec 15 2010 19:25:04\n\r"));
    expect(rom).toMatchObject({
      extensions: "",
      canChipErase: false,
      canWriteBuffer: false,
      canChecksum: false,
    });
    expect(c.parseVersion(Uint8Array.of(0x0a, 0x0d)).text).toBe("");
  });

  it("Z replies", () => {
    expect(c.parseChecksumReply(new TextEncoder().encode("Z0000278E#\n\r"))).toBe(0x278e);
    expect(c.parseChecksumReply(new TextEncoder().encode("Y\n\r"))).toBeUndefined();
  });

  it("XMODEM-CRC blocks: header, complement, zero padding, CRC over the data; bad blocks say why", () => {
    const b = c.xmodemBlock(1, Uint8Array.of(0x41, 0x42));
    expect(b.length).toBe(133);
    expect([...b.subarray(0, 5)]).toEqual([0x01, 0x01, 0xfe, 0x41, 0x42]);
    expect(b.subarray(5, 131).every((x) => x === 0)).toBe(true);
    const crc = c.crc16Xmodem(b.subarray(3, 131));
    expect([b[131], b[132]]).toEqual([crc >> 8, crc & 0xff]);
    expect(c.checkXmodemBlock(b, 1)).toMatchObject({ ok: true, blockNumber: 1 });
    expect(c.checkXmodemBlock(b, 2)).toEqual({ ok: false, reason: "number" });
    const bad = Uint8Array.from(b);
    bad[40]! ^= 1;
    expect(c.checkXmodemBlock(bad, 1)).toEqual({ ok: false, reason: "crc" });
    expect(c.checkXmodemBlock(b.subarray(0, 100), 1)).toEqual({ ok: false, reason: "length" });
    expect(() => c.xmodemBlock(1, new Uint8Array(129))).toThrow(RangeError);
  });
});

describe("chip ids (sam-ba.md §4, §12)", () => {
  it("name the part and Klipper's MCU only where the id is exact", () => {
    expect(chipByDeviceId(0x10010305)).toMatchObject({
      mcu: "samd21g18a",
      chip: { name: "ATSAMD21x18", pageSize: 64 },
    });
    expect(chipByDeviceId(0x60060005)).toMatchObject({
      mcu: "samd51j19a",
      chip: { pages: 1024, pageSize: 512 },
    });
    expect(chipByChipId(0x285e0a60, 0)).toMatchObject({
      mcu: "sam3x8e",
      chip: { planes: 2, flashBase: 0x80000 },
    });
    expect(chipByChipId(0xa3cc0ce0, 0x00120208)).toMatchObject({ mcu: "sam4e8e" });
    expect(chipByChipId(0xa3cc0ce0, 0x12345678)).toBeUndefined();
    expect(chipByDeviceId(0x10020005)).toBeUndefined();
  });
});

describe("the applet", () => {
  it("has its slots where the layout says, and the code of applet.S", () => {
    const img = appletImage();
    expect(img.length).toBe(AppletLayout.SIZE);
    expect(img.subarray(AppletLayout.DST).every((b) => b === 0)).toBe(true);
    expect([img[AppletLayout.COPY_ENTRY + 16], img[AppletLayout.COPY_ENTRY + 17]]).toEqual([
      0x70, 0x47,
    ]); // bx lr
    let as: string | undefined;
    try {
      as = execFileSync("which", ["arm-none-eabi-as"]).toString().trim();
    } catch {
      as = undefined; // binutils-arm-none-eabi is optional: the model's Thumb run below still checks the code
    }
    if (!as) return;
    const dir = mkdtempSync(join(tmpdir(), "applet-"));
    const src = new URL("../../../src/bootloaders/sam-ba/applet.S", import.meta.url).pathname;
    execFileSync(as, ["-o", join(dir, "a.o"), src]);
    execFileSync("arm-none-eabi-objcopy", ["-O", "binary", join(dir, "a.o"), join(dir, "a.bin")]);
    expect(Buffer.from(readFileSync(join(dir, "a.bin"))).equals(Buffer.from(img))).toBe(true);
  });
});
