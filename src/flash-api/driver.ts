// The contract between the orchestration (flasher/) and one bootloader
// family (bootloaders/<family>/): a driver turns a row of the device table
// plus a link (a CAN node, a tty) into a FlashAdapter, reports the
// bootloader's status, asks a board into its bootloader where it can, and
// says whether the bootloader is on a link right now. Drivers are looked up
// by the row's `protocol` in bootloaders/index.ts and imported lazily.

import type { CanBus } from "../can/bus.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import type { Target } from "../targets/index.js";
import type { ByteTransport } from "../transport/byte-transport.js";
import type { LineSequence } from "../transport/line-sequence.js";
import type { SerialMode } from "../transport/serial-mode.js";
import type { BridgeNetdev, UsbTree } from "../transport/usb-tree.js";
import type { UsbBackend, UsbSelector } from "../usb/device.js";
import type { Clock } from "../util/clock.js";
import type { DeviceInfo, FlashAdapter, FlashContext } from "./adapter.js";
import type { FlashEvent } from "./progress.js";

/** What a CAN gate (the can-request entry) hands a driver for one node. */
export interface CanGateLike {
  /** Resolves with the node id the node got once it answers as its bootloader; starts the gate on first use. */
  nodeIdOf(uuid: Uuid): Promise<number>;
  /** How the node arrived: was a bootloader request needed (for -r)? */
  arrival?(uuid: Uuid): Promise<{ requested: boolean }>;
  /** How it arrived if the gate ran, without starting it: undefined when it never did or the node never came. */
  settled?(uuid: Uuid): Promise<{ nodeId: number | undefined; requested: boolean } | undefined>;
}

/** A board on a CAN bus, reached through its interface's gate. */
export interface CanLink {
  kind: "can";
  iface: string;
  bus: CanBus;
  uuid: Uuid;
  /** The interface's gate: one clear and one bootloader-request round for all its boards. */
  gate: CanGateLike;
  /** Set when this node is the USB-to-CAN bridge behind `iface` (it leaves the bus to be flashed). */
  bridge?: BridgeNetdev;
}

/** A board on a tty (USB CDC or a UART). */
export interface SerialLink {
  kind: "serial";
  /** Absolute path as given (a /dev/serial/by-id link is fine). */
  device: string;
  /** Line speed; absent: the row's default. */
  baud?: number;
  /** Line settings; absent: the driver's default (8N1; the STM32 ROM 8E1). */
  mode?: SerialMode;
  /** DTR/RTS sequences to enter the bootloader and leave it (stm32flash's -i), for drivers with lineSequences. */
  lines?: LineSequence;
}

/**
 * A drive a bootloader is flashed through by copying a file: a USB
 * mass-storage bootloader (MSC, UF2) or an SD card in this computer.
 */
export interface DriveLink {
  kind: "drive";
  /** As given: a mount point, a block device or a FAT image file; absent: found by the row's USB id and volume label. */
  device?: string;
}

/**
 * A board on USB in a bootloader of its own (DFU, the HID bootloader,
 * HalfKay, PICOBOOT): found through `backend` by `selector`. Fields the
 * selector leaves out are filled by the row (its USB ids); a device that
 * has to re-enumerate first (a DFU runtime after DETACH, an application
 * after a 1200-baud touch) is looked for again on the same backend.
 */
export interface UsbLink {
  kind: "usb";
  selector: UsbSelector;
  backend: UsbBackend;
  /** How the user named it, for messages: "usb:0483:df11", "usb:1-1.4", the row's ids. */
  label: string;
}

/**
 * A chip on SWD (or JTAG) through OpenOCD: a running OpenOCD's TCL RPC
 * server, or an openocd canflash starts with a config — the user's, or the
 * one it writes for SWD on a Raspberry Pi's GPIO pins.
 */
export interface OpenOcdLink {
  kind: "openocd";
  /** A running OpenOCD's RPC server (port 6666 by default); absent: canflash starts openocd. The image files are passed by path: it must run on this machine. */
  rpc?: { host: string; port: number };
  /** The config file to start openocd with (any adapter and target: cmsis-dap, st-link, …). */
  config?: string;
  /** SWD on GPIO pins: canflash writes the seed's Raspberry Pi config. */
  gpio?: {
    driver: "bcm2835gpio" | "linuxgpiod";
    swclk: number;
    swdio: number;
    srst?: number;
    /** linuxgpiod's gpiochip (default 0). */
    gpiochip?: number;
    /** bcm2835gpio's peripheral base (default: from the Pi's model). */
    peripheralBase?: number;
  };
  /** SWD clock for a written config, kHz (default: the seed's 40). */
  speedKhz?: number;
  /** A written config holds SRST while connecting (firmware that reuses the SWD pins, sleeps, or locks up). */
  connectUnderReset?: boolean;
  /** WORKAREASIZE for a written config (0: no RAM used, verify reads the flash back). */
  workAreaSize?: number;
  /** The openocd binary (default: openocd on PATH). */
  bin?: string;
  /** The environment openocd runs in (default: canflash's own). */
  env?: Record<string, string | undefined>;
  /** The chip (a Klipper MCU name): its target script and erase command; default the row's or the image's. */
  chip?: string;
  /** Where a raw .bin goes (default: the chip's flash start). */
  address?: number;
  /** Read flash bank 0 to this file before anything is erased. */
  backup?: string;
  /** Keep the flash: only the sectors written are erased (default: the chip erase the seed does). */
  noChipErase?: boolean;
  /** BOOTPROT size to set after a verified write (a SAMD51 UF2 bootloader: 16384). */
  bootProtectAfter?: number;
}

