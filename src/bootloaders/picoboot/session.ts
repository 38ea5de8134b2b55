// One PICOBOOT session over a UsbDevice (what picotool and Klipper's
// rp2040_flash do): reset the interface, then commands — 32 bytes on bulk
// OUT, the data phase, the zero-length ack in the opposite direction. A
// stall means the boot ROM refused: the status is read with CMD_STATUS,
// the interface is reset (which clears the stall), and the command fails
// with that status.

import type { UsbDevice } from "../../usb/device.js";
import { moduleLogger } from "../../util/log.js";
import {
  COMMAND_SIZE,
  decodeStatus,
  encodeCommand,
  Exclusive,
  IF_CMD_STATUS,
  IF_RESET,
  PicobootCmd,
  rangeArgs,
  rebootArgs,
  STATUS_SIZE,
} from "./codec.js";
import { PicobootCommandError, PicobootGoneError } from "./errors.js";

const log = moduleLogger("picoboot");

/** Deadline of a command packet and of an ack after a data phase, ms (picotool: 3 s). */
export const PICOBOOT_COMMAND_TIMEOUT_MS = 3000;
/** Deadline of a data phase, and of the ack of a command without one (an erase), ms (picotool: 10 s). */
export const PICOBOOT_DATA_TIMEOUT_MS = 10_000;
/** Deadline of the interface's control requests, ms. */
export const PICOBOOT_CONTROL_TIMEOUT_MS = 1000;
/** The boot ROM waits this long after the REBOOT ack before it resets, ms. */
export const PICOBOOT_REBOOT_DELAY_MS = 500;

export interface PicobootEndpoints {
  iface: number;
  out: number;
  in: number;
}

export class PicobootSession {
  private token = 1;
  /** Something on the flash changed (an erase or a write was acked). */
  changed = false;

  constructor(
    private readonly dev: UsbDevice,
    readonly ep: PicobootEndpoints,
  ) {}

  /** PICOBOOT_IF_RESET: clears stalls and any half-done command. */
  async resetInterface(): Promise<void> {
    await this.dev.controlOut(
      { bmRequestType: 0x41, bRequest: IF_RESET, wValue: 0, wIndex: this.ep.iface },
      new Uint8Array(0),
      PICOBOOT_CONTROL_TIMEOUT_MS,
    );
  }

  /** The status of the last command, or undefined when it cannot be read. */
  async status(): Promise<number | undefined> {
    try {
      const b = await this.dev.controlIn(
        { bmRequestType: 0xc1, bRequest: IF_CMD_STATUS, wValue: 0, wIndex: this.ep.iface },
        STATUS_SIZE,
        PICOBOOT_CONTROL_TIMEOUT_MS,
      );
      return decodeStatus(b)?.status;
    } catch {
      return undefined;
    }
  }

  private async run(
    id: number,
    o: {
      args?: Uint8Array;
      argSize?: number;
      address?: number;
      out?: Uint8Array;
      inLength?: number;
    },
  ): Promise<Uint8Array | undefined> {
    const transferLength = o.out?.length ?? o.inLength ?? 0;
    const cmd = encodeCommand({
      token: this.token++,
      id,
      argSize: o.argSize ?? 0,
      transferLength,
      ...(o.args ? { args: o.args } : {}),
    });
    const isIn = (id & 0x80) !== 0;
    let data: Uint8Array | undefined;
    try {
      const n = await this.dev.transferOut(this.ep.out, cmd, PICOBOOT_COMMAND_TIMEOUT_MS);
      if (n !== COMMAND_SIZE)
        throw new PicobootCommandError(
          id,
          undefined,
          o.address,
          new Error(`short command write (${n} bytes)`),
        );
      if (transferLength) {
        if (isIn) {
          data = await this.dev.transferIn(this.ep.in, transferLength, PICOBOOT_DATA_TIMEOUT_MS);
          if (data.length !== transferLength)
            throw new PicobootCommandError(
              id,
              undefined,
              o.address,
              new Error(`short read (${data.length} of ${transferLength} bytes)`),
            );
        } else {
          const sent = await this.dev.transferOut(this.ep.out, o.out!, PICOBOOT_DATA_TIMEOUT_MS);
          if (sent !== transferLength)
            throw new PicobootCommandError(
              id,
              undefined,
              o.address,
              new Error(`short write (${sent} of ${transferLength} bytes)`),
            );
        }
      }
      const ackTimeout = transferLength ? PICOBOOT_COMMAND_TIMEOUT_MS : PICOBOOT_DATA_TIMEOUT_MS;
      if (isIn) await this.dev.transferOut(this.ep.out, new Uint8Array(0), ackTimeout);
      else await this.dev.transferIn(this.ep.in, 64, ackTimeout);
    } catch (e) {
      if (e instanceof PicobootCommandError) throw e;
      const code = (e as { code?: string }).code;
      if (code === "USB_NO_DEVICE") throw new PicobootGoneError(id, o.address, this.changed);
      if (code === "USB_STALL") {
        const status = await this.status();
        log.debug({ id, status }, "PICOBOOT command refused");
        await this.resetInterface().catch(() => undefined);
        throw new PicobootCommandError(id, status, o.address, e);
      }
      throw e;
    }
    return data;
  }

  exclusive(mode: number = Exclusive.EXCLUSIVE): Promise<unknown> {
    return this.run(PicobootCmd.EXCLUSIVE_ACCESS, { args: Uint8Array.of(mode), argSize: 1 });
  }

  exitXip(): Promise<unknown> {
    return this.run(PicobootCmd.EXIT_XIP, {});
  }

  async erase(address: number, size: number): Promise<void> {
    await this.run(PicobootCmd.FLASH_ERASE, {
      args: rangeArgs(address, size),
      argSize: 8,
      address,
    });
    this.changed = true;
  }

  async write(address: number, data: Uint8Array): Promise<void> {
    await this.run(PicobootCmd.WRITE, {
      args: rangeArgs(address, data.length),
      argSize: 8,
      address,
      out: data,
    });
    this.changed = true;
  }

  async read(address: number, size: number): Promise<Uint8Array> {
    return (await this.run(PicobootCmd.READ, {
      args: rangeArgs(address, size),
      argSize: 8,
      address,
      inLength: size,
    }))!;
  }

  /** REBOOT into the normal boot path; the ROM resets `delayMs` after the ack. */
  reboot(delayMs = PICOBOOT_REBOOT_DELAY_MS): Promise<unknown> {
    return this.run(PicobootCmd.REBOOT, { args: rebootArgs(0, 0, delayMs), argSize: 12 });
  }
}
