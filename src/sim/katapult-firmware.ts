// The command side of a simulated Katapult bootloader, independent of the
// link (CAN, UART, USB): a receive buffer parsed exactly like the firmware's
// command_find_block — including its wedge, where bad data that starts with
// 0x01 is never discarded — and the command handlers of flashcmd.c.

import {
  Cmd,
  encodeAck,
  encodeConnectData,
  encodeFrame,
  PROTO_1_1_0,
  readU32le,
  Resp,
  u32le,
} from "../bootloaders/katapult/codec.js";
import { crc16Mcrf4xx } from "../util/crc16.js";
import { uuidBytes, type Uuid } from "../klippy-bridge/uuid.js";
import type { KatapultFlashDriver, SimFlash } from "./flash.js";

export interface KatapultFirmwareConfig {
  mcu: string;
  appStart: number;
  /** Katapult's CONFIG_BLOCK_SIZE (64 on every current target). */
  blockSize: number;
  protocolVersion: number;
  /** Katapult build version for CONNECT (protocol 1.1.0+). */
  softwareVersion: string;
  /** CAN builds answer GET_CANBUS_ID; USB/UART builds answer COMMAND_ERROR. */
  canUuid: Uuid | undefined;
  /** Receive buffer: 192 on CAN and UART builds, 128 on USB. */
  rxBufferSize: number;
}

export const DEFAULT_FIRMWARE: Omit<KatapultFirmwareConfig, "mcu" | "appStart" | "canUuid"> = {
  blockSize: 64,
  protocolVersion: PROTO_1_1_0,
  softwareVersion: "v0.0.1-110-gsim",
  rxBufferSize: 192,
};

const MESSAGE_MIN = 8;
const MESSAGE_MAX = 128;
const NEED_SYNC = 1;
const NEED_VALID = 2;

/** What one pass of the firmware's receive task did. */
export interface StepResult {
  /** Complete response frames, in the order the firmware queues them. */
  responses: Uint8Array[];
  /** Whole-CPU stall (erase): not even the receive interrupt runs, ms. */
  stallMs: number;
  /** Then the main loop stays busy (programming) while interrupts run, ms. */
  busyMs: number;
  /**
   * Bytes to remove from the receive buffer once the command finished: the
   * firmware dispatches before it pops, so a running command's frame still
   * takes buffer space. Call consume() with it.
   */
  consume: number;
  /** The command handled, if a valid frame was found. */
  command?: number;
  address?: number;
  /** Firmware error code of a refused SEND_BLOCK/EOF. */
  errorCode?: number;
  /** SEND_EOF's page count. */
  pages?: number;
  /** COMPLETE acknowledged: the application starts ~100 ms later. */
  complete?: boolean;
  /** A NACK was sent for bad input. */
  nack?: boolean;
  /** Bad data at the buffer start begins with 0x01 and is never removed: the parser is stuck until reset. */
  wedged?: boolean;
  /** A read from an unmapped address (e.g. REQUEST_BLOCK without an address word): the MCU faults. */
  fault?: boolean;
}

export class KatapultFirmware {
  private readonly buf: Uint8Array;
  private len = 0;
  private syncState = 0;

  constructor(
    readonly config: KatapultFirmwareConfig,
    readonly flash: SimFlash,
    readonly driver: KatapultFlashDriver,
  ) {
    this.buf = new Uint8Array(config.rxBufferSize);
  }

  /** Free bytes in the receive buffer. */
  get space(): number {
    return this.buf.length - this.len;
  }

  get buffered(): number {
    return this.len;
  }

  /** Appends all of `bytes` or nothing (a CAN frame that does not fit is dropped). */
  appendWhole(bytes: Uint8Array): boolean {
    if (bytes.length > this.space) return false;
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return true;
  }

