// GsUsbBus: a CAN bus through a gs_usb adapter (candleLight firmware,
// Klipper's USB-to-CAN bridge) in userspace, on the USB seam — for machines
// without the kernel's gs_usb driver (macOS, Windows, a rescue system).
//
// Opening: claim the vendor interface whose bulk IN/OUT endpoints carry
// frames, HOST_FORMAT, DEVICE_CONFIG, BT_CONST, the bit timing computed
// from BT_CONST for the bitrate, MODE start. Klipper's bridge runs at the
// rate it was built with and answers BT_CONST with placeholders: no bit
// timing is sent to it, and the bus assumes the name's bitrate (default
// 1 Mbit/s). Flow control, as the Linux driver does it: each frame goes
// out with an echo id, and the adapter returns the id once the frame left
// the controller. At most `window` frames are in flight (sent, not yet
// echoed); send() resolves as soon as its frame has an echo id and its bulk
// OUT is submitted — in order, behind the ones before it — so a stream of
// frames is not paced by the USB's round trip. A send waits while the
// window is full and fails with CanSendTimeoutError when no room comes in
// time. What goes wrong after send() resolved is reported, never dropped
// silently: a bulk OUT the adapter did not take in time, or an echo that
// did not come in time (nothing acknowledges frames, bus-off), is a
// GsUsbFrameLostError to every reader; a bulk OUT that fails otherwise
// stops the bus. close() first lets the frames in flight finish (their
// echo or their deadline). Error frames set the bus state; a frame flagged
// OVERFLOW, or a controller error frame saying received frames were lost,
// is a GsUsbRxOverflowError to every reader, and one saying frames to send
// were dropped a GsUsbTxOverflowError — never silent.

import { BaseBus, type SendOptions } from "../can/bus.js";
import { CanBusClosedError, CanBusStoppedError, CanSendTimeoutError } from "../can/errors.js";
import { matchesAny, type CanFilter } from "../can/filter.js";
import {
  CAN_ERR_CRTL,
  CAN_ERR_CRTL_RX_OVERFLOW,
  CAN_ERR_CRTL_TX_OVERFLOW,
} from "../can/errorframe.js";
import { formatFrame, type CanFrame } from "../can/frame.js";
import { onAbort } from "../util/abort.js";
import { realClock, type Clock } from "../util/clock.js";
import { AbortedError } from "../util/errors.js";
import { moduleLogger } from "../util/log.js";
import type { UsbDevice } from "../usb/device.js";
import { UsbTransferError } from "../usb/errors.js";
import {
  computeBitTiming,
  decodeBtConst,
  decodeDeviceConfig,
  decodeHostFrame,
  decodeState,
  encodeBitTiming,
  encodeHostFormat,
  encodeHostFrame,
  encodeMode,
  GS_BT_CONST_SIZE,
  GS_DEVICE_CONFIG_SIZE,
  GS_FRAME_FLAG_OVERFLOW,
  GS_FRAME_SIZE,
  GS_MODE_RESET,
  GS_MODE_START,
  GS_REQUEST_IN,
  GS_REQUEST_OUT,
  GS_RX_ECHO_ID,
  GS_STATE_SIZE,
  GsRequest,
  GsState,
  type GsBtConst,
  type GsDeviceConfig,
  type GsHostFrame,
} from "./codec.js";
import {
  GsUsbBitrateError,
  GsUsbFrameLostError,
  GsUsbNotGsUsbError,
  GsUsbRxOverflowError,
  GsUsbTxOverflowError,
} from "./errors.js";
import type { GsUsbName } from "./name.js";

const log = moduleLogger("gs-usb");

/** Frames sent and not yet echoed (the Linux driver keeps ten TX contexts, echo ids 0–9). */
export const GS_USB_TX_WINDOW = 10;
/** How long a frame in flight may wait for its echo before it is reported lost (GsUsbFrameLostError). */
export const GS_USB_ECHO_TIMEOUT_MS = 2000;
/** How long send() waits for room in a full window before it fails (CanSendTimeoutError). */
export const GS_USB_SEND_TIMEOUT_MS = 2000;
/**
 * Bulk IN transfers kept waiting at once (on backends that run transfers
 * concurrently), as the Linux driver keeps 30 RX URBs: each carries one
 * frame, so at 1 ms of USB latency this many frames a millisecond reach the
 * host — more than a full 1 Mbit/s bus of short frames carries.
 */
