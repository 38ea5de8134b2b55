// A simulated CAN toolhead board: one chip (UUID, MCU, flash) that runs
// either its Katapult bootloader or its Klipper application, and moves
// between them like the real thing: COMPLETE starts the application, a
// bootloader request returns to Katapult, a power cycle starts the
// application when its vector table looks valid (else Katapult).

import type { CanBus } from "../can/bus.js";
import { PROTO_1_1_0 } from "../bootloaders/katapult/codec.js";
import { parseUuid, uuidBytes, type Uuid } from "../klippy-bridge/uuid.js";
import type { SimEvent, SimEventListener } from "./events.js";
import {
  lpc176xDriver,
  RP2040_TIMING,
  rp2040Driver,
  SimFlash,
  STM32G0_TIMING,
  stm32Driver,
  uniformLayout,
  type FlashLayout,
  type FlashTiming,
} from "./flash.js";
import {
  DEFAULT_KATAPULT_CAN,
  KatapultCanNode,
  rxFifoOverrunOf,
  type KatapultCanOptions,
} from "./katapult-can.js";
import { DEFAULT_FIRMWARE, KatapultFirmware } from "./katapult-firmware.js";
import { KlipperCanApp, type KlipperAppOptions } from "./klipper-can.js";
import { KlipperMcuProtocol } from "./klipper-protocol.js";
import { klipperDictionaryZlib } from "./klipper-image.js";
import { findImageDictionary } from "../klippy-bridge/dictionary.js";

export interface SimKatapultOptions extends Partial<KatapultCanOptions> {
  appStart?: number;
  blockSize?: number;
  protocolVersion?: number;
  softwareVersion?: string;
  /** Katapult's flash rules; default from the MCU name (rp2*, lpc17*, else stm32). */
  family?: KatapultFamily;
  rxBufferSize?: number;
}

export interface SimCanDeviceOptions {
  uuid: string;
  mcu?: string;
  /** Klipper version its application reports when the flash holds no Klipper image. */
  klipperVersion?: string;
  flash?: {
    base?: number;
    size?: number;
    layout?: FlashLayout;
    timing?: FlashTiming;
    initial?: Uint8Array;
  };
  /** The installed bootloader; false = none (a bootloader request then leaves the node in ROM). */
  katapult?: SimKatapultOptions | false;
  klipper?: Partial<KlipperAppOptions>;
  /** What runs after the first power-on. Default: the application if it looks valid, else Katapult. */
  boot?: "katapult" | "klipper";
  /**
   * A USB-to-CAN bridge board: asked for its bootloader it leaves the CAN bus
   * (its Katapult talks USB serial). The hook takes over; the CAN side goes off.
   */
  onBootloaderRequest?: () => void;
  onEvent?: SimEventListener;
}

export type DeviceMode = "katapult" | "klipper" | "rom" | "off";

export type KatapultFamily = "stm32" | "lpc176x" | "rp2040";

/** The Katapult flash family of an MCU name. */
export function katapultFamilyOf(mcu: string): KatapultFamily {
  if (/^rp2/.test(mcu)) return "rp2040";
  if (/^lpc17/.test(mcu)) return "lpc176x";
  return "stm32";
}

/** Katapult's firmware model for a chip: its flash driver and CONNECT facts. */
export function makeKatapultFirmware(
  flash: SimFlash,
  o: SimKatapultOptions & { mcu: string; appStart: number; canUuid: Uuid | undefined },
): KatapultFirmware {
  const blockSize = o.blockSize ?? DEFAULT_FIRMWARE.blockSize;
  const family = o.family ?? katapultFamilyOf(o.mcu);
  const driver =
    family === "lpc176x"
      ? lpc176xDriver(flash, blockSize)
      : family === "rp2040"
        ? rp2040Driver(flash, blockSize)
        : stm32Driver(flash, blockSize);
  return new KatapultFirmware(
    {
      mcu: o.mcu,
      appStart: o.appStart,
      blockSize,
      protocolVersion: o.protocolVersion ?? PROTO_1_1_0,
      softwareVersion: o.softwareVersion ?? DEFAULT_FIRMWARE.softwareVersion,
      canUuid: o.canUuid,
      rxBufferSize: o.rxBufferSize ?? DEFAULT_FIRMWARE.rxBufferSize,
    },
    flash,
    driver,
  );
}

export class SimCanDevice {
  readonly uuid: Uuid;
  readonly mcu: string;
  readonly flash: SimFlash;
  readonly appStart: number;
  private mode: DeviceMode = "off";
  private katapultNode: KatapultCanNode | undefined;
  private klipperApp: KlipperCanApp | undefined;
  private readonly listeners: SimEventListener[] = [];
  /** Application bytes written by the last Katapult session (app start .. last written block). */
  private lastWrittenEnd = 0;
  readonly events: SimEvent[] = [];

  constructor(
    private readonly bus: CanBus,
    private readonly options: SimCanDeviceOptions,
  ) {
    this.uuid = parseUuid(options.uuid);
    this.mcu = options.mcu ?? "stm32g0b1xx";
    const f = options.flash ?? {};
    const base = f.base ?? 0x08000000;
    const size = f.size ?? 128 * 1024;
    const rp2 = ((options.katapult || {}).family ?? katapultFamilyOf(this.mcu)) === "rp2040";
    this.flash = new SimFlash(
      f.layout ?? uniformLayout(base, size, rp2 ? 4096 : 2048),
      f.timing ?? (rp2 ? RP2040_TIMING : STM32G0_TIMING),
      f.initial,
    );
    this.appStart = options.katapult === false ? base : (options.katapult?.appStart ?? base + 8192);
    if (options.onEvent) this.listeners.push(options.onEvent);
  }

