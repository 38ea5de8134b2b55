// A gs_usb adapter model on the USB seam: candleLight firmware, and
// Klipper's USB-to-CAN bridge. Its far side is a virtual CAN channel (the
// printer's bus with simulated Katapult/Klipper nodes).
//
// Like the firmware: a vendor interface with bulk IN 0x81 and OUT 0x02;
// HOST_FORMAT, DEVICE_CONFIG, BT_CONST, BITTIMING, MODE and (candleLight)
// GET_STATE; everything else STALLs. A small transmit queue: a frame from
// the host waits there until it left on the wire, and only then is its
// echo queued to the host; while the queue is full the bulk OUT is not
// taken (NAK) until room frees or the host's timeout passes (a TIMEOUT,
// never a silent drop). Several bulk OUTs may be in flight at once: each
// crosses the USB in its own latency (they overlap) and the endpoint takes
// them in the order they were submitted; the model counts the frames the
// host has submitted and not yet had echoed (outstanding, maxOutstanding). Frames for the host wait in a bounded queue; when
// it is full a received frame is dropped and the next one delivered carries
// the OVERFLOW flag.
//
// The Klipper bridge variant: BITTIMING and MODE are accepted and ignored
// (the wire runs at the build's rate), BT_CONST holds placeholders, GET_STATE
// STALLs; the bridge MCU is itself a Klipper node: admin frames (0x3f0) go
// to it and to the wire, frames for its node ids only to it, and its
// answers only to the host.

import type { VirtualCanBus, VirtualCanChannel } from "../../can/virtual.js";
import { VirtualCanChannel as Channel } from "../../can/virtual.js";
import type { CanFrame } from "../../can/frame.js";
import { delay, realClock, type Clock } from "../../util/clock.js";
import type { SetupPacket } from "../../usb/device.js";
import { UsbStatus } from "../../usb/errors.js";
import type { UsbReply } from "../../usb/wire.js";
import {
  bitrateOf,
  decodeBitTiming,
  decodeMode,
  encodeBtConst,
  encodeDeviceConfig,
  encodeHostFrame,
  encodeState,
  GS_BITTIMING_SIZE,
  GS_FRAME_FLAG_OVERFLOW,
  GS_FRAME_SIZE,
  GS_HOST_FORMAT_MAGIC,
  GS_MODE_SIZE,
  GS_MODE_START,
  GS_REQUEST_IN,
  GS_REQUEST_OUT,
  GS_RX_ECHO_ID,
  GsRequest,
  GsState,
  decodeHostFrame,
  type GsBtConst,
} from "../../gs-usb/codec.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../device.js";
import { buildDescriptors } from "./descriptors.js";
import { ok, STALL, UsbModelBase } from "./model-base.js";

export const GS_EP_IN = 0x81;
export const GS_EP_OUT = 0x02;
const ADMIN_ID = 0x3f0;

/** candleLight on an STM32F072: 48 MHz CAN clock, bxCAN limits. */
export const CANDLELIGHT_BT_CONST: GsBtConst = {
  feature: 0,
  fclkCan: 48_000_000,
  tseg1Min: 1,
  tseg1Max: 16,
  tseg2Min: 1,
  tseg2Max: 8,
  sjwMax: 4,
  brpMin: 1,
  brpMax: 1024,
  brpInc: 1,
};

/** Placeholders Klipper's bridge reports (it never applies a timing). */
export const KLIPPER_BRIDGE_BT_CONST: GsBtConst = { ...CANDLELIGHT_BT_CONST };

export interface SimGsUsbOptions {
  variant?: "candlelight" | "klipper-bridge";
  /** The model's name (in-process device id). */
  name?: string;
  portPath?: string;
  serialNumber?: string;
  /** Frames waiting for the wire the adapter holds (default 8). */
  txQueue?: number;
  /** Frames waiting for the host (default 64). */
  hostQueue?: number;
  /** Delay of each bulk transfer's completion, ms (the USB's share of the latency). */
  usbLatencyMs?: number;
  clock?: Clock;
  /** Klipper bridge: its own node (a Klipper application on the bridge MCU). */
  bridgeNode?: SimCanDeviceOptions;
}

interface HostItem {
  echoId: number;
  frame: CanFrame;
}

