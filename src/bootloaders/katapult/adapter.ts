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
}

export class KatapultAdapter implements FlashAdapter {
  readonly protocol: string;
  readonly capabilities = { verify: "readback", erase: "none" } as const;
  private transport: ByteTransport | undefined;
  private session: KatapultSession | undefined;
  private info: ConnectInfo | undefined;
  /** Device page count from SEND_EOF. */
  pages: number | undefined;

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
    this.session = new KatapultSession(this.transport, {
      timeouts: this.options.timeouts,
      signal: ctx.signal,
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
    const { result, attempts } = await s.sendBlock(block.address, block.data);
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
    this.pages = await this.requireSession().sendEof();
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
