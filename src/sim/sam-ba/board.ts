// Simulated boards with a SAM-BA monitor, on a serial link (a pty in the
// tests, USB CDC or a UART in the firmware's eyes): an Arduino Due (SAM3X8E
// ROM; its native USB port, or the programming port where the 16U2 bridges
// the ROM's UART and turns a 1200-baud touch into ERASE + reset), a Duet
// (SAM4E8E ROM), an Arduino Zero (SAMD21G18A, Arduino bootloader at 0) and a
// SAMD51 board with the UF2 bootloader. After a reset the chip boots what
// the firmware would: the ROM unless GPNVM1 is set (SAM3/SAM4); on SAMD the
// application unless the bootloader's magic word is in RAM or the
// application's first word is erased. Klipper as the application reboots
// into the bootloader on a 1200-baud touch (sam-ba.md §1). Over USB the
// board leaves the link and comes back on the one `reenumerate` gives.

import type { Clock } from "../../util/clock.js";
import { randomBytes } from "../../util/random.js";
import { flashOf, makeChip, preload, type ChipKind, type SimChip } from "./chip.js";
import { SamBaMonitor, type DeviceLink, type MonitorEvent } from "./monitor.js";
import { arduinoZero, sam3xRom, sam4Rom, uf2Samd51, type Personality } from "./personalities.js";

export type SamBaBoardKind = "due" | "due-programming-port" | "duet-sam4e" | "zero" | "uf2-samd51";

/** Where each board's application starts, and its bootloader's size (SAMD). */
export const BOARD_FACTS: Readonly<
  Record<
    SamBaBoardKind,
    { chip: ChipKind; appStart: number; bootloaderBytes: number; iface: "usb" | "uart" }
  >
> = {
  due: { chip: "sam3x8e", appStart: 0x80000, bootloaderBytes: 0, iface: "usb" },
  "due-programming-port": { chip: "sam3x8e", appStart: 0x80000, bootloaderBytes: 0, iface: "uart" },
  "duet-sam4e": { chip: "sam4e8e", appStart: 0x400000, bootloaderBytes: 0, iface: "usb" },
  zero: { chip: "samd21g18a", appStart: 0x2000, bootloaderBytes: 0x2000, iface: "usb" },
  "uf2-samd51": { chip: "samd51j19a", appStart: 0x4000, bootloaderBytes: 0x4000, iface: "usb" },
};

/** The Arduino Zero bootloader's double-tap word, and where it sits; UF2's at the end of SRAM. */
export const ZERO_MAGIC = { addr: 0x20007ffc, value: 0x07738135 };
export const UF2_MAGIC = { addr: 0x2002fffc, value: 0xf01669ef };

export interface WatchedDeviceLink extends DeviceLink {
  onBaud?(cb: (baud: number) => void): void;
}

export type BoardEvent =
  | { type: "boot"; into: "monitor" | "app"; why: string }
  | { type: "touch"; effect: string }
  | MonitorEvent;

export interface SamBaBoardOptions {
  kind: SamBaBoardKind;
  clock: Clock;
  /** What runs at power-on: the monitor (the default), or the application in flash. */
  boot?: "monitor" | "app";
  /** UART or USB CDC (default: the board's); the ROM boards take both. */
  iface?: "usb" | "uart";
  baud?: number;
  /** Bytes in flash before power-on (an old application), at the application start. */
  application?: Uint8Array;
  /** SAMD: BOOTPROT protection of the bootloader (default: UF2 16 KiB, Zero none). */
  bootprotBytes?: number;
  /** The monitor as the board's firmware has it (default: the board's own). */
  personality?: Personality;
  /** USB: the board re-enumerates; resolves its new link. */
  reenumerate?: (into: "monitor" | "app") => Promise<WatchedDeviceLink>;
  onEvent?: (e: BoardEvent) => void;
}

export class SamBaBoard {
  readonly chip: SimChip;
  readonly facts: (typeof BOARD_FACTS)[SamBaBoardKind];
  readonly events: BoardEvent[] = [];
  readonly bootloader: Uint8Array;
  mode: "monitor" | "app" = "monitor";
  monitor: SamBaMonitor | undefined;
  private generation = 0;

  constructor(
    private link: WatchedDeviceLink,
    readonly o: SamBaBoardOptions,
  ) {
    this.facts = BOARD_FACTS[o.kind];
    this.chip = makeChip(this.facts.chip, {
      clock: o.clock,
      bootprotBytes: o.bootprotBytes ?? (o.kind === "uf2-samd51" ? 0x4000 : 0),
      events: (e) => this.emit(e as BoardEvent),
    });
    this.chip.onReset = (why) => this.reset(why);
    // The SAMD bootloader's own image at 0 (a vector table, then recognisable bytes).
    this.bootloader = randomBytes(this.facts.bootloaderBytes, 0x5a3ba);
    if (this.bootloader.length >= 8) {
      this.bootloader.set([0x00, 0x7f, 0x00, 0x20, 0x5d, 0x01, 0x00, 0x00]);
      preload(this.chip, 0, this.bootloader);
    }
    if (o.application) preload(this.chip, this.facts.appStart, o.application);
    // SAM3/SAM4 boot their flash only with GPNVM1 set; a running monitor means it is clear
    // (Klipper's touch cleared it, or it never was set)
    if (o.boot === "app" && !this.magic()) this.chip.gpnvm.bits |= 2;
    this.attach(link);
    this.enter(o.boot ?? "monitor", "power on");
  }

