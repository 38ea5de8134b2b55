// One DFU interface of an opened USB device: the class requests, polling
// GETSTATUS with the device's bwPollTimeout (dfu.md §2), getting to
// dfuIDLE from whatever state it was left in (§3), and the DfuSe commands
// (§5). A STALL from the device is answered the way DFU means it: read the
// status, clear the error, and report what the device said.

import type { UsbDevice } from "../../usb/device.js";
import { label } from "../../usb/request-host.js";
import { delay, type Clock } from "../../util/clock.js";
import { throwIfAborted } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import {
  DFU_IN,
  DFU_OUT,
  DfuRequest,
  DfuState,
  DfuStatus,
  dfuseErase,
  dfuseMassErase,
  dfuseSetAddress,
  parseStatus,
  type DfuStatusReply,
} from "./codec.js";
import { DfuStatusError, DfuStuckError } from "./errors.js";

const log = moduleLogger("dfu");

/** dfu-util's control timeout, ms. */
export const DFU_CONTROL_TIMEOUT_MS = 5000;
/** Polls with bwPollTimeout 0 in a row before the device counts as stuck (dfu-util's limit). */
export const DFU_MAX_ZERO_POLLS = 100;
/** A bwPollTimeout above this is capped (the next GETSTATUS simply waits for the device), ms. */
export const DFU_POLL_CAP_MS = 10_000;
/** States GETSTATUS is retried in while the last request is still being worked on. */
const BUSY = new Set<number>([DfuState.dfuDNLOAD_SYNC, DfuState.dfuDNBUSY]);

export interface DfuSessionOptions {
  clock: Clock;
  signal?: AbortSignal;
}

export class DfuSession {
  readonly name: string;
  constructor(
    readonly dev: UsbDevice,
    readonly iface: number,
    private readonly o: DfuSessionOptions,
  ) {
    this.name = label(dev.info);
  }

  private out(
    bRequest: number,
    wValue: number,
    data: Uint8Array = new Uint8Array(0),
  ): Promise<number> {
    return this.dev.controlOut(
      { bmRequestType: DFU_OUT, bRequest, wValue, wIndex: this.iface },
      data,
      DFU_CONTROL_TIMEOUT_MS,
    );
  }

  private in(bRequest: number, wValue: number, length: number): Promise<Uint8Array> {
    return this.dev.controlIn(
      { bmRequestType: DFU_IN, bRequest, wValue, wIndex: this.iface },
      length,
      DFU_CONTROL_TIMEOUT_MS,
    );
  }

  async getStatus(): Promise<DfuStatusReply> {
    const s = parseStatus(await this.in(DfuRequest.GETSTATUS, 0, 6));
    log.trace({ status: s.status, state: s.state, poll: s.pollTimeoutMs }, "GETSTATUS");
    return s;
  }

  clearStatus = (): Promise<number> => this.out(DfuRequest.CLRSTATUS, 0);
  abort = (): Promise<number> => this.out(DfuRequest.ABORT, 0);
  detach = (timeoutMs: number): Promise<number> => this.out(DfuRequest.DETACH, timeoutMs);

