// The host's side of an SD card in SPI mode, over any SPI port (here: a
// running Klipper's spi_transfer/spi_send): init as the SD spec's SPI
// flow (CMD0 → CMD8 → ACMD41 until ready → CMD58 → CMD59 CRC on → CMD16
// 512) and single-block reads and writes with their CRC16 checked. The
// byte stream from the card continues across transfers, so what a transfer
// returned past the awaited answer is kept for the next read.

import {
  ACMD41_HCS,
  Cmd,
  commandFrame,
  crc16,
  DATA_ACCEPTED,
  DATA_CRC_ERROR,
  dataPacket,
  describeR1,
  IF_COND_PATTERN,
  IF_COND_VHS,
  OCR_CCS,
  R1,
  SD_BLOCK,
  START_BLOCK,
} from "./codec.js";
import { SdCardError } from "./errors.js";

/** Full-duplex SPI with the card selected for each call. */
export interface SpiPort {
  transfer(mosi: Uint8Array): Promise<Uint8Array>;
  /** Writes without reading back (faster where the port can). */
  send(mosi: Uint8Array): Promise<void>;
  /** Largest transfer the port takes. */
  readonly maxTransfer: number;
}

/** ACMD41 tries before giving up (cards are ready within 1 s; each try is a round trip). */
export const SD_INIT_TRIES = 200;
/** Bytes clocked while waiting for an R1 (the spec's NCR is at most 8). */
export const SD_NCR_BYTES = 8;
/** Bytes clocked waiting for a read's start token (100 ms at 400 kHz is ~5000). */
export const SD_TOKEN_BYTES = 4096;
/** Bytes clocked waiting for a write's busy to end (250 ms at 400 kHz is ~12500). */
export const SD_BUSY_BYTES = 16384;

const ff = (n: number) => new Uint8Array(n).fill(0xff);
const hex = (v: number) => `0x${v.toString(16).padStart(2, "0")}`;

export interface SdCardInfo {
  /** Block addressing (SDHC/SDXC) or byte addressing (SDSC). */
  highCapacity: boolean;
  /** Answered CMD8: a v2 card. */
  v2: boolean;
}

export class SdSpiHost {
  private pending: number[] = [];
  info: SdCardInfo | undefined;

  constructor(private readonly spi: SpiPort) {}

  /** n bytes of the card's output: kept ones first, then clocked with 0xFF. */
  private async clockIn(n: number): Promise<number[]> {
    const out = this.pending.splice(0, n);
    while (out.length < n) {
      const want = Math.min(this.spi.maxTransfer, n - out.length);
      out.push(...(await this.spi.transfer(ff(want))));
    }
    return out;
  }

  /** The card's next output byte (refilled a whole transfer at a time). */
  private async byte(): Promise<number> {
    if (this.pending.length === 0)
      this.pending = [...(await this.spi.transfer(ff(this.spi.maxTransfer)))];
    return this.pending.shift()!;
  }

  /** Sends a command; resolves its R1 and keeps what followed it. Undefined: no answer at all. */
  private async command(cmd: number, arg: number, extra = 0): Promise<number | undefined> {
    this.pending = []; // idle bytes
    const miso = await this.spi.transfer(
      Uint8Array.from([...commandFrame(cmd, arg), ...ff(SD_NCR_BYTES + extra)]),
    );
    for (let i = 6; i < miso.length; i++) {
      if (miso[i] !== 0xff) {
        this.pending = [...miso.subarray(i + 1)];
        return miso[i]!;
      }
    }
    return undefined;
  }

  private async r1(step: string, cmd: number, arg: number, extra = 0): Promise<number> {
    const r = await this.command(cmd, arg, extra);
    if (r === undefined) throw new SdCardError(step, "no answer", "timeout");
    return r;
  }

  private refuse(step: string, r1: number): never {
    throw new SdCardError(
      step,
      `R1 ${hex(r1)} (${describeR1(r1)})`,
      r1 & R1.CRC_ERROR ? "crc" : "refused",
    );
  }

