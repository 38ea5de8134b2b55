// The DFU flash adapter (dfu-util's job): STM32 ROM DfuSe, the stm32duino
// bootloader and the LPC176x DFU bootloader, on any USB backend.
//
// enter: finds the device by the link's selector or the row's USB ids; a
//   device in DFU runtime mode (next to its application) gets DETACH (and
//   a USB reset unless it detaches itself) and is followed to DFU mode.
// connect: claims the DFU interface, selects the row's alt setting, gets to
//   dfuIDLE (clearing the ROM's first dfuERROR), reads wTransferSize and,
//   for DfuSe, the alt setting's memory layout.
// DfuSe: erases only the sectors the image touches, writes each block with
//   SET ADDRESS + DNLOAD, reads back with UPLOAD, leaves with :leave.
// Plain DFU: sequential blocks from 0; the LPC176x reads back with UPLOAD
//   and is started by DETACH; stm32duino has no upload (verify impossible,
//   said so) and starts its application on the USB reset after the manifest.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { UsbLink } from "../../flash-api/driver.js";
import type { FlashPlan, PlannedBlock } from "../../flash-api/geometry.js";
import type { Target } from "../../targets/index.js";
import type { UsbDevice, UsbDeviceInfo, UsbSelector } from "../../usb/device.js";
import { formatUsbId, matchesSelector } from "../../usb/device.js";
import type { InterfaceDescriptor } from "../../usb/descriptors.js";
import { label } from "../../usb/request-host.js";
import { waitForDevice } from "../../usb/wait.js";
import { moduleLogger } from "../../util/log.js";
import {
  DFUSE_VERSION,
  findFunctional,
  parseMemoryLayout,
  sectorsToErase,
  type DfuFunctional,
  type MemoryLayout,
} from "./codec.js";
import { DfuLayoutError, DfuNoInterfaceError, DfuNoReenumerationError } from "./errors.js";
import { DfuSession } from "./session.js";

const log = moduleLogger("dfu");

/** How long a device in DFU runtime mode may take to come back in DFU mode after DETACH, ms. */
export const DFU_DETACH_REENUMERATION_MS = 5000;
/** The wDetachTimeout canflash sends with DETACH (dfu-util's 1000), ms. */
export const DFU_DETACH_TIMEOUT_MS = 1000;
/** After leaving DFU, how long canflash looks for the application to enumerate, ms. */
export const APP_RETURN_WAIT_MS = 3000;
/** How long the device named by a request may take to appear before it counts as absent, ms. */
export const DFU_FIND_WAIT_MS = 0;

/** USB ids the application comes back as (Klipper's USB build; Katapult). */
const APP_IDS: ReadonlyArray<{ id: string; what: string }> = [
  { id: "1d50:614e", what: "Klipper" },
  { id: "1d50:6177", what: "Katapult" },
];

/** What a bootloader does differently (by its USB id). */
interface Quirks {
  /** The alt setting written to. */
  alt: number;
  /** The block number is ignored: blocks go strictly one after the other. */
  sequential: boolean;
}
const QUIRKS: Readonly<Record<string, Quirks>> = {
  "1eaf:0003": { alt: 2, sequential: true },
};
const quirksOf = (usbId: string): Quirks => QUIRKS[usbId] ?? { alt: 0, sequential: false };

/** Does the row's bootloader read back? stm32duino's build offers no upload. */
export function rowVerifies(t: Target): boolean {
  return !t.usbIds.includes("1eaf:0003");
}

const isDfu = (i: InterfaceDescriptor) => i.bInterfaceClass === 0xfe && i.bInterfaceSubClass === 1;

function selectorsOf(t: Target, s: UsbSelector): UsbSelector[] {
  if (s.vendorId !== undefined) return [s];
  return t.usbIds.map((id) => {
    const [v, p] = id.split(":").map((x) => parseInt(x, 16));
    return { ...s, vendorId: v!, productId: p! };
  });
}

export interface DfuAdapterOptions {
  target: Target;
  link: UsbLink;
  dfuse: boolean;
}

