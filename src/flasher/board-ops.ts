// One board, no flash: its bootloader's status (-s), or asking it into its
// bootloader and leaving it there (-r). The row picks the driver (a CAN
// UUID or a tty without a target: Katapult); refusals that need nothing
// from the board come before the Klipper guard and before any bus or port is
// opened. Klipper, stopped for it, stays stopped: it could not talk to a
// board that waits in its bootloader.

import { driverFor } from "../bootloaders/index.js";
import type { CanBus } from "../can/bus.js";
import { CanBootloaderGate } from "../entry/index.js";
import type {
  BootloaderDriver,
  DriverEnv,
  Link,
  RequestReport,
  StatusReport,
} from "../flash-api/driver.js";
import { RequestImpossibleError } from "../flash-api/errors.js";
import type { FlashEvent } from "../flash-api/progress.js";
import { findTarget, type Target } from "../targets/index.js";
import type { ByteTransport } from "../transport/byte-transport.js";
import { TracedTransport } from "../transport/trace.js";
import type { UsbTree } from "../transport/usb-tree.js";
import { realClock } from "../util/clock.js";
import { isSimulatedInterface, openBus, type TraceSink } from "./buses.js";
import { lockBoards, lockKeyOf } from "./locks.js";
import { checkLink } from "./link-check.js";
import { guardKlipperKeepStopped, type GuardOptions, type KlipperEvent } from "./guard.js";
import {
  KATAPULT_TARGET_ID,
  linkWhere,
  UsbTargetNeededError,
  type FlashRequest,
} from "./requests.js";
import { usbRowsFor } from "./usb-devices.js";
import { usbBackend } from "../usb/backends.js";
import type { UsbBackend } from "../usb/device.js";

export interface BoardOpOptions {
  /** The Klipper guard (the board is left in its bootloader: a stopped Klipper stays stopped). */
  klipper: Omit<GuardOptions, "dryRun" | "onEvent">;
  signal?: AbortSignal;
  onEvent?: (e: FlashEvent | KlipperEvent) => void;
  trace?: TraceSink;
  usbTree?: UsbTree;
  procRoot?: string;
  /** Where block devices and /dev/disk/by-label live (tests: a fake tree). */
  devRoot?: string;
  /** Where the per-board lock files go (default: /run/lock, else the temp folder). */
  lockDir?: string;
  /** USB boards: the backend (default: by name from the environment, see usb/backends.ts). */
  usbBackend?: UsbBackend;
}

export interface BoardOpRequest {
  link: FlashRequest["link"];
  /** The row; absent: Katapult. */
  target?: Target;
}

interface Prepared {
  target: Target;
  driver: BootloaderDriver;
}

async function prepare(r: BoardOpRequest): Promise<Prepared> {
  const target = r.target ?? (await defaultTarget(r.link));
  const driver = await driverFor(target);
  checkLink(
    target,
    driver,
    r.link.kind,
    r.link.kind === "serial" ? r.link.mode : undefined,
    r.link.kind === "serial" ? r.link.lines : undefined,
  );
  return { target, driver };
}

/** Without a row: Katapult, or for a USB device the one row its USB id belongs to. */
async function defaultTarget(link: FlashRequest["link"]): Promise<Target> {
  if (link.kind !== "usb") return findTarget(KATAPULT_TARGET_ID);
  const rows = await usbRowsFor(link.selector);
  if (link.selector.vendorId === undefined || rows.length !== 1)
    throw new UsbTargetNeededError(
      link.spec,
      "",
      (rows.length > 1 ? rows : await usbRowsFor({})).map((t) => t.id),
    );
  return rows[0]!;
}

async function withLink<T>(
  r: BoardOpRequest,
  o: BoardOpOptions,
  assignNodeIds: boolean,
  body: (link: Link, env: DriverEnv) => Promise<T>,
): Promise<T> {
  const label = linkWhere(r.link, r.target);
  const unlock =
    r.link.kind === "can" && isSimulatedInterface(r.link.iface)
      ? () => undefined
      : lockBoards([{ board: label, key: lockKeyOf(r.link) }], o.lockDir);
  try {
    return await withLocked(r, o, assignNodeIds, body, label);
  } finally {
    unlock();
  }
}

