// The SD card model behaves like a card in SPI mode, byte by byte: silent
// until CMD0, R7 echo, idle until ACMD41 has been asked a few times, OCR
// with CCS, CRC checks (always on CMD0/CMD8, on all once CMD59 turned CRC
// on, CRC16 on data), reads with their start token and CRC16, writes with
// data response and busy, illegal commands. Then the host's SD code over it.
import { describe, expect, it } from "vitest";
import * as sd from "../../../src/bootloaders/sdcard-spi/codec.js";
import { SdSpiHost, type SpiPort } from "../../../src/bootloaders/sdcard-spi/sd-host.js";
import { SdCardError } from "../../../src/bootloaders/sdcard-spi/errors.js";
import { SdCardModel } from "../../../src/sim/sdcard/card.js";

const ff = (n: number) => new Uint8Array(n).fill(0xff);

/** Sends a frame and 8 idle bytes; returns what came after the frame. */
function cmd(
  card: SdCardModel,
  c: number,
  arg: number,
  extra = 0,
  frame = sd.commandFrame(c, arg),
) {
  return [...card.exchange(Uint8Array.from([...frame, ...ff(8 + extra)])).subarray(6)];
}
const r1 = (bytes: number[]) => bytes.find((b) => b !== 0xff);

function initCard(card: SdCardModel) {
  cmd(card, 0, 0);
  cmd(card, 8, 0x1aa);
  for (let i = 0; i < 10; i++) {
    cmd(card, 55, 0);
    if (r1(cmd(card, 41, sd.ACMD41_HCS)) === 0) return;
  }
  throw new Error("did not init");
}

const card = (sectors = 64, o: Partial<ConstructorParameters<typeof SdCardModel>[0]> = {}) =>
  new SdCardModel({ image: new Uint8Array(sectors * 512), ...o });

describe("SD card model, raw bytes", () => {
  it("says nothing before CMD0 and drives 0xFF when idle", () => {
    const c = card();
    expect([...c.exchange(ff(16))].every((b) => b === 0xff)).toBe(true);
    expect(r1(cmd(c, 17, 0))).toBeUndefined(); // SD mode: no answer in SPI
    expect(cmd(c, 0, 0)).toEqual([0xff, 0x01, ...ff(6)]);
  });

  it("refuses a CMD0 or CMD8 with a wrong CRC even while CRC is off", () => {
    const c = card();
    cmd(c, 0, 0);
    const bad = sd.commandFrame(8, 0x1aa);
    bad[5] = bad[5]! ^ 0x02;
    expect(r1(cmd(c, 8, 0, 0, bad))).toBe(sd.R1.IDLE | sd.R1.CRC_ERROR);
  });

  it("echoes CMD8's pattern, stays idle for a few ACMD41s, then reports CCS", () => {
    const c = card(64, { initTries: 2 });
    cmd(c, 0, 0);
    const r7 = cmd(c, 8, 0x1aa, 4);
    expect(r7.slice(1, 6)).toEqual([0x01, 0x00, 0x00, 0x01, 0xaa]);
    const acmd41 = () => (cmd(c, 55, 0), r1(cmd(c, 41, sd.ACMD41_HCS)));
    expect([acmd41(), acmd41(), acmd41()]).toEqual([0x01, 0x01, 0x00]);
    const r3 = cmd(c, 58, 0, 4);
    expect(r3.slice(1, 6)).toEqual([0x00, 0xc0, 0xff, 0x80, 0x00]);
  });

  it("answers illegal command to unknown commands, and to reads while idle", () => {
    const c = card();
    cmd(c, 0, 0);
    expect(r1(cmd(c, 17, 0))).toBe(sd.R1.IDLE | sd.R1.ILLEGAL_COMMAND);
    initCard(c);
    expect(r1(cmd(c, 33, 0))).toBe(sd.R1.ILLEGAL_COMMAND);
    expect(r1(cmd(c, 16, 1024))).toBe(sd.R1.PARAMETER_ERROR);
  });

  it("with CRC on, a command with a bad CRC7 gets the CRC bit and does nothing", () => {
    const c = card();
    initCard(c);
    expect(r1(cmd(c, 59, 1))).toBe(0);
    const f = sd.commandFrame(17, 0);
    f[5] = 0x01;
    expect(r1(cmd(c, 17, 0, 0, f))).toBe(sd.R1.CRC_ERROR);
    expect(c.events.filter((e) => e.type === "read")).toEqual([]);
  });

  it("reads a block: R1, start token after a gap, 512 bytes, CRC16", () => {
    const c = card(64, { readLatency: 2 });
    c.image.fill(0xa5, 3 * 512, 4 * 512);
    initCard(c);
    const got = cmd(c, 17, 3, 520);
    const t = got.indexOf(0xfe);
    expect(got.slice(1, t)).toEqual([0x00, 0xff, 0xff]);
    const data = Uint8Array.from(got.slice(t + 1, t + 513));
    expect(data.every((b) => b === 0xa5)).toBe(true);
    const crc = sd.crc16(data);
    expect(got.slice(t + 513, t + 515)).toEqual([crc >> 8, crc & 0xff]);
  });

  it("writes a block: data response 0x05, busy 0x00 bytes, then released", () => {
    const c = card(64, { busyBytes: 4 });
    initCard(c);
    expect(r1(cmd(c, 24, 5))).toBe(0);
    const block = new Uint8Array(512).fill(0x3c);
    c.exchange(Uint8Array.from([0xff, ...sd.dataPacket(block)]));
    expect([...c.exchange(ff(7))]).toEqual([0x05, 0, 0, 0, 0, 0xff, 0xff]);
    expect(c.image.subarray(5 * 512, 6 * 512)).toEqual(block);
  });

  it("with CRC on, a data packet with a bad CRC16 is answered 0x0B and not stored", () => {
    const c = card();
    initCard(c);
    cmd(c, 59, 1);
    cmd(c, 24, 1);
    const p = sd.dataPacket(new Uint8Array(512).fill(7));
    p[514] = p[514]! ^ 1;
    c.exchange(p);
    expect(c.exchange(ff(2))[0]).toBe(0x0b);
    expect(c.image.subarray(512, 1024).every((b) => b === 0)).toBe(true);
    expect(r1(cmd(c, 13, 0, 1))).toBe(0); // back to commands, not busy
  });

  it("SDSC cards take byte addresses; a misaligned one is an address error", () => {
    const c = card(64, { sdhc: false });
    initCard(c);
    expect(r1(cmd(c, 17, 100))).toBe(sd.R1.ADDRESS_ERROR);
    expect(r1(cmd(c, 17, 512))).toBe(0);
  });
});