export class SimGsUsbAdapter extends UsbModelBase {
  readonly variant: "candlelight" | "klipper-bridge";
  /** The bitrate the host's BITTIMING asked for (candleLight); undefined until set. */
  configuredBitrate: number | undefined;
  started = false;
  hostFormatOk = false;
  /** Frames from the wire dropped because the host queue was full. */
  droppedToHost = 0;
  /** Frames that left on the wire, from the host. */
  sentToWire = 0;
  /**
   * Fault: the echoes of this many frames leaving the wire from now on never
   * reach the host (a lost IN transfer, a firmware bug); the frames are sent.
   */
  withholdEchoes = 0;
  readonly bridgeNode: SimCanDevice | undefined;
  private readonly clock: Clock;
  private readonly wire: VirtualCanBus;
  private readonly local: VirtualCanBus | undefined;
  private readonly txQueue: number;
  private readonly hostQueueLimit: number;
  private readonly latencyMs: number;
  private readonly toHost: HostItem[] = [];
  private overflowPending = false;
  /** Echo ids of frames handed to the wire endpoint, in order. */
  private readonly onWire: number[] = [];
  private inWait: Array<() => void> = [];
  private outWait: Array<() => void> = [];
  private readonly btConst: GsBtConst;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(channel: VirtualCanChannel, options: SimGsUsbOptions = {}) {
    const variant = options.variant ?? "candlelight";
    const klipper = variant === "klipper-bridge";
    super(
      options.name ?? (klipper ? "klipper-bridge" : "candlelight"),
      options.portPath ?? "1-1.3",
      buildDescriptors(
        {
          vendorId: 0x1d50,
          productId: 0x606f,
          manufacturer: klipper ? "Klipper" : "bytewerk",
          product: klipper
            ? (options.bridgeNode?.mcu ?? "stm32f072xb")
            : "candleLight USB to CAN adapter",
          serialNumber: options.serialNumber ?? (klipper ? "2A0043000F51" : "0042004B5734500B"),
        },
        [
          {
            iface: 0,
            alt: 0,
            class: 0xff,
            subClass: 0xff,
            protocol: 0xff,
            endpoints: [
              { address: GS_EP_IN, attributes: 2, maxPacketSize: 64 },
              { address: GS_EP_OUT, attributes: 2, maxPacketSize: 64 },
            ],
          },
        ],
      ),
    );
    this.variant = variant;
    this.clock = options.clock ?? realClock;
    this.txQueue = options.txQueue ?? 8;
    this.hostQueueLimit = options.hostQueue ?? 64;
    this.latencyMs = options.usbLatencyMs ?? 0;
    this.btConst = klipper ? KLIPPER_BRIDGE_BT_CONST : CANDLELIGHT_BT_CONST;
    // The controller's transmit queue is the endpoint's: send() is called only while there is room.
    this.wire = channel.open({ label: this.name, txQueueLength: this.txQueue + 1 });
    this.unsubscribe.push(
      this.wire.onTransmitted(() => {
        const echoId = this.onWire.shift();
        if (echoId === undefined) return;
        this.sentToWire++;
        const frame = this.lastSent.shift()!;
        if (this.withholdEchoes > 0) {
          this.withholdEchoes--;
          this.unechoed.delete(echoId);
        } else this.queueToHost({ echoId, frame }, true);
        for (const w of this.outWait.splice(0)) w();
      }),
    );
    void this.receiveFrom(this.wire, true);
    if (klipper && options.bridgeNode) {
      const inner = Channel.anonymous({ label: `${this.name}-mcu` });
      this.local = inner.open({ label: "bridge" });
      this.bridgeNode = new SimCanDevice(inner.open({ label: options.bridgeNode.uuid }), {
        boot: "klipper",
        ...options.bridgeNode,
      });
      this.bridgeNode.start();
      void this.receiveFrom(this.local, false);
    }
  }

  private readonly lastSent: CanFrame[] = [];

  /** The controller reports an error (an error frame to the host, as the firmware sends bus-off or passive). */
  reportError(frame: CanFrame): void {
    this.queueToHost({ echoId: GS_RX_ECHO_ID, frame }, false);
  }

  /** Stops the model's endpoints (test cleanup). */
  async close(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    this.unplug();
    await Promise.all([this.wire.close(), this.local?.close(), this.bridgeNode?.close()]);
  }

  override unplug(): void {
    super.unplug();
    this.started = false;
    for (const w of [...this.inWait.splice(0), ...this.outWait.splice(0)]) w();
  }

  private async receiveFrom(bus: VirtualCanBus, fromWire: boolean): Promise<void> {
    for await (const frame of bus) {
      if (fromWire && this.isBridgeOwn(frame)) continue; // wire frames using the bridge's ids are dropped
      if (this.variant === "candlelight" && !this.started) continue;
      this.queueToHost({ echoId: GS_RX_ECHO_ID, frame }, false);
    }
  }

