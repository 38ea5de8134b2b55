// SocketCanBus: a kernel CAN_RAW socket through the optional `socketcan`
// native addon, imported only when a SocketCAN interface is opened.
//
// The addon reports failures without errno, so opening first inspects sysfs
// to name the problem (no such interface, not CAN, down), and classifies a
// refused socket afterwards (kernel without CAN_RAW vs. a security policy).
// Sends are non-blocking: a refused frame (ENOBUFS, transmit queue full) is
// retried with a short backoff until SEND_BUSY_TIMEOUT_MS, then reported —
// never dropped. The sender yields to the event loop every few frames so
// readers in the same process keep draining their socket buffers.

import { readFile, access } from "node:fs/promises";
import { createRequire } from "node:module";
import { release as osRelease } from "node:os";
import { join } from "node:path";
import { realClock, delay, type Clock } from "../util/clock.js";
import { AbortedError } from "../util/errors.js";
import { moduleLogger } from "../util/log.js";
import { AddonMissingError, loadAddon, SOCKETCAN_ADDON } from "../util/native.js";
import { BaseBus, type SendOptions } from "./bus.js";
import {
  CanBusClosedError,
  CanBusStoppedError,
  CanPermissionError,
  CanSendTimeoutError,
  InterfaceDownError,
  KernelCanUnsupportedError,
  NoSuchInterfaceError,
  NotCanInterfaceError,
  NotLinuxError,
} from "./errors.js";
import { toKernelFilter, type CanFilter } from "./filter.js";
import { canFrame, formatFrame, type CanFrame } from "./frame.js";
import {
  ARPHRD_CAN,
  isValidInterfaceName,
  listSysfsCanInterfaces,
  readSysfsInterface,
} from "./sysfs.js";

const log = moduleLogger("can.socketcan");

/** How long a frame the kernel keeps refusing (ENOBUFS) is retried before send() fails. */
export const SEND_BUSY_TIMEOUT_MS = 2000;
/** Retry backoff while the transmit queue is full: first and longest wait. */
const BUSY_BACKOFF_MIN_MS = 0.25;
const BUSY_BACKOFF_MAX_MS = 4;
/**
 * Frames handed to the kernel within one event-loop turn before the sender
 * yields with a timer. A sender awaiting each send() otherwise never leaves
 * the microtask queue, and readers in this process (whose native receive
 * thread needs CPU) overflow their socket buffers: vcan delivers at memory
 * speed and drops silently at the receiving socket.
 */
const FRAMES_PER_TURN = 16;

/** The part of the socketcan addon's RawChannel that canflash uses. */
export interface RawChannelLike {
  addListener(event: "onMessage", cb: (msg: AddonMessage) => void): void;
  addListener(event: "onStopped", cb: () => void): void;
  start(): void;
  stop(): void;
  send(msg: { id: number; ext?: boolean; rtr?: boolean; data: Buffer }): number;
  setRxFilters(filters: Array<{ id: number; mask: number; invert?: boolean }>): void;
}

export interface AddonMessage {
  id: number;
  ext?: boolean;
  rtr?: boolean;
  err?: boolean;
  data: Buffer;
}

export interface SocketCanAddon {
  createRawChannelWithOptions(
    name: string,
    options: { timestamps?: boolean; non_block_send?: boolean },
  ): RawChannelLike;
}

export interface SocketCanOptions {
  clock?: Clock;
  /** Deliver this endpoint's own sent frames to its readers too. */
  receiveOwn?: boolean;
  filters?: readonly CanFilter[];
  sendBusyTimeoutMs?: number;
  /**
   * The interface's bitrate (for `info`, and the image's bus-speed check);
   * by default asked of netlink through \`ip\`, except for a software
   * interface (vcan, vxcan, slcan), which has no bit timing there.
   */
  bitrate?: number | undefined;
  /** For tests: a fake /sys, /proc and /lib/modules, platform and addon. */
  sysfsRoot?: string;
  procRoot?: string;
  modulesRoot?: string;
  platform?: string;
  loadAddon?: () => Promise<SocketCanAddon>;
  /** For tests: what `ip -details -statistics -json link show` prints (the bitrate comes from it). */
  runIp?: () => Promise<string>;
}

