// An SD card in SPI mode, byte by byte as the card does it: every byte
// clocked in while selected clocks one out (0xFF when it has nothing to
// say). Powered up in SD mode, it answers nothing until CMD0 with a valid
// CRC puts it into SPI mode (R1 idle). CMD8 echoes its check pattern (an
// SD v2 card), ACMD41 leaves idle after a few tries, CMD58 reports the OCR
// (CCS for SDHC). CRC7 is checked on CMD0/CMD8 always and on every command
// once CMD59 turned CRC on (then CRC16 on written data too); a bad one sets
// the R1 CRC bit. CMD17 sends the start token, 512 bytes and their CRC16;
// CMD24 takes a data packet, answers 0x05 (accepted) or 0x0B (CRC error)
// and holds MISO at 0x00 while busy. Unknown commands set the illegal bit.
// Backed by a disk image: sector n is bytes n*512…; state survives CS going
// high between transfers, as on a real card.

import {
  Cmd,
  crc16,
  DATA_ACCEPTED,
  DATA_CRC_ERROR,
  OCR_BUSY_DONE,
  OCR_CCS,
  parseCommand,
  R1,
  SD_BLOCK,
  START_BLOCK,
} from "../../bootloaders/sdcard-spi/codec.js";

export interface SdCardOptions {
  /** The card's sectors (its length a multiple of 512). */
  image: Uint8Array;
  /** SDHC (block addressing, CCS set) or SDSC (byte addresses). Default true. */
  sdhc?: boolean;
  /** An SD v1 card (before SDHC): CMD8 is an illegal command; byte addressing. */
  v1?: boolean;
  /** ACMD41s answered idle before the card is ready (default 2). */
  initTries?: number;
  /** Bytes of 0x00 (busy) after a written block (default 8). */
  busyBytes?: number;
  /** Bytes of 0xFF before a read's start token (default 3). */
  readLatency?: number;
  /** Fault injection: writes to sectors it picks are stored with their first byte inverted (a failing card). */
  corruptWrites?: (sector: number) => boolean;
}

export type SdCardEvent =
  | { type: "command"; cmd: number; arg: number; app: boolean; r1: number }
  | { type: "read"; sector: number }
  | { type: "write"; sector: number; ok: boolean };

const SPI_OCR_VOLTAGE = 0x00ff8000; // 2.7–3.6 V

export class SdCardModel {
  readonly image: Uint8Array;
  readonly events: SdCardEvent[] = [];
  readonly sdhc: boolean;
  private spiMode = false;
  private idle = true;
  private crcOn = false;
  private app = false;
  private initCount = 0;
  private blockLen = SD_BLOCK;
  private frame: number[] = [];
  private out: number[] = [];
  private state: "command" | "await-data" | "data" | "busy" = "command";
  private writeSector = 0;
  private data: number[] = [];
  private busyLeft = 0;

  constructor(private readonly o: SdCardOptions) {
    if (o.image.length % SD_BLOCK !== 0)
      throw new RangeError("image size must be a multiple of 512");
    this.image = o.image;
    this.sdhc = o.v1 ? false : (o.sdhc ?? true);
  }

  get sectors(): number {
    return this.image.length / SD_BLOCK;
  }

  /** Clocks `mosi` through the selected card; returns what it drove on MISO. */
  exchange(mosi: Uint8Array): Uint8Array {
    const miso = new Uint8Array(mosi.length);
    for (let i = 0; i < mosi.length; i++) miso[i] = this.clock(mosi[i]!);
    return miso;
  }

  private clock(b: number): number {
    switch (this.state) {
      case "busy":
        if (this.out.length) return this.out.shift()!; // the data response, then busy
        if (--this.busyLeft <= 0) this.state = "command";
        return 0x00;
      case "await-data": {
        const o = this.out.shift() ?? 0xff;
        if (b === START_BLOCK) {
          this.state = "data";
          this.data = [];
        }
        return o;
      }
      case "data":
        this.data.push(b);
        if (this.data.length === SD_BLOCK + 2) this.endWrite();
        return 0xff;
      default: {
        const o = this.out.shift() ?? 0xff;
        if (this.frame.length === 0 && (b & 0xc0) !== 0x40) return o; // idle bytes, or noise between frames
        this.frame.push(b);
        if (this.frame.length === 6) {
          const f = Uint8Array.from(this.frame);
          this.frame = [];
          this.command(f);
        }
        return o;
      }
    }
  }

  private respond(r1: number, extra: number[] = []): void {
    this.out = [0xff, r1, ...extra]; // NCR: one byte before the response
  }

  private status(): number {
    return this.idle ? R1.IDLE : 0;
  }