  /** The bridge node's assigned ids (Klipper: RX 0x100+2n, TX 0x101+2n). */
  private isBridgeOwn(frame: CanFrame): boolean {
    const n = this.bridgeNode?.state.nodeId;
    if (n === undefined || frame.extended) return false;
    return frame.id === 0x100 + 2 * n || frame.id === 0x101 + 2 * n;
  }

  private queueToHost(item: HostItem, echo: boolean): void {
    if (this.generation === undefined) return;
    if (!echo && this.toHost.length >= this.hostQueueLimit) {
      this.droppedToHost++;
      this.overflowPending = true;
      return;
    }
    this.toHost.push(item);
    this.inWait.shift()?.();
  }

  protected override async classOrVendor(
    s: SetupPacket,
    data: Uint8Array | undefined,
  ): Promise<UsbReply> {
    const klipper = this.variant === "klipper-bridge";
    if (s.bmRequestType === GS_REQUEST_OUT) {
      const d = data ?? new Uint8Array(0);
      switch (s.bRequest) {
        case GsRequest.HOST_FORMAT:
          if (d.length < 4) return STALL;
          this.hostFormatOk =
            new DataView(d.buffer, d.byteOffset, 4).getUint32(0, true) === GS_HOST_FORMAT_MAGIC;
          return ok();
        case GsRequest.BITTIMING:
          if (d.length < GS_BITTIMING_SIZE || s.wValue !== 0) return STALL;
          if (!klipper)
            this.configuredBitrate = bitrateOf(decodeBitTiming(d), this.btConst.fclkCan);
          return ok();
        case GsRequest.MODE: {
          if (d.length < GS_MODE_SIZE || s.wValue !== 0) return STALL;
          if (klipper) return ok(); // always running
          this.started = decodeMode(d).mode === GS_MODE_START;
          if (!this.started) this.toHost.length = 0;
          return ok();
        }
        default:
          return STALL;
      }
    }
    if (s.bmRequestType === GS_REQUEST_IN) {
      switch (s.bRequest) {
        case GsRequest.DEVICE_CONFIG:
          return ok(
            encodeDeviceConfig({ channels: 1, swVersion: 2, hwVersion: 1 }).subarray(0, s.wLength),
          );
        case GsRequest.BT_CONST:
          return s.wValue === 0 ? ok(encodeBtConst(this.btConst).subarray(0, s.wLength)) : STALL;
        case GsRequest.GET_STATE: {
          if (klipper || s.wValue !== 0) return STALL;
          const st = this.wire.state;
          const state =
            st === "bus-off"
              ? GsState.BUS_OFF
              : st === "error-passive"
                ? GsState.ERROR_PASSIVE
                : st === "error-warning"
                  ? GsState.ERROR_WARNING
                  : this.started
                    ? GsState.ERROR_ACTIVE
                    : GsState.STOPPED;
          return ok(encodeState({ state, rxErrors: 0, txErrors: 0 }).subarray(0, s.wLength));
        }
        default:
          return STALL;
      }
    }
    return STALL;
  }

  protected override async transfer(
    endpoint: number,
    data: Uint8Array | undefined,
    length: number,
    timeoutMs: number,
  ): Promise<UsbReply> {
    if (!this.claimed.has(0)) return STALL;
    if (endpoint === GS_EP_IN) {
      // IN transfers on one endpoint complete in the order they were submitted (as a host
      // controller runs them): each takes a frame only after the one before it is done, its
      // timeout running from submission. Latency after the frame was there: transfers waiting
      // at once overlap theirs.
      const submitted = this.clock.now();
      const taken = this.inChain.then(() =>
        this.bulkIn(length, timeoutMs > 0 ? remaining(timeoutMs, this.clock.now() - submitted) : 0),
      );
      this.inChain = taken.then(
        () => undefined,
        () => undefined,
      );
      const reply = await taken;
      if (this.latencyMs > 0 && reply.status > 0) await delay(this.clock, this.latencyMs);
      return reply;
    }
    if (endpoint === (GS_EP_OUT & 0x7f)) {
      const bytes = data ?? new Uint8Array(0);
      const echoId = bytes.length >= GS_FRAME_SIZE ? decodeHostFrame(bytes).echoId : undefined;
      if (echoId !== undefined) this.countOutstanding(echoId, +1);
      // Several OUT transfers cross the USB at once: each one's latency starts when it was
      // submitted (they overlap), and the endpoint takes them in the order they were
      // submitted — its place in the chain is taken now, not after the latency.
      const crossed = this.latencyMs > 0 ? delay(this.clock, this.latencyMs) : undefined;
      const submitted = this.clock.now();
      const turn = this.outChain.then(async () => {
        await crossed;
        // The host's timeout runs from submission, also while earlier packets were taken.
        const left = timeoutMs > 0 ? remaining(timeoutMs, this.clock.now() - submitted) : 0;
        return this.bulkOut(bytes, left);
      });
      this.outChain = turn.then(
        () => undefined,
        () => undefined,
      );
      return turn;
    }
    return STALL;
  }

