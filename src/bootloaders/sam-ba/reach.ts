// Getting to the SAM-BA monitor behind a tty (sam-ba.md §1, §2). The port is
// looked up in sysfs: its USB id says whether it is the monitor's own USB
// CDC, a USB-serial bridge (the Due's programming port: the 16U2 passes the
// ROM's UART through) or an application. Whatever it is, a port that already
// answers N#/V# is used as it is. Otherwise the row's entry: the 1200-baud
// touch — on the Due's programming port it erases the flash (said in an info
// event first), elsewhere the application (Klipper) reboots into the
// bootloader and canflash follows the re-enumerated board — or, where only a
// person can, a double-tap prompt with a deadline.

import { access } from "node:fs/promises";
import { ENTRIES, manualEntries, pickEntry } from "../../entry/index.js";
import { followUsbTo, usbText } from "../../entry/follow-usb.js";
import { awaitManualEntry, MANUAL_ENTRY_TIMEOUT_MS } from "../../entry/manual.js";
import { touch1200 } from "../../entry/touch.js";
import type { FlashContext } from "../../flash-api/adapter.js";
import { DryRunStopError, NoEntryError } from "../../flash-api/errors.js";
import { findTarget, type Target } from "../../targets/index.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { PortNotFoundError } from "../../transport/serial-errors.js";
import { openSerial } from "../../transport/serial.js";
import { hasUsbId, isKlipperUsb, usbId, UsbTree, type UsbInfo } from "../../transport/usb-tree.js";
import type { MonitorVersion } from "./codec.js";
import { SamBaNoAnswerError } from "./errors.js";
import { SambaSession, type SambaTransport } from "./session.js";

/** The SAM3/SAM4 ROM monitor's own USB id. */
export const SAMBA_ROM_USB_ID = "03eb:6124";
/** The Arduino Due's programming port (ATmega16U2 USB-serial): a touch there erases the SAM3X. */
export const DUE_PROGRAMMING_PORT_USB_ID = "2341:003d";
/** USB-serial bridges (FTDI, CP210x, CH340, PL2303): the monitor behind them talks UART. */
export const USB_SERIAL_VENDORS = ["0403", "10c4", "1a86", "067b"];
/** The UART speed of the ROM and the Arduino monitors (bossac's default). */
export const SAMBA_UART_BAUD = 115200;
/** USB CDC ignores the speed; bossac opens at this one. */
export const SAMBA_USB_BAUD = 921600;
/** After a touch, how long the monitor may take to answer on the port it came back on. */
export const MONITOR_ANSWER_TIMEOUT_MS = 3000;

export interface ReachOptions {
  device: string;
  target: Target;
  baud?: number;
  /** Talk USB CDC or UART whatever the port looks like (tests, unusual adapters). */
  transport?: SambaTransport;
  tree?: UsbTree;
  procRoot?: string;
  wrapTransport?: (t: ByteTransport) => ByteTransport;
  /** Opens a port (tests); default: the serial port at the given speed. */
  open?: (path: string, baud: number) => Promise<ByteTransport>;
  followTimeoutMs?: number;
  manualTimeoutMs?: number;
}

export interface Reached {
  link: ByteTransport;
  session: SambaSession;
  version: MonitorVersion;
  /** The tty the monitor answers on. */
  path: string;
  transport: SambaTransport;
  /** How the board got into the monitor: it was there, a touch, a touch that erased, a person. */
  entered: "already" | "touch" | "erasing-touch" | "manual";
}

const linkText = (t: SambaTransport, baud: number) =>
  t === "usb" ? "USB CDC" : `UART at ${baud} baud`;

function transportOf(target: Target, usb: UsbInfo | undefined, inSysfs: boolean): SambaTransport {
  if (!inSysfs) return target.transports[0] === "uart" ? "uart" : "usb";
  if (!usb) return "uart";
  if (usbId(usb) === DUE_PROGRAMMING_PORT_USB_ID || USB_SERIAL_VENDORS.includes(usb.vid))
    return "uart";
  return "usb";
}