/** An SPI port straight onto the model (with a chip select that may miss the card). */
function port(c: SdCardModel | undefined, maxTransfer = 48): SpiPort & { transfers: number } {
  const p = {
    transfers: 0,
    maxTransfer,
    transfer: async (d: Uint8Array) => (p.transfers++, c ? c.exchange(d) : ff(d.length)),
    send: async (d: Uint8Array) => void (c ? c.exchange(d) : undefined),
  };
  return p;
}

describe("SdSpiHost over the model", () => {
  it("inits an SDHC card (CRC on, 512-byte blocks) and writes then reads sectors", async () => {
    const c = card(128, { initTries: 5 });
    const h = new SdSpiHost(port(c));
    expect(await h.init()).toBe(true);
    expect(h.info).toEqual({ highCapacity: true, v2: true });
    const cmds = c.events
      .filter((e) => e.type === "command")
      .map((e) => (e.app ? "A" : "") + e.cmd);
    expect(cmds.slice(0, 3)).toEqual(["0", "8", "55"]);
    expect(cmds.slice(-3)).toEqual(["58", "59", "16"]);
    const data = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) & 0xff);
    await h.writeSector(100, data);
    expect(await h.readSector(100)).toEqual(data);
  });

  it("byte-addresses an SDSC card", async () => {
    const c = card(64, { sdhc: false });
    const h = new SdSpiHost(port(c));
    await h.init();
    expect(h.info!.highCapacity).toBe(false);
    await h.writeSector(3, new Uint8Array(512).fill(9));
    expect(c.events.find((e) => e.type === "write")).toEqual({
      type: "write",
      sector: 3,
      ok: true,
    });
  });

  it("brings up an SD v1 card (CMD8 illegal: no HCS, byte addresses)", async () => {
    const c = card(64, { v1: true });
    const h = new SdSpiHost(port(c));
    expect(await h.init()).toBe(true);
    expect(h.info).toEqual({ highCapacity: false, v2: false });
    const acmd41 = c.events.filter((e) => e.type === "command" && e.app && e.cmd === 41);
    expect(acmd41.every((e) => e.type === "command" && e.arg === 0)).toBe(true);
  });

  it("CMD9 sends a CSD v2 whose C_SIZE gives the card's size", () => {
    const c = card(4096);
    initCard(c);
    const got = cmd(c, 9, 0, 24);
    const t = got.indexOf(0xfe);
    const csd = got.slice(t + 1, t + 17);
    expect(csd[0]! >> 6).toBe(1);
    const cSize = ((csd[7]! & 0x3f) << 16) | (csd[8]! << 8) | csd[9]!;
    expect((cSize + 1) * 1024).toBe(4096);
  });

  it("says no card when nothing drives MISO", async () => {
    expect(await new SdSpiHost(port(undefined)).init()).toBe(false);
  });

  it("a read past the card's end is an SdCardError naming the sector", async () => {
    const h = new SdSpiHost(port(card(16)));
    await h.init();
    await expect(h.readSector(16)).rejects.toThrow(SdCardError);
    await expect(h.readSector(16)).rejects.toThrow(/CMD17 sector 16: R1 0x20 \(address error\)/);
  });
});