export const GS_USB_RX_TRANSFERS = 30;
/** Each bulk IN waits this long; the read loop then asks again (and notices a close). */
export const GS_USB_READ_POLL_MS = 50;
/**
 * The read poll on a USB backend that carries one request at a time per
 * device (the socket backend): a waiting bulk IN would hold every frame
 * out behind it, so it waits only this long.
 */
export const GS_USB_SERIAL_READ_POLL_MS = 1;
/** USB backends whose transfers on one device run one after another. */
const SERIALIZING_BACKENDS = new Set(["socket"]);
/** Deadline of the vendor control requests and of a bulk OUT. */
export const GS_USB_CONTROL_TIMEOUT_MS = 1000;
/** Manufacturer string of Klipper's USB firmware (its USB-to-CAN bridge among it). */
export const KLIPPER_MANUFACTURER = "Klipper";

export interface GsUsbBusOptions {
  clock?: Clock;
  receiveOwn?: boolean;
  filters?: readonly CanFilter[];
  window?: number;
  echoTimeoutMs?: number;
  sendTimeoutMs?: number;
  readPollMs?: number;
}

/** What the adapter said about itself while opening. */
export interface GsUsbAdapterInfo {
  /** "candlelight" (sets its own bit timing) or "klipper-bridge" (fixed rate, ignores timing and mode). */
  kind: "candlelight" | "klipper-bridge";
  config: GsDeviceConfig;
  btConst: GsBtConst;
  /** The bulk endpoints used. */
  endpointIn: number;
  endpointOut: number;
  interfaceNumber: number;
}

/** A send waiting for room in the window. */
interface Outgoing {
  frame: CanFrame;
  resolve(): void;
  reject(e: Error): void;
  cancelTimer?: () => void;
  unsubscribeAbort?: () => void;
}

/** A frame in flight: submitted with its echo id, its send resolved, its echo awaited. */
interface InFlight {
  frame: CanFrame;
  cancelTimer: () => void;
}

const STATE_NAMES = [
  "error-active",
  "error-warning",
  "error-passive",
  "bus-off",
  "stopped",
  "stopped",
] as const;

/**
 * Sets the adapter up on an opened `device` and starts the bus. Throws
 * GsUsbNotGsUsbError (no gs_usb interface, setup refused) or
 * GsUsbBitrateError; on failure the device is left to the caller.
 */