export class DfuAdapter implements FlashAdapter {
  readonly protocol: string;
  readonly capabilities: FlashAdapter["capabilities"];
  private dev: UsbDevice | undefined;
  private session: DfuSession | undefined;
  private info: UsbDeviceInfo | undefined;
  private functional: DfuFunctional | undefined;
  private layout: MemoryLayout | undefined;
  private quirks: Quirks = { alt: 0, sequential: false };
  private start = 0;
  private claimed: number | undefined;

  constructor(private readonly o: DfuAdapterOptions) {
    this.protocol = o.dfuse ? "dfuse" : "dfu";
    this.capabilities = {
      verify: rowVerifies(o.target) ? "readback" : "none",
      erase: o.dfuse ? "pages" : "none",
      abandoned: "stays-in-bootloader",
    };
    if (o.dfuse) this.erase = (ctx, plan) => this.eraseSectors(ctx, plan);
  }

  /** The DFU-mode device, following a runtime device through DETACH. */
  async enter(ctx: FlashContext): Promise<void> {
    const { link, target } = this.o;
    const wanted = selectorsOf(target, link.selector);
    const found = await waitForDevice(link.backend, wanted, {
      timeoutMs: DFU_FIND_WAIT_MS,
      clock: ctx.clock,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const info = found[0]!;
    if (found.length > 1)
      ctx.emit({
        type: "info",
        message: `${found.length} devices match ${link.label}: using ${label(info)} (name one with usb:<serial> or usb:<bus-port>)`,
      });
    const dev = await link.backend.open(info);
    const cfg = await dev.configDescriptor();
    const dfuMode = cfg.interfaces.some((i) => isDfu(i) && i.bInterfaceProtocol === 2);
    const runtime = cfg.interfaces.find((i) => isDfu(i) && i.bInterfaceProtocol === 1);
    if (dfuMode || !runtime) {
      this.dev = dev;
      this.info = info;
      return;
    }
    if (ctx.dryRun) {
      await dev.close();
      throw new DfuNoInterfaceError(label(info), "in DFU mode (a dry run does not DETACH)", []);
    }
    // DFU runtime: ask it over to DFU mode and follow it (dfu.md §3).
    const f = findFunctional(runtime.extra);
    const s = new DfuSession(dev, runtime.bInterfaceNumber, {
      clock: ctx.clock,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    await dev.claimInterface(runtime.bInterfaceNumber);
    ctx.emit({ type: "info", message: `${label(info)} runs its application: DETACH to DFU mode` });
    await s.detach(DFU_DETACH_TIMEOUT_MS).catch(() => undefined);
    if (!f?.willDetach) await dev.reset().catch(() => undefined);
    await dev.close().catch(() => undefined);
    const after = await waitForDevice(
      link.backend,
      wanted.map((w) => ({
        ...w,
        ...(info.serialNumber ? { serialNumber: info.serialNumber } : {}),
      })),
      {
        timeoutMs: DFU_DETACH_REENUMERATION_MS,
        clock: ctx.clock,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      },
    ).catch((e: { seen?: string[] }) => {
      throw new DfuNoReenumerationError(label(info), DFU_DETACH_REENUMERATION_MS, e.seen ?? []);
    });
    this.info = after[0]!;
    this.dev = await link.backend.open(this.info);
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    if (!this.dev) await this.enter(ctx);
    const dev = this.dev!;
    const info = this.info!;
    const usbId = formatUsbId(info.vendorId, info.productId);
    this.quirks = quirksOf(usbId);
    const cfg = await dev.configDescriptor();
    const dfuAlts = cfg.interfaces.filter((i) => isDfu(i) && i.bInterfaceProtocol === 2);
    const names = await Promise.all(dfuAlts.map((i) => dev.getString(i.iInterface)));
    const altList = dfuAlts.map((i, k) => `${i.bAlternateSetting}: ${names[k] ?? "(no name)"}`);
    const k = dfuAlts.findIndex((i) => i.bAlternateSetting === this.quirks.alt);
    if (k < 0) throw new DfuNoInterfaceError(label(info), `${this.quirks.alt}`, altList);
    const alt = dfuAlts[k]!;
    for (const i of cfg.interfaces) if (isDfu(i)) this.functional ??= findFunctional(i.extra);
    const f = this.functional;
    if (!f) throw new DfuNoInterfaceError(label(info), "with a DFU functional descriptor", altList);
    const dfuse = f.dfuVersion === DFUSE_VERSION;
    if (dfuse !== this.o.dfuse)
      throw new DfuNoInterfaceError(
        label(info),
        this.o.dfuse ? "speaking ST DfuSe" : "speaking plain DFU 1.1",
        altList,
      );
    if (this.capabilities.verify === "readback" && !f.canUpload)
      throw new DfuNoInterfaceError(label(info), "that can upload (read back)", altList);
    await dev.claimInterface(alt.bInterfaceNumber);
    this.claimed = alt.bInterfaceNumber;
    await dev.setAltSetting(alt.bInterfaceNumber, alt.bAlternateSetting);
    this.session = new DfuSession(dev, alt.bInterfaceNumber, {
      clock: ctx.clock,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    await this.session.toIdle();
    const name = names[k] ?? "";
    const t = this.o.target;
    let start = t.appStart ?? 0;
    let end = t.appEnd;
    let eraseUnit: number | undefined;
    if (dfuse) {
      const layout = parseMemoryLayout(name);
      if (!layout) throw new DfuNoInterfaceError(label(info), "with a memory layout", altList);
      this.layout = layout;
      const seg =
        layout.segments.find((s) => start >= s.start && start < s.end) ?? layout.segments[0]!;
      if (t.appStart === undefined) start = seg.start;
      const last = layout.segments[layout.segments.length - 1]!;
      end = Math.min(end ?? last.end, last.end);
      eraseUnit = seg.sectorSize;
    }
    this.start = start;
    log.debug(
      { usbId, alt: alt.bAlternateSetting, name, transfer: f.transferSize },
      "DFU connected",
    );
    const what = dfuse ? "ST DfuSe" : "DFU 1.1";
    return {
      geometry: {
        start,
        ...(end !== undefined ? { end } : {}),
        blockSize: f.transferSize,
        ...(eraseUnit ? { eraseUnit } : {}),
        padByte: 0xff,
        addressUnit: "byte",
        // plain DFU counts blocks from the start: every block up to the image's end is sent
        ...(dfuse ? {} : { contiguousFromStart: true }),
      },
      description: `${info.product ?? t.bootloader} (${usbId}${info.serialNumber ? `, serial ${info.serialNumber}` : ""}), ${what}, alt ${alt.bAlternateSetting} "${name.trim()}", ${f.transferSize}-byte blocks`,
      bootloaderVersion: `DFU ${(f.dfuVersion >> 8).toString(16)}.${(f.dfuVersion & 0xff).toString(16).padStart(2, "0")}`,
    };
  }

  async check(_ctx: FlashContext, plan: FlashPlan): Promise<void> {
    if (!this.layout) return;
    try {
      sectorsToErase(this.layout, plan.start, plan.end);
    } catch (e) {
      const at = /^0x([0-9a-f]+)/.exec((e as Error).message);
      throw new DfuLayoutError(
        at ? parseInt(at[1]!, 16) : plan.start,
        this.layout.name,
        (e as Error).message.replace(/^0x[0-9a-f]+ is /, ""),
      );
    }
  }

  /** DfuSe: erases the sectors the plan touches, each once (plain DFU has no erase phase). */
  readonly erase?: (ctx: FlashContext, plan: FlashPlan) => Promise<void>;

  private async eraseSectors(ctx: FlashContext, plan: FlashPlan): Promise<void> {
    const layout = this.layout!;
    const sectors = sectorsToErase(layout, plan.start, plan.end);
    const size = (a: number) => layout.segments.find((g) => a >= g.start && a < g.end)!.sectorSize;
    const total = sectors.reduce((n, a) => n + size(a), 0);
    ctx.emit({
      type: "info",
      message: `erasing ${sectors.length} sector${sectors.length === 1 ? "" : "s"} the image needs (${total / 1024} KiB)`,
      data: { sectors: sectors.length },
    });
    let done = 0;
    for (const a of sectors) {
      await this.session!.erasePage(a);
      done += size(a);
      ctx.emit({ type: "progress", phase: "erase", bytes: done, totalBytes: total });
    }
  }

  async writeBlock(_ctx: FlashContext, block: PlannedBlock): Promise<void> {
    const s = this.session!;
    if (this.o.dfuse) return s.dfuseWrite(block.address, block.data);
    const n = (block.address - this.start) / block.data.length;
    const op = `DNLOAD block ${n} (${block.data.length} bytes at 0x${block.address.toString(16)})`;
    await s.dnload(n, block.data, op);
    await s.waitDone(op);
  }

  async endWrite(_ctx: FlashContext): Promise<void> {
    const s = this.session!;
    if (this.o.dfuse || this.capabilities.verify === "readback") {
      // back to dfuIDLE: the read-back starts from there
      await s.abort();
      return;
    }
    // No read-back: the end of data now (the bootloader relocks its flash, then waits for a reset).
    await s.dnload(0, new Uint8Array(0), "end of data (zero-length DNLOAD)");
    await s.waitDone("manifest").catch((e: { code?: string }) => {
      // a device that drops off while manifesting has finished
      if (e.code !== "USB_NO_DEVICE") throw e;
    });
  }

  async readBlock(_ctx: FlashContext, block: PlannedBlock): Promise<Uint8Array> {
    const s = this.session!;
    if (this.o.dfuse) return s.dfuseRead(block.address, block.data.length);
    return s.upload((block.address - this.start) / block.data.length, block.data.length);
  }

  async finish(ctx: FlashContext): Promise<void> {
    const s = this.session!;
    const dev = this.dev!;
    // Leaving: the device may drop off the bus (or refuse a last request) without answering.
    const gone = (e: unknown) => {
      const code = (e as { code?: string }).code;
      if (code !== "USB_NO_DEVICE" && code !== "USB_STALL" && code !== "DFU_STATUS") throw e;
    };
    if (this.o.dfuse) await s.dfuseLeave(this.start).catch(gone);
    else if (this.capabilities.verify === "readback")
      // read back: from dfuIDLE a DETACH starts the application (the device detaches itself)
      await s
        .abort()
        .then(() => s.detach(DFU_DETACH_TIMEOUT_MS))
        .catch(gone);
    else {
      // dfu-util -R: DETACH (which this bootloader may refuse), then the USB reset that starts the application
      await s.detach(DFU_DETACH_TIMEOUT_MS).catch(() => undefined);
      await dev.reset().catch(gone);
    }
    await this.waitForApplication(ctx);
  }

  /** After leaving: does the board come back as its application? Says so either way. */
  private async waitForApplication(ctx: FlashContext): Promise<void> {
    const selectors = APP_IDS.map(({ id }) => {
      const [v, p] = id.split(":").map((x) => parseInt(x, 16));
      return { vendorId: v!, productId: p! };
    });
    const portPath = this.info?.portPath;
    try {
      const found = await waitForDevice(this.o.link.backend, selectors, {
        timeoutMs: APP_RETURN_WAIT_MS,
        clock: ctx.clock,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      const d = found.find((x) => !portPath || x.portPath === portPath) ?? found[0]!;
      const id = formatUsbId(d.vendorId, d.productId);
      const what = APP_IDS.find((a) => a.id === id)!.what;
      ctx.emit({
        type: "info",
        message: `the board came back as ${what} (USB ${id}${d.portPath ? ` at ${d.portPath}` : ""})`,
        data: { returned: what.toLowerCase(), usbId: id },
      });
    } catch {
      const still = (await this.o.link.backend.list().catch(() => [])).some((d) =>
        selectorsOf(this.o.target, {}).some((sel) => matchesSelector(d, sel)),
      );
      ctx.emit({
        type: "info",
        message: still
          ? `the board is still in its DFU bootloader ${APP_RETURN_WAIT_MS / 1000} s later (BOOT0 held, or the image does not start): reset it by hand`
          : `the board left DFU mode; it did not enumerate as Klipper or Katapult within ${APP_RETURN_WAIT_MS / 1000} s (normal for a CAN build, or a USB-to-CAN bridge)`,
        data: { returned: still ? "bootloader" : "unknown" },
      });
    }
  }

  async abandon(): Promise<boolean> {
    // Found in its bootloader, nothing written: it stays there.
    return false;
  }

  async close(): Promise<void> {
    const dev = this.dev;
    this.dev = undefined;
    if (!dev) return;
    if (this.claimed !== undefined) await dev.releaseInterface(this.claimed).catch(() => undefined);
    await dev.close().catch(() => undefined);
  }
}