/** Finds or enters the monitor behind `o.device`; returns an open, greeted session. */
export async function reachMonitor(o: ReachOptions, ctx: FlashContext): Promise<Reached> {
  const tree = o.tree ?? new UsbTree();
  const tty = await tree.resolveTty(o.device);
  if (!tty && !o.open)
    await access(o.device).catch(() => Promise.reject(new PortNotFoundError(o.device)));
  const usb = tty?.usb;
  const transport = o.transport ?? transportOf(o.target, usb, !!tty);
  const baud =
    o.baud ?? (transport === "uart" ? (o.target.defaultBaud ?? SAMBA_UART_BAUD) : SAMBA_USB_BAUD);
  const open = async (path: string): Promise<ByteTransport> => {
    const l = o.open
      ? await o.open(path, baud)
      : await openSerial({
          path,
          baudRate: baud,
          clock: ctx.clock,
          ...(o.procRoot ? { procRoot: o.procRoot } : {}),
        });
    return o.wrapTransport ? o.wrapTransport(l) : l;
  };
  /** Opens `path` and greets; undefined (and closed) when nothing answers. */
  const tryMonitor = async (path: string): Promise<Omit<Reached, "entered"> | undefined> => {
    const link = await open(path);
    try {
      const session = new SambaSession(link, transport, ctx.signal);
      const version = await session.init();
      if (version) return { link, session, version, path, transport };
    } catch (e) {
      await link.close();
      throw e;
    }
    await link.close();
    return undefined;
  };
  /** Keeps trying until the monitor answers or the deadline passes. */
  const awaitMonitor = async (path: string, timeoutMs: number) => {
    const deadline = ctx.clock.now() + timeoutMs;
    for (;;) {
      const r = await tryMonitor(path).catch((e: unknown) => {
        if (ctx.clock.now() >= deadline) throw e;
        return undefined; // the port may not be back yet
      });
      if (r || ctx.clock.now() >= deadline) return r;
    }
  };

  const path = tty?.devPath ?? o.device;
  const bootIds = [...o.target.usbIds, SAMBA_ROM_USB_ID];
  const katapultIds = findTarget("katapult").usbIds;
  const inKatapult = (u: UsbInfo, port: string) =>
    new SamBaNoAnswerError({
      port,
      link: "USB CDC",
      got: undefined,
      found: `Katapult (${usbText(u)})`,
    });
  if (usb && hasUsbId(usb, katapultIds)) throw inKatapult(usb, o.device);
  // a port that answers as the monitor is used as it is; Klipper (by its USB id) is not asked
  const already = usb && isKlipperUsb(usb) ? undefined : await tryMonitor(path);
  if (already) return { ...already, entered: "already" };

  const found = usb ? usbText(usb) : undefined;
  const noAnswer = () =>
    new SamBaNoAnswerError({
      port: o.device,
      link: linkText(transport, baud),
      got: undefined,
      found,
    });
  const entry = usb ? pickEntry(o.target, "usb-cdc") : undefined;
  const manual = manualEntries(o.target).find((e) => e === "double-reset");
  if (ctx.dryRun) {
    if (entry) throw new DryRunStopError(o.device, ENTRIES[entry].wouldDo);
    if (manual) throw new DryRunStopError(o.device, ENTRIES[manual].wouldDo);
    throw noAnswer();
  }
  const expected = o.target.bootloader;

  if (usb && entry === "1200-baud-touch") {
    if (usbId(usb) === DUE_PROGRAMMING_PORT_USB_ID) {
      ctx.emit({
        type: "info",
        message: `${o.device} is the Due's programming port: the 1200-baud touch makes the 16U2 erase the SAM3X's flash and start its ROM — the old firmware is gone from this moment`,
        data: { entry, erases: true },
      });
      await touch1200(path, o.procRoot);
      const r = await awaitMonitor(path, MONITOR_ANSWER_TIMEOUT_MS);
      if (r) return { ...r, entered: "erasing-touch" };
      throw noAnswer();
    }
    ctx.emit({
      type: "info",
      message: `${o.device} runs ${isKlipperUsb(usb) ? "Klipper" : "an application"} (${found}): 1200-baud touch to enter ${expected}`,
      data: { entry },
    });
    const oldId = usbId(usb);
    await touch1200(path, o.procRoot);
    const accept = (u: UsbInfo) => hasUsbId(u, bootIds) || usbId(u) !== oldId;
    const follow = (timeoutMs: number) =>
      followUsbTo(
        tree,
        { device: o.device, usbPath: usb.usbPath, expected, accept },
        { clock: ctx.clock, timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) },
      );
    const tty2 = await follow(o.followTimeoutMs ?? 5000).catch(async (e: unknown) => {
      if (!manual) throw e;
      let got: Awaited<ReturnType<typeof follow>> | undefined;
      await awaitManualEntry({
        board: o.device,
        entry: manual,
        expected,
        clock: ctx.clock,
        emit: (ev) => ctx.emit(ev),
        timeoutMs: o.manualTimeoutMs ?? MANUAL_ENTRY_TIMEOUT_MS,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        ready: async () => !!(got = await follow(0).catch(() => undefined)),
      });
      return got!;
    });
    ctx.emit({
      type: "info",
      message: `USB port ${usb.usbPath} came back as ${usbText(tty2.usb!)} on ${tty2.name}`,
    });
    if (tty2.usb && hasUsbId(tty2.usb, katapultIds)) throw inKatapult(tty2.usb, tty2.devPath);
    const r = await awaitMonitor(tty2.devPath, MONITOR_ANSWER_TIMEOUT_MS);
    if (r) return { ...r, entered: "touch" };
    throw noAnswer();
  }
  if (manual) {
    let r: Omit<Reached, "entered"> | undefined;
    await awaitManualEntry({
      board: o.device,
      entry: manual,
      expected,
      clock: ctx.clock,
      emit: (ev) => ctx.emit(ev),
      timeoutMs: o.manualTimeoutMs ?? MANUAL_ENTRY_TIMEOUT_MS,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ready: async () => !!(r = await tryMonitor(path).catch(() => undefined)),
    });
    return { ...r!, entered: "manual" };
  }
  if (usb && !entry)
    throw new NoEntryError(
      o.device,
      o.target.id,
      manualEntries(o.target),
      found ?? "an application",
    );
  throw noAnswer();
}
