// An RP2040 in BOOTSEL mode as its boot ROM answers on USB (2e8a:0003):
// the mass-storage interface (not modelled beyond its descriptors and a
// host that may be writing to the drive) and the PICOBOOT interface with
// the boot ROM's rules from pico-sdk's picoboot.h: 32-byte commands with
// the magic, the command size and transfer length each command has, 4 KiB
// aligned erases and 256-byte aligned flash writes within the flash, NOR
// programming (bits only go from 1 to 0), a refused command stalls until
// the host resets the interface and leaves its status for CMD_STATUS, a
// flash write or erase without exclusive access while the host writes to
// the drive is an interleaved write, and REBOOT leaves the bus after its
// delay. Erase and page program take the QSPI flash's typical times.

import {
  COMMAND_SIZE,
  decodeCommand,
  decodeRange,
  encodeStatus,
  Exclusive,
  FLASH_START,
  IF_CMD_STATUS,
  IF_RESET,
  PAGE_SIZE,
  PicobootCmd,
  PicobootStatus,
  SECTOR_SIZE,
  type PicobootCommand,
} from "../../bootloaders/picoboot/codec.js";
import type { SetupPacket } from "../../usb/device.js";
import { UsbStatus } from "../../usb/errors.js";
import type { UsbReply } from "../../usb/wire.js";
import { delay, type Clock } from "../../util/clock.js";
import { buildDescriptors } from "./descriptors.js";
import { ok, STALL, UsbModelBase } from "./model-base.js";

/** W25Q16JV typical sector erase and page program, ms. */
export const QSPI_SECTOR_ERASE_MS = 45;
export const QSPI_PAGE_PROGRAM_MS = 0.7;
const SRAM_START = 0x2000_0000;
const SRAM_SIZE = 264 * 1024;
const EP_OUT = 0x03;
const EP_IN = 0x84;
const PICOBOOT_IFACE = 1;

/** bCmdSize each command must carry. */
const ARG_SIZE: Record<number, number> = {
  [PicobootCmd.EXCLUSIVE_ACCESS]: 1,
  [PicobootCmd.REBOOT]: 12,
  [PicobootCmd.FLASH_ERASE]: 8,
  [PicobootCmd.READ]: 8,
  [PicobootCmd.WRITE]: 8,
  [PicobootCmd.EXIT_XIP]: 0,
  [PicobootCmd.ENTER_CMD_XIP]: 0,
};

export interface PicobootFaults {
  /** Leave the bus when this many pages were written. */
  unplugAfterPages?: number;
  /** Refuse (stall, unknown error) the write of this page number and every later one. */
  failWriteFromPage?: number;
  /** Program this flash byte wrong (a bad flash chip): verification must catch it. */
  corruptAddress?: number;
  ignoreReboot?: boolean;
}

export interface PicoBootModelOptions {
  clock: Clock;
  flashSize?: number;
  name?: string;
  portPath?: string;
  /** The OS is writing to the RPI-RP2 drive: flash commands need exclusive access. */
  hostWritesDrive?: boolean;
  faults?: PicobootFaults;
}

type Phase =
  | { kind: "idle" }
  | { kind: "data-out"; cmd: PicobootCommand; got: number[] }
  | { kind: "data-in"; cmd: PicobootCommand }
  | { kind: "ack-in"; done: Promise<void> }
  | { kind: "ack-out" };

export class PicobootModel extends UsbModelBase {
  readonly flash: Uint8Array;
  readonly ram = new Uint8Array(SRAM_SIZE);
  mode: "bootsel" | "application" = "bootsel";
  exclusive: number = Exclusive.NOT_EXCLUSIVE;
  xip = true;
  pagesWritten = 0;
  sectorsErased = 0;
  /** Commands in order, for tests. */
  readonly commands: number[] = [];
  private phase: Phase = { kind: "idle" };
  private stalled = false;
  private last = { token: 0, status: 0, cmdId: 0 };
  private readonly clock: Clock;
  private readonly faults: PicobootFaults;
  private readonly hostWritesDrive: boolean;