async function withLocked<T>(
  r: BoardOpRequest,
  o: BoardOpOptions,
  assignNodeIds: boolean,
  body: (link: Link, env: DriverEnv) => Promise<T>,
  label: string,
): Promise<T> {
  const env = (clock = realClock): DriverEnv => ({
    clock,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.trace ? { wrapTransport: (t: ByteTransport) => new TracedTransport(t, o.trace!) } : {}),
    ...(o.usbTree ? { usbTree: o.usbTree } : {}),
    ...(o.procRoot ? { procRoot: o.procRoot } : {}),
    ...(o.usbBackend ? { usbBackend: o.usbBackend } : {}),
    ...(o.devRoot ? { devRoot: o.devRoot } : {}),
    ...(o.onEvent ? { emit: o.onEvent } : {}),
  });
  // A drive, or a board in a USB bootloader of its own, is no Klipper MCU: nothing for the guard.
  if (r.link.kind === "drive")
    return body(
      { kind: "drive", ...(r.link.device !== undefined ? { device: r.link.device } : {}) },
      env(),
    );
  if (r.link.kind === "openocd") return body(r.link, env()); // a chip on SWD: no Klipper holds it
  if (r.link.kind === "usb")
    return body(
      {
        kind: "usb",
        selector: r.link.selector,
        backend: o.usbBackend ?? usbBackend(r.link.backend),
        label: r.link.spec,
      },
      env(),
    );
  await guardKlipperKeepStopped(
    {
      label,
      ...(r.link.kind === "can"
        ? { uuid: r.link.uuid, iface: r.link.iface }
        : r.link.device !== undefined
          ? { device: r.link.device }
          : {}),
    },
    { ...o.klipper, ...(o.onEvent ? { onEvent: o.onEvent } : {}) },
  );
  if (r.link.kind === "serial")
    return body(
      {
        kind: "serial",
        device: r.link.device,
        ...(r.link.baud !== undefined ? { baud: r.link.baud } : {}),
        ...(r.link.mode ? { mode: r.link.mode } : {}),
        ...(r.link.lines ? { lines: r.link.lines } : {}),
      },
      env(),
    );
  const { iface, uuid } = r.link;
  const bus: CanBus = await openBus(iface, o.trace);
  try {
    const gate = new CanBootloaderGate(bus, [uuid], {
      assignNodeIds,
      ...(o.signal ? { signal: o.signal } : {}),
      onRequest: (_u, why) =>
        o.onEvent?.({
          type: "info",
          message:
            why === "answered-as-klipper"
              ? `${uuid} runs Klipper: requested its bootloader`
              : `${uuid} did not answer: requested its bootloader`,
          data: { requestBootloader: uuid, why },
        }),
    });
    return await body({ kind: "can", iface, bus, uuid, gate }, env(bus.clock));
  } finally {
    await bus.close();
  }
}

/** Connects to the board's bootloader (asking it in first where needed) and reports. */
export async function bootloaderStatus(
  r: BoardOpRequest,
  o: BoardOpOptions,
): Promise<StatusReport> {
  const { target, driver } = await prepare(r);
  return withLink(r, o, true, (link, env) => driver.status(target, link, env));
}

/** Asks the board into its bootloader and leaves it there. Throws RequestImpossibleError first where it cannot stay. */
export async function enterBootloader(
  r: BoardOpRequest,
  o: BoardOpOptions,
): Promise<RequestReport> {
  const { target, driver } = await prepare(r);
  const request = driver.request?.bind(driver);
  if (!request)
    throw new RequestImpossibleError(
      target.bootloader.split(" (")[0]!,
      target.id,
      linkWhere(r.link, target),
      target.listenWindowMs,
    );
  return withLink(r, o, false, (link, env) => request(target, link, env));
}