  private command(f: Uint8Array): void {
    const c = parseCommand(f);
    const app = this.app;
    this.app = false;
    if (!this.spiMode) {
      // SD mode: only CMD0 (with its CRC; CS low) switches to SPI mode.
      if (c.cmd !== Cmd.GO_IDLE_STATE || !c.crcOk) return;
      this.spiMode = true;
    }
    const crcChecked = this.crcOn || c.cmd === Cmd.GO_IDLE_STATE || c.cmd === Cmd.SEND_IF_COND;
    let r1 = this.status();
    const log = (r: number) =>
      this.events.push({ type: "command", cmd: c.cmd, arg: c.arg, app, r1: r });
    if (!c.framed || (crcChecked && !c.crcOk)) {
      r1 |= R1.CRC_ERROR;
      log(r1);
      return this.respond(r1);
    }
    const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    const illegal = () => {
      log(r1 | R1.ILLEGAL_COMMAND);
      this.respond(r1 | R1.ILLEGAL_COMMAND);
    };
    const ok = (extra: number[] = [], r = this.status()) => {
      log(r);
      this.respond(r, extra);
    };
    if (app) {
      if (c.cmd !== Cmd.SD_SEND_OP_COND) return illegal();
      if (this.idle && ++this.initCount > (this.o.initTries ?? 2)) this.idle = false;
      return ok();
    }
    const inIdleAllowed: number[] = [
      Cmd.GO_IDLE_STATE,
      Cmd.SEND_IF_COND,
      Cmd.APP_CMD,
      Cmd.READ_OCR,
      Cmd.CRC_ON_OFF,
    ];
    if (this.idle && !inIdleAllowed.includes(c.cmd)) return illegal();
    switch (c.cmd) {
      case Cmd.GO_IDLE_STATE:
        this.idle = true;
        this.initCount = 0;
        this.crcOn = false;
        this.state = "command";
        return ok([], R1.IDLE);
      case Cmd.SEND_IF_COND:
        if (this.o.v1) return illegal();
        return ok([0x00, 0x00, (c.arg >> 8) & 0x0f, c.arg & 0xff]);
      case Cmd.APP_CMD:
        this.app = true;
        return ok();
      case Cmd.READ_OCR: {
        const ocr = SPI_OCR_VOLTAGE | (this.idle ? 0 : OCR_BUSY_DONE | (this.sdhc ? OCR_CCS : 0));
        return ok(u32(ocr >>> 0));
      }
      case Cmd.CRC_ON_OFF:
        this.crcOn = (c.arg & 1) === 1;
        return ok();
      case Cmd.SET_BLOCKLEN:
        if (c.arg !== SD_BLOCK) {
          log(r1 | R1.PARAMETER_ERROR);
          return this.respond(r1 | R1.PARAMETER_ERROR);
        }
        this.blockLen = c.arg;
        return ok();
      case Cmd.SEND_STATUS:
        return ok([0x00]);
      case Cmd.SEND_CSD:
        return ok([0xff, ...this.packet(this.csd())]);
      case Cmd.SEND_CID:
        return ok([0xff, ...this.packet(this.cid())]);
      case Cmd.READ_SINGLE_BLOCK: {
        const sector = this.sectorOf(c.arg);
        if (sector === undefined) {
          log(R1.ADDRESS_ERROR);
          return this.respond(R1.ADDRESS_ERROR);
        }
        this.events.push({ type: "read", sector });
        const block = this.image.subarray(sector * SD_BLOCK, (sector + 1) * SD_BLOCK);
        const gap = new Array<number>(this.o.readLatency ?? 3).fill(0xff);
        return ok([...gap, ...this.packet(block)]);
      }
      case Cmd.WRITE_BLOCK: {
        const sector = this.sectorOf(c.arg);
        if (sector === undefined) {
          log(R1.ADDRESS_ERROR);
          return this.respond(R1.ADDRESS_ERROR);
        }
        this.writeSector = sector;
        ok();
        this.state = "await-data";
        return;
      }
      default:
        return illegal();
    }
  }

  private sectorOf(arg: number): number | undefined {
    if (!this.sdhc && arg % this.blockLen !== 0) return undefined;
    const s = this.sdhc ? arg : arg / SD_BLOCK;
    return s < this.sectors ? s : undefined;
  }

  private packet(block: Uint8Array): number[] {
    const c = crc16(block);
    return [START_BLOCK, ...block, c >> 8, c & 0xff];
  }

  private endWrite(): void {
    const block = Uint8Array.from(this.data.slice(0, SD_BLOCK));
    const crc = (this.data[SD_BLOCK]! << 8) | this.data[SD_BLOCK + 1]!;
    const crcOk = !this.crcOn || crc === crc16(block);
    const s = this.writeSector;
    this.events.push({ type: "write", sector: s, ok: crcOk });
    if (!crcOk) {
      this.out = [DATA_CRC_ERROR];
      this.state = "command";
      return;
    }
    if (this.o.corruptWrites?.(s)) block[0] = block[0]! ^ 0xff;
    this.image.set(block, s * SD_BLOCK);
    this.out = [DATA_ACCEPTED];
    this.state = "busy";
    this.busyLeft = this.o.busyBytes ?? 8;
  }

  /** CSD v2 (SDHC) or v1 (SDSC) for the image's size. */
  private csd(): Uint8Array {
    const c = new Uint8Array(16);
    if (this.sdhc) {
      const cSize = Math.max(0, this.sectors / 1024 - 1);
      c[0] = 0x40;
      c[7] = (cSize >> 16) & 0x3f;
      c[8] = (cSize >> 8) & 0xff;
      c[9] = cSize & 0xff;
    } else {
      // READ_BL_LEN 9, C_SIZE_MULT 7 (×512): C_SIZE = sectors / 512 − 1.
      const cSize = Math.max(0, Math.floor(this.sectors / 512) - 1);
      c[5] = 0x09;
      c[6] = (cSize >> 10) & 0x03;
      c[7] = (cSize >> 2) & 0xff;
      c[8] = (cSize & 0x03) << 6;
      c[9] = 0x03;
      c[10] = 0x80;
    }
    c[15] = 0x01;
    return c;
  }

  private cid(): Uint8Array {
    const c = new Uint8Array(16);
    c[0] = 0x03; // manufacturer
    c.set(new TextEncoder().encode("SDSIM"), 3);
    c[15] = 0x01;
    return c;
  }
}