  /** The whole flash, as a dump (planes joined). */
  flash(): Uint8Array {
    return flashOf(this.chip);
  }

  /** Flash from the application start, `n` bytes. */
  application(n: number): Uint8Array {
    const off = this.facts.appStart - this.chip.flashBase;
    return this.flash().slice(off, off + n);
  }

  get bootFromFlash(): boolean {
    return (this.chip.gpnvm.bits & 2) !== 0;
  }

  stop(): void {
    this.generation++;
    this.monitor?.stop();
  }

  private emit(e: BoardEvent): void {
    this.events.push(e);
    this.o.onEvent?.(e);
  }

  private attach(link: WatchedDeviceLink): void {
    this.link = link;
    const gen = () => this.generation;
    const mine = gen();
    link.onData((b) => {
      if (gen() === mine && this.mode === "monitor") this.monitor?.receive(b);
    });
    link.onBaud?.((baud) => {
      if (gen() === mine && baud === 1200) this.touched();
    });
  }

  private enter(mode: "monitor" | "app", why: string): void {
    this.monitor?.stop();
    this.monitor = undefined;
    this.mode = mode;
    this.emit({ type: "boot", into: mode, why });
    if (mode === "monitor")
      this.monitor = new SamBaMonitor(this.chip, this.link, {
        clock: this.o.clock,
        iface: this.o.iface ?? this.facts.iface,
        personality: this.o.personality ?? this.defaultPersonality(),
        ...(this.o.baud ? { baud: this.o.baud } : {}),
        onEvent: (e) => this.emit(e),
      });
  }

  private defaultPersonality(): Personality {
    switch (this.o.kind) {
      case "due":
      case "due-programming-port":
        return sam3xRom({ base: 0x80000, size: 0x80000 });
      case "duet-sam4e":
        return sam4Rom();
      case "zero":
        return arduinoZero();
      case "uf2-samd51":
        return uf2Samd51();
    }
  }

  private magic(): { addr: number; value: number } | undefined {
    return this.o.kind === "zero"
      ? ZERO_MAGIC
      : this.o.kind === "uf2-samd51"
        ? UF2_MAGIC
        : undefined;
  }

  /** What the chip boots after a reset. */
  private reset(why: string): void {
    const magic = this.magic();
    let into: "monitor" | "app";
    if (!magic) into = this.bootFromFlash ? "app" : "monitor";
    else {
      const word = this.chip.bus.read32(magic.addr);
      const appSp = this.chip.bus.read32(this.facts.appStart);
      into = word === magic.value || appSp === 0xffffffff ? "monitor" : "app";
      if (word === magic.value) this.chip.bus.write32(magic.addr, 0);
    }
    this.switchTo(into, why);
  }

  private switchTo(into: "monitor" | "app", why: string): void {
    this.monitor?.stop();
    const usb = (this.o.iface ?? this.facts.iface) === "usb";
    if (usb && this.o.reenumerate) {
      this.generation++;
      this.mode = into;
      const gen = this.generation;
      void this.o.reenumerate(into).then(
        (l) => {
          if (gen !== this.generation) return; // stopped meanwhile
          this.attach(l);
          this.enter(into, why);
        },
        () => undefined, // the test rig is gone: the board stays off the bus
      );
    } else this.enter(into, why);
  }

  /** A 1200-baud touch on the link: what the board's USB side does with it. */
  private touched(): void {
    if (this.o.kind === "due-programming-port") {
      // the 16U2 raises ERASE and resets the SAM3X: flash and GPNVM gone, the ROM starts
      for (const p of this.chip.planes) p.fill(0xff);
      this.chip.gpnvm.bits = 0;
      this.emit({ type: "touch", effect: "16U2: ERASE + reset" });
      return this.switchTo("monitor", "1200-baud touch (programming port)");
    }
    if (this.mode !== "app") return; // the monitors ignore line codings
    const magic = this.magic();
    if (magic) {
      this.chip.bus.write32(magic.addr, magic.value);
      this.emit({ type: "touch", effect: "Klipper: bootloader magic + reset" });
    } else {
      this.chip.gpnvm.bits &= ~2; // Klipper clears GPNVM1: the ROM starts, the flash stays
      this.emit({ type: "touch", effect: "Klipper: GPNVM1 cleared + reset" });
    }
    this.reset("1200-baud touch");
  }
}
