// A serial port (UART adapter, USB CDC-ACM, pty) as a ByteTransport, over
// the optional `serialport` addon, imported only when a port is opened.
// Opening refuses a port another process holds (naming it), takes an
// exclusive lock, and maps open failures to typed errors. Modem-control
// calls (DTR/RTS) that a port refuses — a pty does — are reported, not fatal.

import { access, constants, readlink, stat } from "node:fs/promises";
import { basename } from "node:path";
import { realClock, type Clock } from "../util/clock.js";
import { AbortedError } from "../util/errors.js";
import { moduleLogger } from "../util/log.js";
import { loadAddon, SERIALPORT_ADDON } from "../util/native.js";
import { concatBytes, type ByteTransport, type ReadOptions } from "./byte-transport.js";
import { findPortHolders } from "./port-holders.js";
import {
  NotATtyError,
  PortInUseError,
  PortNotFoundError,
  PortPermissionError,
  SerialIoError,
} from "./serial-errors.js";
import { onAbort as subscribeAbort } from "../util/abort.js";

const log = moduleLogger("transport.serial");

/** The part of serialport's SerialPort stream canflash uses. */
export interface SerialPortLike {
  open(cb: (err: Error | null) => void): void;
  write(data: Buffer, cb: (err: Error | null | undefined) => void): boolean;
  set(options: { dtr?: boolean; rts?: boolean }, cb: (err: Error | null) => void): void;
  update(options: { baudRate: number }, cb: (err: Error | null) => void): void;
  flush(cb: (err: Error | null) => void): void;
  close(cb: (err: Error | null) => void): void;
  on(event: "data", cb: (data: Buffer) => void): void;
  on(event: "error" | "close", cb: (err?: Error) => void): void;
  readonly isOpen: boolean;
}

export type SerialPortFactory = (options: {
  path: string;
  baudRate: number;
  dataBits: 8;
  parity: "none" | "even" | "odd";
  stopBits: 1 | 2;
  lock: boolean;
  hupcl: boolean;
  autoOpen: false;
}) => SerialPortLike;

export interface SerialOptions {
  path: string;
  baudRate: number;
  parity?: "none" | "even" | "odd";
  stopBits?: 1 | 2;
  clock?: Clock;
  /** Drop DTR when closing (Linux default true). */
  hupcl?: boolean;
  /** For tests: where /proc lives, and a SerialPort factory. */
  procRoot?: string;
  createPort?: SerialPortFactory;
}

async function defaultFactory(): Promise<SerialPortFactory> {
  const mod = await loadAddon<{ SerialPort: new (o: object) => SerialPortLike }>(
    SERIALPORT_ADDON,
    () => import("serialport"),
  );
  return (o) => new mod.SerialPort(o);
}

/** Linux's Unix98 pty slaves (/dev/pts/N): majors 136–143, which have no sysfs entry. */
const PTY_MAJORS = [136, 143] as const;

/**
 * A directory, a file or /dev/null is no serial port: say so, not "in use by
 * 35 processes". Decided from the device numbers and sysfs, without opening
 * it (an open toggles DTR, which resets some boards).
 */
async function checkIsTty(path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new PortNotFoundError(path);
  if (!info.isCharacterDevice())
    throw new NotATtyError(path, info.isDirectory() ? "directory" : "file");
  const major = Math.floor(info.rdev / 256) & 0xfff;
  const minor = (info.rdev & 0xff) | ((info.rdev >> 12) & 0xfff00);
  if (major >= PTY_MAJORS[0] && major <= PTY_MAJORS[1]) return;
  const subsystem = await readlink(`/sys/dev/char/${major}:${minor}/subsystem`).catch(
    () => undefined,
  );
  if (subsystem !== undefined && basename(subsystem) !== "tty")
    throw new NotATtyError(path, "device");
}

/**
 * Opens a serial port. Throws PortNotFoundError, PortPermissionError,
 * PortInUseError (with the holding processes) or AddonMissingError.
 */
