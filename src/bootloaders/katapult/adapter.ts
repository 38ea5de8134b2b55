// Katapult as a FlashAdapter, over any byte link. How the link is reached
// (CAN admin frames, 1200-baud touch, serial request) is the `open` step;
// everything after CONNECT is the same on every transport.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { PlannedBlock } from "../../flash-api/geometry.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import type { Uuid } from "../../klippy-bridge/uuid.js";
import { mcuFlash } from "../../targets/index.js";
import { Cmd, maxSendableBlockSize, type ConnectInfo } from "./codec.js";
import {
  KatapultCommandError,
  UnsupportedBlockSizeError,
  UuidMismatchError,
  hexAddr,
} from "./errors.js";
import { KatapultSession, type SessionTimeouts } from "./session.js";

export interface KatapultAdapterOptions {
  /** "katapult-can", "katapult-serial", … */
  protocol: string;
  /** Reaches the bootloader and returns the link to it (the enter phase). */
  open(ctx: FlashContext): Promise<ByteTransport>;
  /** Wraps the link once opened (e.g. to trace every byte). */
  wrapTransport?: (t: ByteTransport) => ByteTransport;
  /** CAN: GET_CANBUS_ID must return this UUID. */
  expectUuid?: Uuid;
  /** USB: write the prime frame before CONNECT (katapult.md §8.2); may be decided by open(). */
  prime?: boolean | (() => boolean);
  timeouts?: Partial<SessionTimeouts>;
  /** Flash size of the part, when known: the end of the writable area. */
  flashEnd?: number;
  /** Did this run's entry take the board into Katapult (a request, a touch)? Then abandon() sends it back. */
  entered?: () => boolean | Promise<boolean>;
  /**
   * Before a command is sent again: make sure the link still reaches the
   * device (CAN: send the node-id assignment again — a late or duplicated
   * CLEAR may have taken it away).
   */
  reassert?: () => Promise<void>;
  /** The device's receive buffer where overflowing it loses bytes (known once the link is open: a UART). */
  rxBufferBytes?: () => number | undefined;
}

export class KatapultAdapter implements FlashAdapter {
  readonly protocol: string;
  readonly capabilities = { verify: "readback", erase: "none" } as const;
  private transport: ByteTransport | undefined;
  private session: KatapultSession | undefined;
  private info: ConnectInfo | undefined;
  /** Device page count from SEND_EOF. */
  pages: number | undefined;
  /** The last block sent (its erase rules depend on it on RP2040). */
  private lastBlock: number | undefined;

  constructor(private readonly options: KatapultAdapterOptions) {
    this.protocol = options.protocol;
  }

  get connectInfo(): ConnectInfo | undefined {
    return this.info;
  }

  get retries(): number {
    return this.session?.retries ?? 0;
  }

  async enter(ctx: FlashContext): Promise<void> {
    const link = await this.options.open(ctx);
    this.transport = this.options.wrapTransport ? this.options.wrapTransport(link) : link;
    const reassert = this.options.reassert;
    const rxBufferBytes = this.options.rxBufferBytes?.();
    this.session = new KatapultSession(this.transport, {
      timeouts: this.options.timeouts,
      signal: ctx.signal,
      ...(reassert ? { beforeResend: () => reassert() } : {}),
      ...(rxBufferBytes !== undefined ? { rxBufferBytes } : {}),
    });
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    const s = this.requireSession();
    const prime =
      typeof this.options.prime === "function" ? this.options.prime() : this.options.prime;
    if (prime) await s.prime();
    const info = await s.connect();
    this.info = info;
    if (
      info.blockSize <= 0 ||
      info.blockSize % 4 !== 0 ||
      info.blockSize > maxSendableBlockSize()
    ) {
      throw new UnsupportedBlockSizeError(info.blockSize);
    }
    if (this.options.expectUuid) {
      const uuid = await s.getCanbusId();
      if (uuid !== this.options.expectUuid)
        throw new UuidMismatchError(this.options.expectUuid, uuid);
    }
    ctx.emit({
      type: "info",
      message: `bootloader app start ${hexAddr(info.appStart)}, block size ${info.blockSize}`,
      data: { appStart: info.appStart, blockSize: info.blockSize },
    });
    // Katapult does not report the flash size: the row's end, else the MCU's flash from the table.
    const flash = mcuFlash(info.mcu);
    const end = this.options.flashEnd ?? (flash ? flash.flashBase + flash.flashSize : undefined);
    return {
      geometry: {
        start: info.appStart,
        ...(end !== undefined ? { end } : {}),
        blockSize: info.blockSize,
        padByte: 0xff,
        addressUnit: "byte",
      },
      description: `Katapult ${info.protocol}${info.softwareVersion ? ` (${info.softwareVersion})` : ""} on ${info.mcu}`,
      mcu: info.mcu,
      protocolVersion: info.protocol,
      ...(info.softwareVersion ? { bootloaderVersion: info.softwareVersion } : {}),
    };
  }