  constructor(o: PicoBootModelOptions) {
    super(
      o.name ?? "rp2040-bootsel",
      o.portPath ?? "1-1",
      buildDescriptors(
        {
          vendorId: 0x2e8a,
          productId: 0x0003,
          bcdDevice: 0x0100,
          manufacturer: "Raspberry Pi",
          product: "RP2 Boot",
          serialNumber: "E0C9125B0D9B",
        },
        [
          {
            iface: 0,
            alt: 0,
            class: 8,
            subClass: 6,
            protocol: 0x50,
            endpoints: [
              { address: 0x81, attributes: 2, maxPacketSize: 64 },
              { address: 0x02, attributes: 2, maxPacketSize: 64 },
            ],
          },
          {
            iface: PICOBOOT_IFACE,
            alt: 0,
            class: 0xff,
            subClass: 0,
            protocol: 0,
            endpoints: [
              { address: EP_OUT, attributes: 2, maxPacketSize: 64 },
              { address: EP_IN, attributes: 2, maxPacketSize: 64 },
            ],
          },
        ],
      ),
    );
    this.clock = o.clock;
    this.faults = o.faults ?? {};
    this.hostWritesDrive = !!o.hostWritesDrive;
    this.flash = new Uint8Array(o.flashSize ?? 2 * 1024 * 1024).fill(0xff);
  }

  protected override async classOrVendor(s: SetupPacket): Promise<UsbReply> {
    if (s.wIndex !== PICOBOOT_IFACE) return STALL;
    if (s.bmRequestType === 0x41 && s.bRequest === IF_RESET) {
      this.stalled = false;
      this.phase = { kind: "idle" };
      return ok();
    }
    if (s.bmRequestType === 0xc1 && s.bRequest === IF_CMD_STATUS)
      return ok(encodeStatus({ ...this.last, inProgress: false }).subarray(0, s.wLength));
    return STALL;
  }

  private refuse(cmd: PicobootCommand, status: number): void {
    this.last = { token: cmd.token, status, cmdId: cmd.id };
    this.stalled = true;
  }

  protected override async transfer(
    endpoint: number,
    data: Uint8Array | undefined,
    length: number,
  ): Promise<UsbReply> {
    if (endpoint !== EP_OUT && endpoint !== EP_IN) return STALL;
    if (!this.claimed.has(PICOBOOT_IFACE) || this.stalled) return STALL;
    const p = this.phase;
    if (endpoint === EP_OUT) {
      const d = data ?? new Uint8Array(0);
      if (p.kind === "idle") return this.command(d);
      if (p.kind === "data-out") {
        p.got.push(...d);
        if (p.got.length >= p.cmd.transferLength) {
          const payload = Uint8Array.from(p.got.slice(0, p.cmd.transferLength));
          this.phase = { kind: "ack-in", done: this.execute(p.cmd, payload) };
        }
        return { status: d.length };
      }
      if (p.kind === "ack-out" && d.length <= 1) {
        this.phase = { kind: "idle" };
        return { status: d.length };
      }
      return STALL;
    }
    if (p.kind === "data-in") {
      const { address, size } = decodeRange(p.cmd.args);
      const out = this.readMemory(address, size);
      this.phase = { kind: "ack-out" };
      return ok(out.subarray(0, Math.min(size, length || size)));
    }
    if (p.kind === "ack-in") {
      await p.done;
      if (this.generation === undefined) return { status: UsbStatus.NO_DEVICE };
      if (this.stalled) return STALL;
      this.phase = { kind: "idle" };
      return { status: 0 };
    }
    return STALL;
  }

  /** A command packet: checked now, as the boot ROM does, before any data phase. */
  private command(b: Uint8Array): UsbReply {
    const cmd = decodeCommand(b);
    if (!cmd) {
      this.last = { token: 0, status: PicobootStatus.UNKNOWN_CMD, cmdId: 0 };
      this.stalled = true;
      return STALL;
    }
    this.commands.push(cmd.id);
    this.last = { token: cmd.token, status: PicobootStatus.OK, cmdId: cmd.id };
    const status = this.validate(cmd);
    if (status !== PicobootStatus.OK) {
      this.refuse(cmd, status);
      return { status: COMMAND_SIZE }; // taken; the next phase stalls
    }
    if (cmd.transferLength === 0) this.phase = { kind: "ack-in", done: this.execute(cmd) };
    else if (cmd.id & 0x80) this.phase = { kind: "data-in", cmd };
    else this.phase = { kind: "data-out", cmd, got: [] };
    return { status: COMMAND_SIZE };
  }

  private inFlash = (a: number, n: number) =>
    a >= FLASH_START && a + n <= FLASH_START + this.flash.length;
  private inRam = (a: number, n: number) => a >= SRAM_START && a + n <= SRAM_START + SRAM_SIZE;

