// A simulated board on a serial link — UART or USB CDC — running Katapult or
// Klipper, switching like the firmware: on UART, Klipper watches its input
// for the bootloader request string and reboots into Katapult on the same
// wire; on USB, a 1200-baud "touch" makes Klipper reset into Katapult, and
// the board re-enumerates as another USB device with a new tty (the
// `reenumerate` hook provides the new link). COMPLETE starts the application.

import { parseUuid, type Uuid } from "../klippy-bridge/uuid.js";
import type { Clock } from "../util/clock.js";
import { makeKatapultFirmware, type SimKatapultOptions } from "./device.js";
import type { SimEvent, SimEventListener } from "./events.js";
import {
  SimFlash,
  STM32G0_TIMING,
  uniformLayout,
  type FlashLayout,
  type FlashTiming,
} from "./flash.js";
import {
  DEFAULT_KATAPULT_UART,
  DEFAULT_KATAPULT_USB,
  KatapultSerialNode,
  type SerialLink,
} from "./katapult-serial.js";

/** The 32 bytes Klipper's UART code recognises (host sends them after a leading 0x7e). */
export const SERIAL_REQUEST = Uint8Array.from([
  0x20,
  0x1c,
  0x20,
  ...new TextEncoder().encode("Request Serial Bootloader!!"),
  0x20,
  0x7e,
]);

/** A serial link whose line speed the device can watch (a USB CDC line coding; a pty's speed). */
export interface WatchedLink extends SerialLink {
  onBaud?(cb: (baud: number) => void): void;
}

export interface SimSerialDeviceOptions {
  /** The chip id's UUID (also the USB serial's CAN UUID, if it had one). */
  uuid: string;
  mcu?: string;
  kind: "uart" | "usb";
  flash?: {
    base?: number;
    size?: number;
    layout?: FlashLayout;
    timing?: FlashTiming;
    initial?: Uint8Array;
  };
  /** Use this chip's flash (the same board, seen from another link). */
  sharedFlash?: SimFlash;
  katapult?: SimKatapultOptions;
  /** Bootloader request → reboot, ms. */
  bootloaderDelayMs?: number;
  /** USB: model STM32 USBFS holding its first reply until a second is queued. */
  usbHoldsFirstPacket?: boolean;
  boot: "katapult" | "klipper";
  clock: Clock;
  /** USB: the board re-enumerates as `into`; returns its new link. */
  reenumerate?: (into: "katapult" | "klipper") => Promise<WatchedLink>;
  onEvent?: SimEventListener;
}

export class SimSerialDevice {
  readonly uuid: Uuid;
  readonly flash: SimFlash;
  readonly appStart: number;
  readonly events: SimEvent[] = [];
  mode: "katapult" | "klipper" | "off" = "off";
  private node: KatapultSerialNode | undefined;
  private lastWrittenEnd = 0;
  private generation = 0;
  private klipperInput: number[] = [];

  constructor(
    private link: WatchedLink,
    private readonly options: SimSerialDeviceOptions,
  ) {
    this.uuid = parseUuid(options.uuid);
    const f = options.flash ?? {};
    const base = f.base ?? 0x08000000;
    this.flash =
      options.sharedFlash ??
      new SimFlash(
        f.layout ?? uniformLayout(base, f.size ?? 128 * 1024, 2048),
        f.timing ?? STM32G0_TIMING,
        f.initial,
      );
    this.appStart = options.katapult?.appStart ?? base + 8192;
    link.onData((b) => this.onData(b));
    link.onBaud?.((b) => this.onBaud(b));
  }

  start(): void {
    this.enter(this.options.boot, "power on");
  }

  /** Application bytes written by the last Katapult session. */
  writtenApplication(): Uint8Array {
    const end = Math.max(this.lastWrittenEnd, this.node?.writtenEnd ?? 0);
    return end > this.appStart
      ? this.flash.read(this.appStart, end - this.appStart)
      : new Uint8Array(0);
  }

  stop(): void {
    this.node?.stop();
    this.mode = "off";
  }

  private emit = (e: SimEvent): void => {
    this.events.push(e);
    this.options.onEvent?.(e);
  };

  private enter(mode: "katapult" | "klipper", reason: string): void {
    if (this.node) this.lastWrittenEnd = Math.max(this.lastWrittenEnd, this.node.writtenEnd);
    this.node?.stop();
    this.node = undefined;
    this.generation++;
    this.mode = mode;
    this.klipperInput = [];
    this.emit({ type: "boot", uuid: this.uuid, into: mode, reason });
    if (mode === "katapult") {
      const firmware = makeKatapultFirmware(this.flash, {
        ...this.options.katapult,
        mcu: this.options.mcu ?? "stm32g0b1xx",
        appStart: this.appStart,
        canUuid: undefined,
        rxBufferSize:
          this.options.katapult?.rxBufferSize ?? (this.options.kind === "usb" ? 128 : 192),
      });
      const defaults =
        this.options.kind === "usb"
          ? {
              ...DEFAULT_KATAPULT_USB,
              usbHoldsFirstPacket: this.options.usbHoldsFirstPacket ?? false,
            }
          : DEFAULT_KATAPULT_UART;
      this.lastWrittenEnd = 0;
      const gen = this.generation;
      this.node = new KatapultSerialNode(
        { write: (b) => this.link.write(b), onData: () => undefined },
        this.uuid,
        firmware,
        this.options.clock,
        defaults,
        this.emit,
        () => {
          if (gen === this.generation) void this.switchTo("klipper", "COMPLETE");
        },
      );
    }
  }

  /** Reboot into `mode`; on USB the board re-enumerates with a new link. */
  private async switchTo(mode: "katapult" | "klipper", reason: string): Promise<void> {
    if (this.options.kind === "usb" && this.options.reenumerate) {
      this.stop();
      this.link = await this.options.reenumerate(mode);
      this.link.onData((b) => this.onData(b));
      this.link.onBaud?.((b) => this.onBaud(b));
    }
    this.enter(mode, reason);
  }

  private onData(bytes: Uint8Array): void {
    if (this.mode === "katapult") this.node?.receive(bytes);
    else if (this.mode === "klipper" && this.options.kind === "uart") this.watchForRequest(bytes);
  }

  private watchForRequest(bytes: Uint8Array): void {
    for (const b of bytes) this.klipperInput.push(b);
    if (this.klipperInput.length > 256) this.klipperInput.splice(0, this.klipperInput.length - 256);
    const hay = this.klipperInput;
    for (let i = 0; i + SERIAL_REQUEST.length <= hay.length; i++) {
      if (SERIAL_REQUEST.every((v, j) => hay[i + j] === v)) {
        this.klipperInput = [];
        this.emit({ type: "serial-request", uuid: this.uuid });
        this.later(() => void this.switchTo("katapult", "serial bootloader request"));
        return;
      }
    }
  }

  private onBaud(baud: number): void {
    if (this.mode !== "klipper" || this.options.kind !== "usb" || baud !== 1200) return;
    this.emit({ type: "request-bootloader", uuid: this.uuid });
    this.later(() => void this.switchTo("katapult", "1200-baud touch"));
  }

  private later(fn: () => void): void {
    const gen = this.generation;
    this.options.clock.schedule(this.options.bootloaderDelayMs ?? 50, () => {
      if (gen === this.generation) fn();
    });
  }
}