  async writeBlock(ctx: FlashContext, block: PlannedBlock): Promise<void> {
    const s = this.requireSession();
    const busy = blockBusyMs(
      this.info?.mcu ?? "",
      block.address,
      this.lastBlock,
      block.data.length,
    );
    this.lastBlock = block.address;
    const { result, attempts } = await s.sendBlock(block.address, block.data, busy);
    if (result === "written") return;
    // COMMAND_ERROR on the first send: a real refusal (out of order, write failure).
    if (attempts === 1) throw new KatapultCommandError(Cmd.SEND_BLOCK, block.address);
    // Refused on a resend after an unanswered try: the first copy may be written —
    // LPC176x refuses the resend because its chunk pointer moved on (katapult.md §3.2).
    const back = await s.requestBlock(block.address, block.data.length);
    if (back.every((b, i) => b === block.data[i])) {
      ctx.emit({
        type: "info",
        message: `block at ${hexAddr(block.address)} was refused on resend but reads back correct`,
      });
      return;
    }
    // It may still sit in the chip's RAM page buffer (flushed by SEND_EOF): the full
    // read-back verify after EOF decides, and nothing is started unless it passes.
    ctx.emit({
      type: "info",
      message: `block at ${hexAddr(block.address)} was refused on resend (first copy unconfirmed): verify will check it`,
      data: { unconfirmedBlock: block.address },
    });
  }

  async endWrite(ctx: FlashContext): Promise<void> {
    const busy = eofBusyMs(this.info?.mcu ?? "", this.lastBlock, this.info?.blockSize ?? 64);
    this.pages = await this.requireSession().sendEof(busy);
    ctx.emit({
      type: "info",
      message: `flash pages written: ${this.pages}`,
      data: { pages: this.pages },
    });
  }

  async readBlock(_ctx: FlashContext, block: PlannedBlock): Promise<Uint8Array> {
    return this.requireSession().requestBlock(block.address, block.data.length);
  }

  async finish(): Promise<void> {
    await this.requireSession().complete();
  }

  /** Nothing was written: COMPLETE starts the application that is still intact, if this run asked the board in. */
  async abandon(): Promise<boolean> {
    if (!this.session || !(await this.options.entered?.())) return false;
    await this.session.complete();
    return true;
  }

  async close(): Promise<void> {
    await this.transport?.close();
  }

  private requireSession(): KatapultSession {
    if (!this.session) throw new Error("KatapultAdapter used before enter()");
    return this.session;
  }
}

// What a SEND_BLOCK or SEND_EOF can make the chip do before it answers
// (katapult.md §6, Katapult's src/*/flash.c): the longest erase it may start,
// from the parts' datasheet maxima, × ERASE_MARGIN. A resend must not arrive
// during an erase: the CPU stalls, the 3-frame receive FIFO overruns and the
// parser wedges on the cut frame. Unknown chips: Infinity (wait the long
// timeout, as flashtool does).