export async function startGsUsbBus(
  iface: string,
  name: GsUsbName,
  device: UsbDevice,
  options: GsUsbBusOptions = {},
): Promise<GsUsbBus> {
  const label = `${device.info.product ?? "USB device"} (${device.info.id})`;
  const cfg = await device.configDescriptor();
  const alt = cfg.interfaces.find(
    (i) =>
      i.bInterfaceClass === 0xff &&
      i.endpoints.some((e) => (e.bmAttributes & 3) === 2 && e.bEndpointAddress & 0x80) &&
      i.endpoints.some((e) => (e.bmAttributes & 3) === 2 && !(e.bEndpointAddress & 0x80)),
  );
  if (!alt)
    throw new GsUsbNotGsUsbError(
      iface,
      label,
      "has no vendor interface with bulk IN and OUT endpoints",
    );
  const epIn = alt.endpoints.find((e) => (e.bmAttributes & 3) === 2 && e.bEndpointAddress & 0x80)!;
  const epOut = alt.endpoints.find(
    (e) => (e.bmAttributes & 3) === 2 && !(e.bEndpointAddress & 0x80),
  )!;
  const ifn = alt.bInterfaceNumber;
  const t = GS_USB_CONTROL_TIMEOUT_MS;
  const out = (bRequest: number, wValue: number, data: Uint8Array, what: string) =>
    device
      .controlOut({ bmRequestType: GS_REQUEST_OUT, bRequest, wValue, wIndex: ifn }, data, t)
      .catch((e: unknown) => {
        throw new GsUsbNotGsUsbError(iface, label, `refused ${what}: ${(e as Error).message}`);
      });
  const inq = (bRequest: number, wValue: number, length: number, what: string) =>
    device
      .controlIn({ bmRequestType: GS_REQUEST_IN, bRequest, wValue, wIndex: ifn }, length, t)
      .catch((e: unknown) => {
        throw new GsUsbNotGsUsbError(iface, label, `refused ${what}: ${(e as Error).message}`);
      });
  await device.claimInterface(ifn);
  try {
    // HOST_FORMAT: wValue 1 as the Linux driver sends it; the byte-order marker.
    await out(GsRequest.HOST_FORMAT, 1, encodeHostFormat(), "HOST_FORMAT");
    const config = decodeDeviceConfig(
      await inq(GsRequest.DEVICE_CONFIG, 1, GS_DEVICE_CONFIG_SIZE, "DEVICE_CONFIG"),
    );
    const btConst = decodeBtConst(await inq(GsRequest.BT_CONST, 0, GS_BT_CONST_SIZE, "BT_CONST"));
    const kind =
      device.info.manufacturer === KLIPPER_MANUFACTURER ? "klipper-bridge" : "candlelight";
    if (kind === "candlelight") {
      const timing = computeBitTiming(btConst, name.bitrate);
      if (!timing) throw new GsUsbBitrateError(iface, name.bitrate, btConst.fclkCan);
      await out(GsRequest.BITTIMING, 0, encodeBitTiming(timing), "BITTIMING");
    }
    // Klipper's bridge accepts MODE and ignores it; candleLight starts the channel.
    await out(GsRequest.MODE, 0, encodeMode({ mode: GS_MODE_START, flags: 0 }), "MODE start");
    const adapter: GsUsbAdapterInfo = {
      kind,
      config,
      btConst,
      endpointIn: epIn.bEndpointAddress,
      endpointOut: epOut.bEndpointAddress,
      interfaceNumber: ifn,
    };
    const bus = new GsUsbBus(iface, name, device, adapter, epIn.wMaxPacketSize, options);
    // GET_STATE is newer than most firmware: where it is answered it sets the state.
    const state = await device
      .controlIn(
        { bmRequestType: GS_REQUEST_IN, bRequest: GsRequest.GET_STATE, wValue: 0, wIndex: ifn },
        GS_STATE_SIZE,
        t,
      )
      .then((b) => (b.length >= GS_STATE_SIZE ? decodeState(b) : undefined))
      .catch(() => undefined);
    bus.start(state ? (STATE_NAMES[state.state] ?? "error-active") : "error-active");
    log.debug({ iface, adapter: { kind, config }, bitrate: name.bitrate }, "gs_usb channel open");
    return bus;
  } catch (e) {
    await device.releaseInterface(ifn).catch(() => undefined);
    throw e;
  }
}

export class GsUsbBus extends BaseBus {
  private readonly queue: Outgoing[] = [];
  private readonly inflight = new Map<number, InFlight>();
  /** Resolves close()'s wait once nothing is in flight. */
  private drained: (() => void) | undefined;
  private nextEcho = 0;
  private pumping = false;
  private filters: readonly CanFilter[];
  private reading: Promise<void> = Promise.resolve();
  private readonly window: number;
  private readonly echoTimeoutMs: number;
  private readonly sendTimeoutMs: number;
  private readonly pollMs: number;
  private readonly receiveOwn: boolean;
  private stopping = false;
  /** The USB backend carries one request at a time: one read waits, and each write is awaited. */
  private readonly serializing: boolean;

  /** @internal use startGsUsbBus / openGsUsb. */
  constructor(
    iface: string,
    name: GsUsbName,
    private readonly device: UsbDevice,
    readonly adapter: GsUsbAdapterInfo,
    private readonly inPacketSize: number,
    options: GsUsbBusOptions,
  ) {
    super(iface, options.clock ?? realClock, {
      backend: "gs_usb",
      simulated: false,
      bitrate: name.bitrate,
    });
    this.filters = options.filters ?? [];
    this.window = Math.max(1, options.window ?? GS_USB_TX_WINDOW);
    this.echoTimeoutMs = options.echoTimeoutMs ?? GS_USB_ECHO_TIMEOUT_MS;
    this.sendTimeoutMs = options.sendTimeoutMs ?? GS_USB_SEND_TIMEOUT_MS;
    this.serializing = SERIALIZING_BACKENDS.has(device.info.backend);
    this.pollMs =
      options.readPollMs ?? (this.serializing ? GS_USB_SERIAL_READ_POLL_MS : GS_USB_READ_POLL_MS);
    this.receiveOwn = options.receiveOwn ?? false;
  }

  /** @internal */
  start(state: (typeof STATE_NAMES)[number]): void {
    this.busState = state;
    this.reading = this.readLoop();
  }