  private outChain: Promise<void> = Promise.resolve();
  private inChain: Promise<void> = Promise.resolve();

  /** Frames the host submitted whose echo it has not been handed yet (or that will never echo). */
  get outstanding(): number {
    return this.unechoed.size;
  }

  /** The most frames ever outstanding at once: the host's transmit window as the adapter sees it. */
  maxOutstanding = 0;
  /** Host frames (by echo id) submitted on the OUT endpoint and not yet echoed to the host. */
  private readonly unechoed = new Set<number>();

  private countOutstanding(echoId: number, delta: 1 | -1): void {
    if (delta > 0) {
      this.unechoed.add(echoId);
      this.maxOutstanding = Math.max(this.maxOutstanding, this.unechoed.size);
    } else this.unechoed.delete(echoId);
  }

  private async bulkIn(length: number, timeoutMs: number): Promise<UsbReply> {
    if (
      !this.toHost.length &&
      !(await this.waitFor(this.inWait, () => this.toHost.length > 0, timeoutMs))
    )
      return { status: this.generation === undefined ? UsbStatus.NO_DEVICE : UsbStatus.TIMEOUT };
    const item = this.toHost.shift()!;
    if (item.echoId !== GS_RX_ECHO_ID) this.unechoed.delete(item.echoId);
    let flags = 0;
    if (this.overflowPending && item.echoId === GS_RX_ECHO_ID) {
      flags = GS_FRAME_FLAG_OVERFLOW;
      this.overflowPending = false;
    }
    const bytes = encodeHostFrame({ echoId: item.echoId, frame: item.frame, channel: 0, flags });
    if (length < bytes.length) return { status: UsbStatus.OVERFLOW };
    return ok(bytes);
  }

  private async bulkOut(data: Uint8Array, timeoutMs: number): Promise<UsbReply> {
    if (data.length < GS_FRAME_SIZE) return { status: UsbStatus.IO };
    const hf = decodeHostFrame(data);
    const klipper = this.variant === "klipper-bridge";
    if (!klipper && !this.started) {
      this.countOutstanding(hf.echoId, -1); // taken, never sent (channel off): no echo comes
      return ok(new Uint8Array(data.length));
    }
    const toLocal =
      this.local !== undefined &&
      (hf.frame.id === ADMIN_ID || this.isBridgeOwn(hf.frame)) &&
      !hf.frame.extended;
    const toWire = !toLocal || hf.frame.id === ADMIN_ID;
    if (toLocal) void this.local.send(hf.frame);
    if (!toWire) {
      this.queueToHost({ echoId: hf.echoId, frame: hf.frame }, true);
      return { status: data.length };
    }
    // NAK while the transmit queue is full: the host's timeout decides.
    if (
      this.onWire.length >= this.txQueue &&
      !(await this.waitFor(this.outWait, () => this.onWire.length < this.txQueue, timeoutMs))
    ) {
      this.countOutstanding(hf.echoId, -1); // not taken: the host gave up on it, no echo comes
      return { status: this.generation === undefined ? UsbStatus.NO_DEVICE : UsbStatus.TIMEOUT };
    }
    this.onWire.push(hf.echoId);
    this.lastSent.push(hf.frame);
    void this.wire.send(hf.frame).catch(() => undefined);
    return { status: data.length };
  }

  /** Waits until `ready()` or `timeoutMs` (0 = no limit) or an unplug; true when ready. */
  private async waitFor(
    list: Array<() => void>,
    ready: () => boolean,
    timeoutMs: number,
  ): Promise<boolean> {
    const generation = this.generation;
    const deadline = timeoutMs > 0 ? this.clock.now() + timeoutMs : Infinity;
    while (!ready()) {
      if (this.generation !== generation || this.generation === undefined) return false;
      const left = deadline - this.clock.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const cancel = Number.isFinite(left)
          ? this.clock.schedule(left, () => done())
          : () => undefined;
        const done = () => {
          cancel();
          const i = list.indexOf(done);
          if (i >= 0) list.splice(i, 1);
          resolve();
        };
        list.push(done);
      });
    }
    return true;
  }
}

/** What is left of a transfer's timeout after `elapsed` ms (never 0, which means "no limit"). */
const remaining = (timeoutMs: number, elapsed: number): number =>
  Math.max(1e-3, timeoutMs - elapsed);