/** Safety factor on the datasheet erase maxima. */
export const ERASE_MARGIN = 1.5;
/** Page/sector erase maxima, ms: STM32F0/F1/G0/G4 page, RP2040's QSPI 4 KiB sector, LPC176x sector. */
export const PAGE_ERASE_MAX_MS = { stm32Page: 40, rp2040Sector: 400, lpc176xSector: 100 } as const;
/** Programming one page or IAP chunk (RP2040 256-byte page, LPC176x 256-byte chunk), ms. */
export const PAGE_PROGRAM_MAX_MS = 3;
/** STM32F2/F4 sector erase maxima at 32-bit parallelism (16, 64, 128 KiB), and H7's 128 KiB, ms. */
const STM32F4_SECTOR_MS = { 0x4000: 500, 0x10000: 1100, 0x20000: 2000 } as const;
const STM32H7_SECTOR_MS = 4000;

const margin = (ms: number) => ms * ERASE_MARGIN;

/** RP2040: a block for another page flushes the previous one; erasing its sector if it starts one. */
function rp2040Flush(prev: number | undefined, pageSize: number): number {
  if (prev === undefined) return 0;
  const prevPage = Math.floor((prev - 0x10000000) / pageSize) * pageSize;
  return margin((prevPage % 4096 === 0 ? PAGE_ERASE_MAX_MS.rp2040Sector : 0) + PAGE_PROGRAM_MAX_MS);
}

/** LPC176x sector starts: 4 KiB below 0x10000, 32 KiB above. */
const lpcSectorStart = (a: number) =>
  a < 0x10000 ? a % 0x1000 === 0 : (a - 0x10000) % 0x8000 === 0;

/** The longest the chip may work on SEND_BLOCK at `address` before answering, ms. */
export function blockBusyMs(
  mcu: string,
  address: number,
  prev: number | undefined,
  blockSize: number,
): number {
  if (/^stm32(f0|f1)/.test(mcu))
    return (address - 0x08000000) % 1024 === 0 ? margin(PAGE_ERASE_MAX_MS.stm32Page) : 0;
  if (/^stm32(g0|g4)/.test(mcu))
    return (address - 0x08000000) % 2048 === 0 ? margin(PAGE_ERASE_MAX_MS.stm32Page) : 0;
  if (/^stm32(f2|f4)/.test(mcu)) {
    const off = address - 0x08000000;
    if (off < 0x10000) return off % 0x4000 === 0 ? margin(STM32F4_SECTOR_MS[0x4000]) : 0;
    if (off < 0x20000) return off === 0x10000 ? margin(STM32F4_SECTOR_MS[0x10000]) : 0;
    return (off - 0x20000) % 0x20000 === 0 ? margin(STM32F4_SECTOR_MS[0x20000]) : 0;
  }
  if (/^stm32h7/.test(mcu))
    return (address - 0x08000000) % 0x20000 === 0 ? margin(STM32H7_SECTOR_MS) : 0;
  if (/^rp2/.test(mcu)) {
    const page = Math.max(blockSize, 256);
    const samePage = prev !== undefined && Math.floor(prev / page) === Math.floor(address / page);
    return samePage ? 0 : rp2040Flush(prev, page);
  }
  if (/^lpc17/.test(mcu)) {
    // The 256-byte chunk is written when its last block arrives, after erasing a sector it starts.
    if ((address + blockSize) % 256 !== 0) return 0;
    const chunk = address + blockSize - 256;
    return margin(
      (lpcSectorStart(chunk) ? PAGE_ERASE_MAX_MS.lpc176xSector : 0) + PAGE_PROGRAM_MAX_MS,
    );
  }
  return Infinity;
}

/** The longest the chip may work on SEND_EOF (flushing a buffered page or chunk), ms. */
export function eofBusyMs(mcu: string, last: number | undefined, blockSize: number): number {
  if (/^stm32(f0|f1|f2|f4|g0|g4|h7)/.test(mcu)) return 0;
  if (/^rp2/.test(mcu)) return rp2040Flush(last, Math.max(blockSize, 256));
  if (/^lpc17/.test(mcu)) {
    if (last === undefined) return 0;
    const chunk = Math.floor(last / 256) * 256;
    return margin(
      (lpcSectorStart(chunk) ? PAGE_ERASE_MAX_MS.lpc176xSector : 0) + PAGE_PROGRAM_MAX_MS,
    );
  }
  return Infinity;
}