  /**
   * Brings the card into SPI mode and ready. Resolves false when nothing
   * answered CMD0 (no card on this bus/chip select); throws SdCardError when
   * a card answered but failed a step.
   */
  async init(): Promise<boolean> {
    // 80+ clocks with CS high are what the spec asks first; a Klipper SPI
    // port always selects, and cards accept the idle clocks selected too.
    await this.spi.transfer(ff(10));
    let r: number | undefined;
    for (let i = 0; i < 3 && r !== R1.IDLE; i++) r = await this.command(Cmd.GO_IDLE_STATE, 0);
    if (r === undefined) return false;
    if (r !== R1.IDLE) this.refuse("CMD0", r);
    const r8 = await this.r1("CMD8", Cmd.SEND_IF_COND, (IF_COND_VHS << 8) | IF_COND_PATTERN, 4);
    let v2 = false;
    if (!(r8 & R1.ILLEGAL_COMMAND)) {
      const echo = await this.clockIn(4);
      if (r8 !== R1.IDLE) this.refuse("CMD8", r8);
      if ((echo[2]! & 0x0f) !== IF_COND_VHS || echo[3] !== IF_COND_PATTERN)
        throw new SdCardError("CMD8", "the card did not echo the check pattern", "unsupported");
      v2 = true;
    }
    let ready = false;
    for (let i = 0; i < SD_INIT_TRIES && !ready; i++) {
      const a = await this.r1("CMD55", Cmd.APP_CMD, 0);
      if (a & ~R1.IDLE) this.refuse("CMD55", a);
      const b = await this.r1("ACMD41", Cmd.SD_SEND_OP_COND, v2 ? ACMD41_HCS : 0);
      if (b & ~R1.IDLE) this.refuse("ACMD41", b);
      ready = b === 0;
    }
    if (!ready)
      throw new SdCardError("ACMD41", `still initialising after ${SD_INIT_TRIES} tries`, "timeout");
    let highCapacity = false;
    if (v2) {
      const r58 = await this.r1("CMD58", Cmd.READ_OCR, 0, 4);
      if (r58 !== 0) this.refuse("CMD58", r58);
      const ocr = await this.clockIn(4);
      highCapacity = ((ocr[0]! << 24) & OCR_CCS) !== 0;
    }
    const r59 = await this.r1("CMD59", Cmd.CRC_ON_OFF, 1);
    if (r59 !== 0) this.refuse("CMD59", r59);
    const r16 = await this.r1("CMD16", Cmd.SET_BLOCKLEN, SD_BLOCK);
    if (r16 !== 0) this.refuse("CMD16", r16);
    this.info = { highCapacity, v2 };
    return true;
  }

  private address(sector: number): number {
    return this.info?.highCapacity ? sector : sector * SD_BLOCK;
  }

  async readSector(sector: number): Promise<Uint8Array> {
    const step = `CMD17 sector ${sector}`;
    const r = await this.r1(step, Cmd.READ_SINGLE_BLOCK, this.address(sector), 16);
    if (r !== 0) this.refuse(step, r);
    let token = 0xff;
    for (let n = 0; n < SD_TOKEN_BYTES && token === 0xff; n++) token = await this.byte();
    if (token !== START_BLOCK)
      throw new SdCardError(
        step,
        token === 0xff ? "no start token" : `error token ${hex(token)}`,
        token === 0xff ? "timeout" : "refused",
      );
    const bytes = Uint8Array.from(await this.clockIn(SD_BLOCK + 2));
    const data = bytes.slice(0, SD_BLOCK);
    if (((bytes[SD_BLOCK]! << 8) | bytes[SD_BLOCK + 1]!) !== crc16(data))
      throw new SdCardError(step, "the block's CRC16 does not match", "crc");
    return data;
  }

  async writeSector(sector: number, data: Uint8Array): Promise<void> {
    if (data.length !== SD_BLOCK) throw new RangeError("a sector is 512 bytes");
    const step = `CMD24 sector ${sector}`;
    const r = await this.r1(step, Cmd.WRITE_BLOCK, this.address(sector));
    if (r !== 0) this.refuse(step, r);
    const packet = Uint8Array.from([0xff, ...dataPacket(data)]);
    for (let i = 0; i < packet.length; i += this.spi.maxTransfer)
      await this.spi.send(packet.subarray(i, i + this.spi.maxTransfer));
    this.pending = [];
    let resp = 0xff;
    for (let n = 0; n < SD_NCR_BYTES && resp === 0xff; n++) resp = await this.byte();
    if ((resp & 0x1f) !== DATA_ACCEPTED)
      throw new SdCardError(
        step,
        resp === 0xff
          ? "no data response"
          : (resp & 0x1f) === DATA_CRC_ERROR
            ? "the card reports a CRC error on the data"
            : `data response ${hex(resp)}`,
        (resp & 0x1f) === DATA_CRC_ERROR ? "crc" : "write",
      );
    for (let n = 0; n < SD_BUSY_BYTES; n++) if ((await this.byte()) === 0xff) return;
    throw new SdCardError(step, "the card stayed busy", "timeout");
  }
}