  /** Appends what fits (a UART drops the bytes beyond); returns how many were taken. */
  appendPartial(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.space);
    this.buf.set(bytes.subarray(0, n), this.len);
    this.len += n;
    return n;
  }

  /** One pass of command_find_block + dispatch. Undefined when it needs more data. */
  step(): StepResult | undefined {
    const buf = this.buf;
    const len = this.len;
    let error = false;
    if (len && this.syncState & NEED_SYNC) {
      error = true;
    } else {
      if (len < MESSAGE_MIN) return undefined;
      if (buf[0] !== 0x01 || buf[1] !== 0x88) error = true;
      else {
        const msglen = buf[3]! * 4 + 8;
        if (msglen < MESSAGE_MIN || msglen > MESSAGE_MAX) error = true;
        else if (len < msglen) return undefined;
        else if (buf[msglen - 2] !== 0x99 || buf[msglen - 1] !== 0x03) error = true;
        else {
          const crc = buf[msglen - 4]! | (buf[msglen - 3]! << 8);
          if (crc !== crc16Mcrf4xx(buf.subarray(2, msglen - 4))) error = true;
          else {
            this.syncState &= ~NEED_VALID;
            return { ...this.dispatch(buf.slice(0, msglen)), consume: msglen };
          }
        }
      }
    }
    if (!error) return undefined;
    // error / need_sync: discard up to the next 0x01 — searched from offset 0, the firmware's bug.
    this.syncState |= NEED_SYNC;
    const next = buf.subarray(0, len).indexOf(0x01);
    let pop: number;
    if (next >= 0) {
      this.syncState &= ~NEED_SYNC;
      pop = next;
    } else pop = len;
    this.pop(pop);
    const result: StepResult = {
      responses: [],
      stallMs: 0,
      busyMs: 0,
      consume: 0,
      wedged: pop === 0,
    };
    if (!(this.syncState & NEED_VALID)) {
      this.syncState |= NEED_VALID;
      result.responses.push(encodeFrame(Resp.NACK));
      result.nack = true;
    }
    return result;
  }

  /** Reset: empty buffer, parser state cleared. */
  reset(): void {
    this.len = 0;
    this.syncState = 0;
  }

  /** Removes a finished command's frame from the receive buffer. */
  consume(n: number): void {
    this.pop(n);
  }

  private pop(n: number): void {
    if (n > this.len) throw new RangeError(`receive buffer holds ${this.len} bytes, ${n} popped`);
    if (n <= 0) return;
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
  }

  private dispatch(frame: Uint8Array): Omit<StepResult, "consume"> {
    const cmd = frame[2]!;
    const argc = frame[3]!;
    const cfg = this.config;
    const err = (extra: Partial<StepResult> = {}): Omit<StepResult, "consume"> => ({
      responses: [encodeFrame(Resp.COMMAND_ERROR)],
      stallMs: 0,
      busyMs: 0,
      command: cmd,
      ...extra,
    });
    switch (cmd) {
      case Cmd.CONNECT:
        return {
          responses: [encodeAck(Cmd.CONNECT, encodeConnectData(cfg))],
          stallMs: 0,
          busyMs: 0,
          command: cmd,
        };
      case Cmd.SEND_BLOCK: {
        if (argc !== cfg.blockSize / 4 + 1) return err();
        const address = readU32le(frame, 4);
        if (address < cfg.appStart) return err({ address });
        const w = this.driver.writeBlock(address, frame.subarray(8, 8 + cfg.blockSize));
        if (w.code < 0)
          return { ...err({ address, errorCode: w.code }), stallMs: w.stallMs, busyMs: w.busyMs };
        return {
          responses: [encodeAck(Cmd.SEND_BLOCK, u32le(address))],
          stallMs: w.stallMs,
          busyMs: w.busyMs,
          command: cmd,
          address,
        };
      }
      case Cmd.SEND_EOF: {
        const c = this.driver.complete();
        if (c.code < 0)
          return { ...err({ errorCode: c.code }), stallMs: c.stallMs, busyMs: c.busyMs };
        return {
          responses: [encodeAck(Cmd.SEND_EOF, u32le(c.pages))],
          stallMs: c.stallMs,
          busyMs: c.busyMs,
          command: cmd,
          pages: c.pages,
        };
      }
      case Cmd.REQUEST_BLOCK: {
        // No checks at all; with N = 0 the "address" is the CRC and trailer.
        const address = readU32le(frame, 4);
        if (!this.flash.contains(address, cfg.blockSize)) {
          return { responses: [], stallMs: 0, busyMs: 0, command: cmd, address, fault: true };
        }
        const data = new Uint8Array(4 + cfg.blockSize);
        data.set(u32le(address), 0);
        data.set(this.flash.read(address, cfg.blockSize), 4);
        return {
          responses: [encodeAck(Cmd.REQUEST_BLOCK, data)],
          stallMs: 0,
          busyMs: 0,
          command: cmd,
          address,
        };
      }
      case Cmd.COMPLETE:
        return {
          responses: [encodeAck(Cmd.COMPLETE)],
          stallMs: 0,
          busyMs: 0,
          command: cmd,
          complete: true,
        };
      case Cmd.GET_CANBUS_ID:
        if (!cfg.canUuid) return err();
        return {
          responses: [
            encodeAck(Cmd.GET_CANBUS_ID, Uint8Array.from([...uuidBytes(cfg.canUuid), 0, 0])),
          ],
          stallMs: 0,
          busyMs: 0,
          command: cmd,
        };
      default:
        return err();
    }
  }
}