  private validate(cmd: PicobootCommand): number {
    const S = PicobootStatus;
    const want = ARG_SIZE[cmd.id];
    if (want === undefined) return S.UNKNOWN_CMD;
    if (cmd.argSize !== want) return S.INVALID_CMD_LENGTH;
    const isData = cmd.id === PicobootCmd.READ || cmd.id === PicobootCmd.WRITE;
    const { address, size } = decodeRange(cmd.args);
    if (isData ? cmd.transferLength !== size : cmd.transferLength !== 0)
      return S.INVALID_TRANSFER_LENGTH;
    const writesFlash =
      cmd.id === PicobootCmd.FLASH_ERASE ||
      (cmd.id === PicobootCmd.WRITE && address >= FLASH_START && address < SRAM_START);
    if (writesFlash && this.hostWritesDrive && this.exclusive === Exclusive.NOT_EXCLUSIVE)
      return S.INTERLEAVED_WRITE;
    switch (cmd.id) {
      case PicobootCmd.FLASH_ERASE:
        if (address % SECTOR_SIZE || size % SECTOR_SIZE) return S.BAD_ALIGNMENT;
        return this.inFlash(address, size) ? S.OK : S.INVALID_ADDRESS;
      case PicobootCmd.WRITE:
        if (this.inRam(address, size)) return S.OK;
        if (!this.inFlash(address, size)) return S.INVALID_ADDRESS;
        return address % PAGE_SIZE || size % PAGE_SIZE ? S.BAD_ALIGNMENT : S.OK;
      case PicobootCmd.READ:
        return this.inFlash(address, size) || this.inRam(address, size) || address + size <= 0x4000
          ? S.OK
          : S.INVALID_ADDRESS;
    }
    return S.OK;
  }

  private readMemory(address: number, size: number): Uint8Array {
    if (this.inRam(address, size))
      return this.ram.slice(address - SRAM_START, address - SRAM_START + size);
    if (this.inFlash(address, size))
      return this.flash.slice(address - FLASH_START, address - FLASH_START + size);
    return new Uint8Array(size); // the boot ROM's bytes: not modelled
  }

  private async execute(cmd: PicobootCommand, payload?: Uint8Array): Promise<void> {
    const { address, size } = decodeRange(cmd.args);
    const f = this.faults;
    switch (cmd.id) {
      case PicobootCmd.EXCLUSIVE_ACCESS:
        this.exclusive = cmd.args[0]!;
        return;
      case PicobootCmd.EXIT_XIP:
        this.xip = false;
        return;
      case PicobootCmd.ENTER_CMD_XIP:
        this.xip = true;
        return;
      case PicobootCmd.FLASH_ERASE:
        await delay(this.clock, (size / SECTOR_SIZE) * QSPI_SECTOR_ERASE_MS);
        this.flash.fill(0xff, address - FLASH_START, address - FLASH_START + size);
        this.sectorsErased += size / SECTOR_SIZE;
        return;
      case PicobootCmd.WRITE: {
        if (this.inRam(address, size)) {
          this.ram.set(payload!, address - SRAM_START);
          return;
        }
        if (f.unplugAfterPages !== undefined && this.pagesWritten >= f.unplugAfterPages) {
          this.unplug();
          return;
        }
        if (f.failWriteFromPage !== undefined && this.pagesWritten >= f.failWriteFromPage) {
          this.refuse(cmd, PicobootStatus.UNKNOWN_ERROR);
          return;
        }
        await delay(this.clock, (size / PAGE_SIZE) * QSPI_PAGE_PROGRAM_MS);
        const o = address - FLASH_START;
        for (let i = 0; i < size; i++) this.flash[o + i]! &= payload![i]!; // NOR: 1 -> 0 only
        if (
          f.corruptAddress !== undefined &&
          f.corruptAddress >= address &&
          f.corruptAddress < address + size
        )
          this.flash[f.corruptAddress - FLASH_START]! ^= 0x10;
        this.pagesWritten += size / PAGE_SIZE;
        return;
      }
      case PicobootCmd.REBOOT:
        if (!f.ignoreReboot) {
          const ms = new DataView(cmd.args.buffer, cmd.args.byteOffset + 8, 4).getUint32(0, true);
          this.clock.schedule(ms, () => {
            this.mode = "application";
            this.unplug();
          });
        }
        return;
    }
  }

  override unplug(): void {
    super.unplug();
    this.phase = { kind: "idle" };
    this.stalled = false;
    this.exclusive = Exclusive.NOT_EXCLUSIVE;
    this.xip = true;
  }
}