  get state(): { mode: DeviceMode; nodeId: number | undefined; wedged: boolean } {
    return {
      mode: this.mode,
      nodeId: this.katapultNode?.nodeId ?? this.klipperApp?.assignedNodeId,
      wedged: this.katapultNode?.isWedged ?? false,
    };
  }

  onEvent(listener: SimEventListener): void {
    this.listeners.push(listener);
  }

  /** Powers the board on (first boot). */
  start(): void {
    const into =
      this.options.boot ??
      (this.appLooksValid() || this.options.katapult === false ? "klipper" : "katapult");
    this.enter(into, "power on");
  }

  /** Power cycle: the application if its vector table looks valid, else the bootloader. */
  powerCycle(): void {
    this.enter(
      this.appLooksValid() || this.options.katapult === false ? "klipper" : "katapult",
      "power cycle",
    );
  }

  /** Double-tap reset: stay in Katapult. */
  doubleReset(): void {
    this.enter(this.options.katapult === false ? "rom" : "katapult", "double reset");
  }

  /** The application region written by the last Katapult session, from app start. */
  writtenApplication(): Uint8Array {
    const end = Math.max(this.lastWrittenEnd, this.katapultNode?.writtenEnd ?? 0);
    if (end <= this.appStart) return new Uint8Array(0);
    return this.flash.read(this.appStart, end - this.appStart);
  }

  /** The whole flash, from its base (what a state file keeps). */
  flashContents(): Uint8Array {
    return this.flash.mem.slice();
  }

  /** Katapult wrote to this board since it was created. */
  get written(): boolean {
    return Math.max(this.lastWrittenEnd, this.katapultNode?.writtenEnd ?? 0) > this.appStart;
  }

  /** The whole application region (app start to end of flash). */
  applicationRegion(): Uint8Array {
    const end = this.flash.layout.base + this.flash.layout.size;
    return this.flash.read(this.appStart, end - this.appStart);
  }

  async close(): Promise<void> {
    this.stopPersonality();
    this.mode = "off";
    await this.bus.close();
  }

  private appLooksValid(): boolean {
    const sp = this.flash.read(this.appStart, 4);
    const word = (sp[0]! | (sp[1]! << 8) | (sp[2]! << 16) | (sp[3]! << 24)) >>> 0;
    return word !== 0 && word !== 0xffffffff;
  }

  private emit = (e: SimEvent): void => {
    this.events.push(e);
    for (const l of this.listeners) l(e);
  };

  private stopPersonality(): void {
    if (this.katapultNode)
      this.lastWrittenEnd = Math.max(this.lastWrittenEnd, this.katapultNode.writtenEnd);
    this.katapultNode?.stop();
    this.klipperApp?.stop();
    this.katapultNode = undefined;
    this.klipperApp = undefined;
  }

  private enter(mode: "katapult" | "klipper" | "rom", reason: string): void {
    this.stopPersonality();
    this.mode = mode;
    this.emit({ type: "boot", uuid: this.uuid, into: mode, reason });
    if (mode === "katapult") this.startKatapult();
    else if (mode === "klipper") this.startKlipper();
  }

  private startKatapult(): void {
    const k = this.options.katapult || {};
    const firmware = makeKatapultFirmware(this.flash, {
      ...k,
      mcu: this.mcu,
      appStart: this.appStart,
      canUuid: this.uuid,
    });
    this.lastWrittenEnd = 0;
    this.katapultNode = new KatapultCanNode(
      this.bus,
      this.uuid,
      firmware,
      { ...DEFAULT_KATAPULT_CAN, rxFifoOverrun: rxFifoOverrunOf(this.mcu), ...k },
      this.emit,
      () => this.enter("klipper", "COMPLETE"),
    );
    this.katapultNode.start();
  }

  private startKlipper(): void {
    const opts: KlipperAppOptions = { bootloaderDelayMs: 50, ...this.options.klipper };
    // Only the first boot starts with a node id held by a running Klipper host.
    if (this.events.filter((e) => e.type === "boot").length > 1) delete opts.heldByNodeId;
    this.klipperApp = new KlipperCanApp(this.bus, this.uuid, opts, this.emit, () => {
      if (this.options.onBootloaderRequest) {
        this.stopPersonality();
        this.mode = "off";
        this.emit({
          type: "boot",
          uuid: this.uuid,
          into: "off",
          reason: "bootloader request: left the CAN bus",
        });
        this.options.onBootloaderRequest();
      } else this.enter(this.options.katapult === false ? "rom" : "katapult", "bootloader request");
    });
    const protocol = new KlipperMcuProtocol(
      this.klipperDictionary(),
      (b) => void this.klipperApp?.sendStream(b),
      {
        canbusUuid: () => uuidBytes(this.uuid),
        canbusNodeId: () => this.klipperApp?.assignedNodeId,
      },
      // A node a Klippy host held has seen its blocks: it expects some later sequence number.
      opts.heldByNodeId !== undefined ? 11 : 0,
    );
    this.klipperApp.onStreamData = (b) => protocol.receive(b);
    this.klipperApp.start();
  }

  /** The compressed data dictionary of the application in flash, or a default one for this chip. */
  klipperDictionary(): Uint8Array {
    const app = this.applicationRegion();
    const found = findImageDictionary(app);
    if (found) return app.slice(found.offset, found.offset + found.length);
    return klipperDictionaryZlib({
      mcu: this.mcu,
      transport: "can",
      ...(this.options.klipperVersion ? { version: this.options.klipperVersion } : {}),
    });
  }
}