export type Link = CanLink | SerialLink | DriveLink | UsbLink | OpenOcdLink;
export type LinkKind = Link["kind"];

/** What the orchestration lends a driver: time, cancellation, tracing and the system roots (tests). */
export interface DriverEnv {
  clock: Clock;
  signal?: AbortSignal;
  /** A dry run: nothing that changes the board (no request, no touch, no write). */
  dryRun?: boolean;
  /** Wraps every byte link a driver opens (--trace-file). */
  wrapTransport?: (t: ByteTransport) => ByteTransport;
  usbTree?: UsbTree;
  procRoot?: string;
  /** Where block devices and their by-label links live (tests: a fake tree); default /dev. */
  devRoot?: string;
  /** Where a driver looks for USB devices a tty board re-enumerates as (default: by name from the environment). */
  usbBackend?: UsbBackend;
  /** Progress and decisions outside a flash (status, request). */
  emit?: (e: FlashEvent) => void;
}

/** What -s prints: the bootloader's own facts, in its words. */
export interface StatusReport {
  /** "Katapult", "Optiboot". */
  bootloader: string;
  /** Label/value lines in the order the bootloader's own tools print them. */
  fields: ReadonlyArray<{ label: string; value: string }>;
  /** One line: "Katapult 1.1.0 on stm32g0b1xx". */
  description: string;
  /** Lines the bootloader's own tool prints after the fields. */
  notes?: string[];
}

/** What -r achieved. */
export interface RequestReport {
  bootloader: string;
  /** Where the bootloader now answers: the UUID, or the tty it came up on. */
  at: string;
  /** It was in its bootloader already. */
  already: boolean;
  /** False where the request cannot be confirmed (a UART request string: nothing answers it). */
  confirmed: boolean;
}

export interface ProbeResult {
  /** The bootloader answered on the link. */
  present: boolean;
  /** What it said, for messages: "Optiboot 8.0 on atmega328p". */
  description?: string;
  /** What it reported (geometry, MCU, versions), when it answered. */
  device?: DeviceInfo;
}

export interface BootloaderDriver {
  /** The family, as in the table's `protocol`. */
  readonly protocol: Target["protocol"];
  /** Bootloader name for messages when the row gives none ("Katapult"). */
  readonly name: string;
  /** Links this driver flashes over. */
  readonly links: readonly LinkKind[];
  /**
   * Serial line modes the bootloader can be talked to in, the default first
   * (absent: 8N1 only). A mode outside the list is refused before anything opens.
   */
  readonly serialModes?: readonly string[];
  /** Takes DTR/RTS entry and exit sequences (BOOT0 and RESET wired to the adapter's lines). */
  readonly lineSequences?: boolean;
  /**
   * Rows of this family this build flashes (stk500v2 here means the AVR
   * bootloaders; the Arduino M0's only borrows the framing). False rows are
   * listed as "not yet" with their seed command.
   */
  supports(target: Target): boolean;
  /** A FlashAdapter for one board; the entry strategy comes from `target.entry`. Opens nothing yet. */
  adapter(target: Target, link: Link, env: DriverEnv): FlashAdapter;
  /** Connects and reports; the board stays in its bootloader where the bootloader stays. */
  status(target: Target, link: Link, env: DriverEnv): Promise<StatusReport>;
  /**
   * Asks the board into its bootloader and leaves it there. Absent where the
   * bootloader cannot stay (the caller refuses with RequestImpossibleError
   * before touching anything).
   */
  request?(target: Target, link: Link, env: DriverEnv): Promise<RequestReport>;
  /**
   * A board this run asked into its bootloader but never flashed (the batch
   * stopped before it): send it back to its application. Resolves true when
   * it did; absent where the protocol cannot.
   */
  release?(target: Target, link: Link, env: DriverEnv): Promise<boolean>;
  /** Is the bootloader on the link now? Changes nothing; absent where a protocol cannot tell. */
  probe?(target: Target, link: Link, env: DriverEnv): Promise<ProbeResult>;
}

/** The FlashContext a driver uses outside the executor (status, request). */
export const driverContext = (env: DriverEnv): FlashContext => ({
  signal: env.signal,
  clock: env.clock,
  ...(env.dryRun ? { dryRun: true } : {}),
  emit: (e) => env.emit?.(e),
});