/** The raw-channel class of socketcan's can.node (what its createRawChannelWithOptions constructs). */
type RawChannelClass = new (
  name: string,
  timestamps: boolean,
  protocol: number,
  nonBlockSend: boolean,
) => RawChannelLike;

/** CAN_RAW, the protocol socketcan's raw channel opens by default. */
const CAN_RAW_PROTOCOL = 1;

/**
 * The raw channel alone: socketcan's main module also loads its signal
 * addon and a KCD (XML database) parser with xml2js, about 45 files that a
 * raw socket never uses — on a Pi, a noticeable part of a start. Where the
 * package keeps its raw addon (build/Release/can.node, socketcan 4.x) it is
 * loaded by itself; otherwise the package's main.
 */
async function importRawAddon(): Promise<SocketCanAddon> {
  try {
    const raw = createRequire(import.meta.url)("socketcan/build/Release/can.node") as {
      RawChannel: RawChannelClass;
    };
    if (typeof raw.RawChannel !== "function") throw new TypeError("no RawChannel in can.node");
    return {
      createRawChannelWithOptions: (name, o) =>
        new raw.RawChannel(
          name,
          o.timestamps ?? false,
          CAN_RAW_PROTOCOL,
          o.non_block_send ?? false,
        ),
    };
  } catch {
    const mod = (await import("socketcan")) as unknown as SocketCanAddon & {
      default?: SocketCanAddon;
    };
    return mod.default ?? mod;
  }
}