export async function openSerial(options: SerialOptions): Promise<SerialTransport> {
  const { path } = options;
  try {
    await access(path, constants.F_OK);
  } catch {
    throw new PortNotFoundError(path);
  }
  await checkIsTty(path);
  const holders = await findPortHolders(path, options.procRoot);
  if (holders.length > 0) throw new PortInUseError(path, holders);
  const create = options.createPort ?? (await defaultFactory());
  const port = create({
    path,
    baudRate: options.baudRate,
    dataBits: 8,
    parity: options.parity ?? "none",
    stopBits: options.stopBits ?? 1,
    lock: true,
    hupcl: options.hupcl ?? true,
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (!err) return resolve();
      const msg = err.message;
      if (/EACCES|permission/i.test(msg)) reject(new PortPermissionError(path, err));
      else if (/ENOENT|no such file/i.test(msg)) reject(new PortNotFoundError(path));
      else if (/lock|EBUSY|busy|temporarily unavailable/i.test(msg)) {
        void findPortHolders(path, options.procRoot).then((h) =>
          reject(new PortInUseError(path, h)),
        );
      } else reject(new SerialIoError(path, "open", err));
    });
  });
  log.debug({ path, baud: options.baudRate }, "serial port open");
  return new SerialTransport(port, path, options.baudRate, options.clock ?? realClock);
}

export class SerialTransport implements ByteTransport {
  private inbox: Uint8Array[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private closed = false;

  constructor(
    private readonly port: SerialPortLike,
    readonly name: string,
    private baud: number,
    readonly clock: Clock,
  ) {
    port.on("data", (d) => {
      this.inbox.push(new Uint8Array(d));
      this.wake();
    });
    port.on("error", (e) => {
      this.failure ??= new SerialIoError(name, "read", e);
      this.wake();
    });
    port.on("close", () => {
      if (!this.closed)
        this.failure ??= new SerialIoError(
          name,
          "read",
          new Error("the port closed (device unplugged or reset?)"),
        );
      this.wake();
    });
  }

  get baudRate(): number {
    return this.baud;
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => {
      this.port.write(Buffer.from(data), (err) =>
        err ? reject(new SerialIoError(this.name, "write", err)) : resolve(),
      );
    });
  }

  async read(timeoutMs: number, options: ReadOptions = {}): Promise<Uint8Array> {
    if (this.inbox.length === 0) {
      if (this.failure) throw this.failure;
      if (timeoutMs > 0) await this.waitForData(timeoutMs, options.signal);
    }
    if (this.inbox.length === 0 && this.failure) throw this.failure;
    const out = concatBytes(this.inbox);
    this.inbox = [];
    return out;
  }

  discardInput(): void {
    this.inbox = [];
  }

  /** Changes the line speed. */
  async setBaud(baudRate: number): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.port.update({ baudRate }, (err) =>
        err ? reject(new SerialIoError(this.name, `set ${baudRate} baud`, err)) : resolve(),
      ),
    );
    this.baud = baudRate;
  }

  /**
   * Sets DTR/RTS. Resolves false (and logs) when the port refuses
   * modem-control calls, as a pseudo-terminal does; never throws for that.
   */
  async setLines(lines: { dtr?: boolean; rts?: boolean }): Promise<boolean> {
    return new Promise((resolve) =>
      this.port.set(lines, (err) => {
        if (err)
          log.debug(
            { path: this.name, err: err.message },
            "modem-control lines not supported by this port",
          );
        resolve(!err);
      }),
    );
  }

  /** Discards what the OS buffered in both directions. */
  async flush(): Promise<void> {
    this.inbox = [];
    await new Promise<void>((resolve) => this.port.flush(() => resolve()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private waitForData(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      let unsubscribeAbort = (): void => undefined;
      const cancel = this.clock.schedule(timeoutMs, () => {
        this.waiter = undefined;
        unsubscribeAbort();
        resolve();
      });
      const onAbort = (): void => {
        cancel();
        this.waiter = undefined;
        reject(new AbortedError("serial read", signal?.reason));
      };
      if (signal?.aborted) return onAbort();
      unsubscribeAbort = subscribeAbort(signal, onAbort);
      this.waiter = () => {
        cancel();
        unsubscribeAbort();
        resolve();
      };
    });
  }
}