  /**
   * Runs a request; a STALL is the device refusing: its status is read and
   * cleared, and DfuStatusError says what it was.
   */
  private async refusable<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      if ((e as { code?: string }).code !== "USB_STALL") throw e;
      const s = await this.getStatus().catch(() => undefined);
      if (s?.state === DfuState.dfuERROR) await this.clearStatus().catch(() => undefined);
      throw new DfuStatusError(
        operation,
        s?.state ?? DfuState.dfuERROR,
        s?.status ?? DfuStatus.errSTALLEDPKT,
        this.name,
      );
    }
  }

  async dnload(
    block: number,
    data: Uint8Array,
    operation = `DNLOAD block ${block}`,
  ): Promise<void> {
    await this.refusable(operation, () => this.out(DfuRequest.DNLOAD, block, data));
  }

  upload(block: number, length: number, operation = `UPLOAD block ${block}`): Promise<Uint8Array> {
    return this.refusable(operation, () => this.in(DfuRequest.UPLOAD, block, length));
  }

  /**
   * Polls GETSTATUS after a DNLOAD until the device is done, waiting each
   * reply's bwPollTimeout before the next request. Returns the final reply;
   * throws DfuStatusError for dfuERROR (after clearing it) or any bStatus ≠ OK.
   * `firstMustBeBusy`: DfuSe commands (a first reply that is not dfuDNBUSY did not run).
   */
  async waitDone(
    operation: string,
    o: { firstMustBeBusy?: boolean } = {},
  ): Promise<DfuStatusReply> {
    let zero = 0;
    let first = true;
    for (;;) {
      throwIfAborted(this.o.signal, operation);
      const s = await this.getStatus();
      if (s.status !== DfuStatus.OK || s.state === DfuState.dfuERROR) {
        if (s.state === DfuState.dfuERROR) await this.clearStatus().catch(() => undefined);
        throw new DfuStatusError(operation, s.state, s.status, this.name);
      }
      if (first && o.firstMustBeBusy && s.state !== DfuState.dfuDNBUSY)
        throw new DfuStatusError(`${operation} (not executed)`, s.state, s.status, this.name);
      first = false;
      if (!BUSY.has(s.state)) return s;
      zero = s.pollTimeoutMs === 0 ? zero + 1 : 0;
      if (zero > DFU_MAX_ZERO_POLLS) throw new DfuStuckError(operation, zero, this.name);
      const wait = Math.min(s.pollTimeoutMs, DFU_POLL_CAP_MS);
      if (wait > 0) await delay(this.o.clock, wait, this.o.signal, operation);
    }
  }

  /** Gets the interface to dfuIDLE (dfu.md §3): clears dfuERROR, aborts an idle download or upload. */
  async toIdle(): Promise<DfuStatusReply> {
    for (let i = 0; i < 4; i++) {
      const s = await this.getStatus();
      if (s.pollTimeoutMs > 0)
        await delay(this.o.clock, Math.min(s.pollTimeoutMs, DFU_POLL_CAP_MS), this.o.signal);
      switch (s.state) {
        case DfuState.dfuIDLE:
          if (s.status === DfuStatus.OK) return s;
          await this.clearStatus();
          continue;
        case DfuState.dfuERROR:
          await this.clearStatus();
          continue;
        case DfuState.dfuDNLOAD_IDLE:
        case DfuState.dfuUPLOAD_IDLE:
          await this.abort();
          continue;
        default:
          throw new DfuStatusError("getting to dfuIDLE", s.state, s.status, this.name);
      }
    }
    const s = await this.getStatus();
    if (s.state !== DfuState.dfuIDLE || s.status !== DfuStatus.OK)
      throw new DfuStatusError("getting to dfuIDLE", s.state, s.status, this.name);
    return s;
  }

  // ---- DfuSe (dfu.md §5)

  private async dfuseCommand(bytes: Uint8Array, operation: string): Promise<void> {
    await this.dnload(0, bytes, operation);
    await this.waitDone(operation, { firstMustBeBusy: true });
  }

  setAddress = (a: number) => this.dfuseCommand(dfuseSetAddress(a), `SET ADDRESS ${hex(a)}`);
  erasePage = (a: number) => this.dfuseCommand(dfuseErase(a), `ERASE ${hex(a)}`);
  massErase = () => this.dfuseCommand(dfuseMassErase(), "MASS ERASE");

  /** SET ADDRESS, then the data as block 2 (what dfu-util does for every chunk). */
  async dfuseWrite(address: number, data: Uint8Array): Promise<void> {
    await this.setAddress(address);
    const op = `DNLOAD ${data.length} bytes at ${hex(address)}`;
    await this.dnload(2, data, op);
    await this.waitDone(op);
  }

  /** (ABORT an upload in progress,) SET ADDRESS, ABORT to dfuIDLE, UPLOAD block 2. */
  async dfuseRead(address: number, length: number): Promise<Uint8Array> {
    await this.abort();
    await this.setAddress(address);
    await this.abort();
    return this.upload(2, length, `UPLOAD ${length} bytes at ${hex(address)}`);
  }

  /**
   * `:leave`: SET ADDRESS to the application, a zero-length DNLOAD, one
   * GETSTATUS. The ROM jumps away at once, so no answer is fine.
   */
  async dfuseLeave(address: number): Promise<void> {
    await this.abort();
    await this.setAddress(address);
    await this.dnload(2, new Uint8Array(0), "leave");
    await this.getStatus().catch(() => undefined);
  }
}

const hex = (a: number) => `0x${a.toString(16).padStart(8, "0")}`;