async function defaultLoadAddon(): Promise<SocketCanAddon> {
  // The addon's bundled typings declare send() as void; it returns the send(2) result.
  return loadAddon<SocketCanAddon>(SOCKETCAN_ADDON, importRawAddon);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** True when the kernel has CAN_RAW registered, built in, or available as a module. */
export async function kernelHasCanRaw(procRoot: string, modulesRoot: string): Promise<boolean> {
  const protocols = await readFile(join(procRoot, "net", "protocols"), "utf8").catch(() => "");
  if (/^CAN_RAW\b/m.test(protocols)) return true;
  const dir = join(modulesRoot, osRelease());
  const builtin = await readFile(join(dir, "modules.builtin"), "utf8").catch(() => "");
  if (/can-raw\.ko/.test(builtin)) return true;
  for (const ext of ["", ".xz", ".zst", ".gz"]) {
    if (await exists(join(dir, "kernel", "net", "can", `can-raw.ko${ext}`))) return true;
  }
  return false;
}

/**
 * Opens a CAN_RAW socket on `iface`. Throws NotLinuxError,
 * NoSuchInterfaceError, NotCanInterfaceError, InterfaceDownError,
 * AddonMissingError, KernelCanUnsupportedError, CanPermissionError
 * or CanOpenError, each naming the interface.
 */
export async function openSocketCan(
  iface: string,
  options: SocketCanOptions = {},
): Promise<SocketCanBus> {
  const platform = options.platform ?? process.platform;
  if (platform !== "linux") throw new NotLinuxError(platform);
  const sysfsRoot = options.sysfsRoot ?? "/sys";
  const canNames = async (): Promise<string[]> =>
    (await listSysfsCanInterfaces(sysfsRoot)).map((i) => i.name);
  if (!isValidInterfaceName(iface)) throw new NoSuchInterfaceError(iface, await canNames());
  const info = await readSysfsInterface(iface, sysfsRoot, { statistics: false });
  if (!info) throw new NoSuchInterfaceError(iface, await canNames());
  if (info.type !== ARPHRD_CAN) throw new NotCanInterfaceError(iface, info.type);
  if (!info.up) throw new InterfaceDownError(iface);
  // `ip` is a process started per open (50-170 ms on UML, where the vcan lane runs): not for an
  // interface it can tell nothing about.
  const bitrate =
    options.bitrate ?? (info.virtual ? undefined : await interfaceBitrate(iface, options.runIp));

  let addon: SocketCanAddon;
  try {
    addon = await (options.loadAddon ?? defaultLoadAddon)();
  } catch (e) {
    throw e instanceof AddonMissingError ? e : new AddonMissingError(SOCKETCAN_ADDON, e);
  }
  let raw: RawChannelLike;
  try {
    raw = addon.createRawChannelWithOptions(iface, { timestamps: false, non_block_send: true });
  } catch (e) {
    const again = await readSysfsInterface(iface, sysfsRoot);
    if (!again) throw new NoSuchInterfaceError(iface, await canNames());
    if (!again.up) throw new InterfaceDownError(iface);
    if (
      !(await kernelHasCanRaw(options.procRoot ?? "/proc", options.modulesRoot ?? "/lib/modules"))
    ) {
      throw new KernelCanUnsupportedError(iface);
    }
    // The interface is up and the kernel has CAN_RAW: the socket was refused by policy.
    throw new CanPermissionError(iface, e);
  }
  return new SocketCanBus(iface, raw, { ...options, bitrate });
}

/** The bitrate netlink reports for `iface` (undefined when `ip` is missing or says none). */
async function interfaceBitrate(
  iface: string,
  runIp: SocketCanOptions["runIp"],
): Promise<number | undefined> {
  const { listCanInterfaces } = await import("./interfaces.js");
  return listCanInterfaces(runIp ? { runIp } : {})
    .then((all) => all.find((i) => i.name === iface)?.bitrate)
    .catch(() => undefined);
}

interface PendingSend {
  frame: CanFrame;
  resolve(): void;
  reject(e: Error): void;
  signal: AbortSignal | undefined;
}

export class SocketCanBus extends BaseBus {
  private readonly queue: PendingSend[] = [];
  private pumping = false;
  private stopping = false;
  /** The native channel already stopped by itself (socket error). */
  private nativeStopped = false;
  /** Frames sent since the event loop last completed a turn. */
  private framesThisTurn = 0;
  private turnWatch: NodeJS.Immediate | undefined;
  private readonly busyTimeoutMs: number;
  private readonly receiveOwn: boolean;
  private readonly sysfsRoot: string;

  /** @internal use openSocketCan. */
  constructor(
    iface: string,
    private readonly raw: RawChannelLike,
    options: SocketCanOptions,
  ) {
    super(iface, options.clock ?? realClock, {
      backend: "socketcan",
      simulated: false,
      bitrate: options.bitrate,
    });
    this.busyTimeoutMs = options.sendBusyTimeoutMs ?? SEND_BUSY_TIMEOUT_MS;
    this.receiveOwn = options.receiveOwn ?? false;
    this.sysfsRoot = options.sysfsRoot ?? "/sys";
    raw.addListener("onMessage", (msg) => this.onMessage(msg));
    raw.addListener("onStopped", () => {
      if (this.stopping) return;
      this.nativeStopped = true;
      void this.onUnexpectedStop();
    });
    this.setFilters(options.filters ?? []);
    raw.start();
    log.debug({ iface }, "socket open");
  }

  setFilters(filters: readonly CanFilter[]): void {
    const kernel = filters.length === 0 ? [{ id: 0, mask: 0 }] : filters.map(toKernelFilter);
    this.raw.setRxFilters(kernel);
  }

  protected transmit(frame: CanFrame, options: SendOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ frame, resolve, reject, signal: options.signal });
      if (!this.pumping) void this.pump();
    });
  }

  protected async release(): Promise<void> {
    this.stopping = true;
    this.rejectQueued(new CanBusClosedError(this.channel));
    // stop() leaves the fd open until garbage collection; make it receive nothing meanwhile.
    if (this.turnWatch) clearImmediate(this.turnWatch);
    if (!this.nativeStopped) {
      this.raw.setRxFilters([{ id: 0, mask: 0, invert: true }]);
      this.raw.stop();
    }
    log.debug({ iface: this.channel }, "socket closed");
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        const outcome = await this.sendOne(head);
        if (outcome === "gone") return; // the bus failed or closed; the queue was rejected
        this.queue.shift();
        if (outcome !== "sent") {
          head.reject(outcome);
          continue;
        }
        head.resolve();
        if (this.receiveOwn) this.dispatch(head.frame);
        await this.countTurn();
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Counts a sent frame; after a burst within one loop turn, sleeps one timer tick so other threads run. */
  private async countTurn(): Promise<void> {
    this.framesThisTurn++;
    this.turnWatch ??= setImmediate(() => {
      this.turnWatch = undefined;
      this.framesThisTurn = 0;
    });
    if (this.framesThisTurn >= FRAMES_PER_TURN) {
      await new Promise<void>((r) => setTimeout(r, 0));
    }
  }

  /**
   * Hands one frame to the kernel, retrying while it is refused. Returns
   * "sent", the error to reject this frame with, or "gone" when the bus failed.
   */
  private async sendOne(p: PendingSend): Promise<"sent" | "gone" | Error> {
    const msg = {
      id: p.frame.id,
      ext: p.frame.extended,
      rtr: p.frame.rtr,
      data: p.frame.rtr ? Buffer.alloc(p.frame.dlc) : Buffer.from(p.frame.data),
    };
    let firstRefusal: number | undefined;
    let backoff = BUSY_BACKOFF_MIN_MS;
    for (;;) {
      if (this.closed || this.failed) return "gone";
      if (p.signal?.aborted) return new AbortedError("CAN send", p.signal.reason);
      if (this.raw.send(msg) >= 0) return "sent";
      const now = this.clock.now();
      if (firstRefusal === undefined) {
        firstRefusal = now;
        log.trace(
          { iface: this.channel, frame: formatFrame(p.frame) },
          "send refused (queue full), retrying",
        );
        const info = await readSysfsInterface(this.channel, this.sysfsRoot);
        if (!info || !info.up) {
          this.failWith(
            info
              ? new InterfaceDownError(this.channel)
              : new NoSuchInterfaceError(this.channel, []),
          );
          return "gone";
        }
      } else if (now - firstRefusal >= this.busyTimeoutMs) {
        return new CanSendTimeoutError(
          this.channel,
          this.busyTimeoutMs,
          formatFrame(p.frame),
          this.state,
        );
      }
      try {
        await delay(this.clock, backoff, p.signal, "CAN send");
      } catch (e) {
        return e as Error;
      }
      backoff = Math.min(backoff * 2, BUSY_BACKOFF_MAX_MS);
    }
  }

  private onMessage(msg: AddonMessage): void {
    let frame: CanFrame;
    try {
      if (msg.err)
        frame = canFrame(msg.id, msg.data.subarray(0, 8), { error: true, extended: false });
      else if (msg.rtr)
        frame = canFrame(msg.id, [], { extended: !!msg.ext, rtr: true, dlc: msg.data.length });
      else frame = canFrame(msg.id, msg.data, { extended: !!msg.ext });
    } catch (e) {
      log.warn({ iface: this.channel, err: e }, "ignoring a malformed frame from the kernel");
      return;
    }
    this.dispatch(frame);
  }

  private async onUnexpectedStop(): Promise<void> {
    const info = await readSysfsInterface(this.channel, this.sysfsRoot);
    let error: Error;
    if (!info) error = new NoSuchInterfaceError(this.channel, []);
    else if (!info.up) error = new InterfaceDownError(this.channel);
    else error = new CanBusStoppedError(this.channel);
    log.warn({ iface: this.channel, code: (error as { code?: string }).code }, "socket stopped");
    this.busState = "stopped";
    this.failWith(error);
  }

  private failWith(error: Error): void {
    this.fail(error);
    this.rejectQueued(error);
  }

  private rejectQueued(error: Error): void {
    for (const p of this.queue.splice(0)) p.reject(error);
  }
}