  setFilters(filters: readonly CanFilter[]): void {
    this.filters = [...filters];
  }

  /** Frames sent and not yet echoed (for tests). */
  get inFlight(): number {
    return this.inflight.size;
  }

  protected transmit(frame: CanFrame, options: SendOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry: Outgoing = { frame, resolve, reject };
      if (options.signal) {
        entry.unsubscribeAbort = onAbort(options.signal, () => {
          if (!this.unqueue(entry)) return; // already in flight: sent
          settle(entry, new AbortedError("CAN send", options.signal?.reason));
        });
      }
      this.queue.push(entry);
      void this.pump();
      if (!this.queue.includes(entry)) return; // in flight at once (the usual case)
      entry.cancelTimer = this.clock.schedule(this.sendTimeoutMs, () => {
        if (!this.unqueue(entry)) return;
        log.warn({ iface: this.channel, frame: formatFrame(frame) }, "no room in the window");
        settle(
          entry,
          new CanSendTimeoutError(this.channel, this.sendTimeoutMs, formatFrame(frame), this.state),
        );
      });
    });
  }

  private unqueue(entry: Outgoing): boolean {
    const i = this.queue.indexOf(entry);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    return true;
  }

  protected async release(): Promise<void> {
    // Sends still waiting for room fail; frames in flight finish first (echo or deadline), so a
    // last command is not cut off by MODE reset.
    const closed = new CanBusClosedError(this.channel);
    for (const e of this.queue.splice(0)) settle(e, closed);
    if (this.inflight.size && !this.failed) {
      await new Promise<void>((resolve) => (this.drained = resolve));
    }
    this.stopping = true;
    await this.reading;
    this.clearInFlight();
    const ifn = this.adapter.interfaceNumber;
    if (!this.failed) {
      await this.device
        .controlOut(
          { bmRequestType: GS_REQUEST_OUT, bRequest: GsRequest.MODE, wValue: 0, wIndex: ifn },
          encodeMode({ mode: GS_MODE_RESET, flags: 0 }),
          GS_USB_CONTROL_TIMEOUT_MS,
        )
        .catch((e: unknown) => log.debug({ iface: this.channel, err: e }, "MODE reset failed"));
      await this.device.releaseInterface(ifn).catch(() => undefined);
    }
    await this.device.close().catch(() => undefined);
    log.debug({ iface: this.channel }, "gs_usb channel closed");
  }

  // ---- frames out -----------------------------------------------------------

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (
        !this.stopping &&
        !this.failed &&
        this.queue.length &&
        this.inflight.size < this.window
      ) {
        const entry = this.queue.shift()!;
        const echoId = this.nextEcho;
        this.nextEcho = (this.nextEcho + 1) & 0xffff;
        const slot: InFlight = { frame: entry.frame, cancelTimer: () => undefined };
        this.inflight.set(echoId, slot);
        slot.cancelTimer = this.clock.schedule(this.echoTimeoutMs, () =>
          this.lose(echoId, slot, "no-echo", this.echoTimeoutMs),
        );
        // Submitted without waiting for the one before (in order on one endpoint), so several
        // frames cross the USB at once; the echo only frees the slot.
        const done = this.device
          .transferOut(
            this.adapter.endpointOut,
            encodeHostFrame({ echoId, frame: entry.frame, channel: 0, flags: 0 }),
            GS_USB_CONTROL_TIMEOUT_MS,
          )
          .then(
            () => undefined,
            (e: unknown) => {
              // The adapter did not take the frame (its queue stayed full): reported, loudly.
              if (isTimeout(e)) this.lose(echoId, slot, "not-taken", GS_USB_CONTROL_TIMEOUT_MS);
              else if (!this.stopping) this.failWith(new CanBusStoppedError(this.channel, e));
            },
          );
        settle(entry);
        if (this.serializing) await done;
      }
    } finally {
      this.pumping = false;
    }
  }

  /** A frame in flight failed after its send resolved: every reader hears of it. */
  private lose(
    echoId: number,
    slot: InFlight,
    reason: GsUsbFrameLostError["reason"],
    waitedMs: number,
  ): void {
    if (this.inflight.get(echoId) !== slot) return; // echoed, or already reported
    const frame = formatFrame(slot.frame);
    log.warn({ iface: this.channel, frame, reason, state: this.state }, "frame lost");
    this.reportLoss(new GsUsbFrameLostError(this.channel, frame, reason, waitedMs, this.state));
    this.freeSlot(echoId, slot);
  }

  /** Frees a slot of the window (echoed or lost). */
  private freeSlot(echoId: number, slot: InFlight): void {
    slot.cancelTimer();
    this.inflight.delete(echoId);
    if (!this.inflight.size) this.drained?.();
    void this.pump();
  }

  private clearInFlight(): void {
    for (const slot of this.inflight.values()) slot.cancelTimer();
    this.inflight.clear();
    this.drained?.();
  }

  // ---- frames in ------------------------------------------------------------

  private async readLoop(): Promise<void> {
    const length = Math.max(this.inPacketSize, GS_FRAME_SIZE);
    // Several transfers wait at once (the Linux driver keeps 30 RX URBs), so the USB's latency
    // overlaps instead of capping the frame rate; they complete, and are handled, in order.
    const depth = this.serializing ? 1 : GS_USB_RX_TRANSFERS;
    const pending: Array<Promise<Uint8Array | Error>> = [];
    const submit = () =>
      pending.push(
        this.device.transferIn(this.adapter.endpointIn, length, this.pollMs).then(
          (d) => d,
          (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
        ),
      );
    try {
      while (!this.stopping && !this.failed) {
        while (pending.length < depth) submit();
        const r = await pending.shift()!;
        if (r instanceof Error) {
          if (isTimeout(r)) continue;
          if (!this.stopping) this.failWith(new CanBusStoppedError(this.channel, r));
          return;
        }
        if (r.length < GS_FRAME_SIZE) continue; // a zero-length packet
        let f: GsHostFrame;
        try {
          f = decodeHostFrame(r);
        } catch (e) {
          log.warn({ iface: this.channel, err: (e as Error).message }, "undecodable gs_usb frame");
          continue;
        }
        this.onFrame(f);
      }
    } finally {
      await Promise.all(pending); // each ends within the poll time
    }
  }

  private onFrame(f: GsHostFrame): void {
    if (f.flags & GS_FRAME_FLAG_OVERFLOW) {
      log.warn({ iface: this.channel }, "adapter lost received frames");
      this.reportLoss(new GsUsbRxOverflowError(this.channel));
    }
    if (f.echoId !== GS_RX_ECHO_ID) {
      const slot = this.inflight.get(f.echoId);
      if (!slot) return; // the echo of a frame already reported lost
      this.freeSlot(f.echoId, slot);
      if (this.receiveOwn && !this.closed) this.dispatch(f.frame);
      return;
    }
    if (this.closed) return;
    if (f.frame.error) this.onErrorFrame(f.frame);
    if (f.frame.error || matchesAny(f.frame, this.filters)) this.dispatch(f.frame);
  }

  /** A controller error frame saying frames were dropped is a loss every reader hears of. */
  private onErrorFrame(frame: CanFrame): void {
    if (!(frame.id & CAN_ERR_CRTL)) return;
    const status = frame.data[1] ?? 0;
    if (status & CAN_ERR_CRTL_TX_OVERFLOW) {
      log.warn({ iface: this.channel }, "adapter dropped frames to send");
      this.reportLoss(new GsUsbTxOverflowError(this.channel));
    } else if (status & CAN_ERR_CRTL_RX_OVERFLOW) {
      log.warn({ iface: this.channel }, "controller lost received frames");
      this.reportLoss(new GsUsbRxOverflowError(this.channel));
    }
  }

  private failWith(error: Error): void {
    if (this.failed) return;
    if (this.closed) {
      this.clearInFlight(); // closing: nothing in flight will be echoed now
      return;
    }
    log.warn({ iface: this.channel, err: error.message }, "gs_usb adapter failed");
    this.busState = "stopped";
    this.fail(error);
    for (const e of this.queue.splice(0)) settle(e, error);
    // Frames in flight: their sends resolved; the failure reaches every reader and later send.
    this.clearInFlight();
  }
}

const isTimeout = (e: unknown): boolean =>
  e instanceof UsbTransferError && e.code === "USB_TIMEOUT";

function settle(e: Outgoing, error?: Error): void {
  e.cancelTimer?.();
  e.unsubscribeAbort?.();
  if (error) e.reject(error);
  else e.resolve();
}

export { GsState };
