// The real openocd 0.12 against canflash's SWD target model: a CMSIS-DAP v2
// probe model (src/sim/usb/cmsis-dap.ts) with a SAM D21/C21 behind it,
// served on a Unix socket; openocd runs with the stand-in libusb preloaded
// (test/peers/usb/libusb-stand-in.c) and CANFLASH_USB_SOCKETS naming the
// socket, and finds the probe as it finds a real one (usb_bulk backend).
// startSwdTarget() is the helper other tests use (canflash's own OpenOCD
// end-to-end test); openocdConfig() writes the target part of a config.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveUsbModel } from "../../../src/sim/usb/serve.js";
import { CmsisDapModel, type CmsisDapModelOptions } from "../../../src/sim/usb/cmsis-dap.js";
import type { SamdPartName } from "../../../src/sim/swd/samd-chips.js";
import type { SamdTarget, SamdTargetOptions } from "../../../src/sim/swd/samd-target.js";
import { buildStandIn } from "../usb/harness.js";

export interface SwdTargetHandle {
  socketPath: string;
  /** LD_PRELOAD (the stand-in libusb) and CANFLASH_USB_SOCKETS for openocd. */
  env: Record<string, string>;
  /**
   * An `openocd` wrapper script that preloads the stand-in and names the
   * socket itself, for a program that spawns openocd (canflash's driver):
   * put `binDir` first in its PATH, or pass `openocdPath` as the binary, and
   * nothing else in that process gets the preload.
   */
  openocdPath: string;
  binDir: string;
  model: CmsisDapModel;
  target: SamdTarget;
  flashDump(length?: number): Uint8Array;
  userRow(): Uint8Array;
  close(): Promise<void>;
}

export interface StartSwdTargetOptions extends Omit<SamdTargetOptions, "part" | "clock" | "flash"> {
  chip?: SamdPartName;
  /** The flash's contents at the start. */
  flash?: Uint8Array;
  packetSize?: CmsisDapModelOptions["packetSize"];
}

/** Serves a CMSIS-DAP probe model with a SAM D/C target on a fresh socket. */
export async function startSwdTarget(o: StartSwdTargetOptions = {}): Promise<SwdTargetHandle> {
  const { chip, packetSize, ...samd } = o;
  const model = new CmsisDapModel({
    samd: { part: chip ?? "samc21g18a", ...samd },
    ...(packetSize ? { packetSize } : {}),
  });
  const dir = mkdtempSync(join(tmpdir(), "canflash-swd-"));
  const socketPath = join(dir, "cmsis-dap.sock");
  const served = serveUsbModel(model, socketPath);
  await served.ready();
  const lib = await buildStandIn();
  const target = model.samd!;
  const openocdPath = join(dir, "openocd");
  writeFileSync(
    openocdPath,
    `#!/bin/sh\nLD_PRELOAD='${lib}' CANFLASH_USB_SOCKETS='${socketPath}' exec /usr/bin/openocd "$@"\n`,
  );
  chmodSync(openocdPath, 0o755);
  return {
    socketPath,
    env: { LD_PRELOAD: lib, CANFLASH_USB_SOCKETS: socketPath },
    openocdPath,
    binDir: dir,
    model,
    target,
    flashDump: (length) => target.flashDump(length),
    userRow: () => target.userRow(),
    close: async () => {
      await served.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OpenocdConfigOptions {
  /** openocd's CHIPNAME: at91samc21, at91samd21 … */
  chipName?: string;
  /** kHz; the target config's default is 400. */
  speedKhz?: number;
  /**
   * Keep openocd's gdb (3333), telnet (4444) and TCL RPC (6666) servers.
   * Default: all disabled, so that runs on one machine do not fight over
   * the ports; a driver that talks TCL RPC sets this (and its own tcl_port).
   */
  servers?: boolean;
}

/**
 * The config for a CMSIS-DAP v2 probe on USB bulk, SWD, a SAM D/C target
 * with no work area (openocd writes through the NVM page buffer and
 * verifies by reading back: nothing runs on the core).
 */
export function openocdConfig(o: OpenocdConfigOptions = {}): string {
  return [
    ...(o.servers ? [] : ["gdb_port disabled", "telnet_port disabled", "tcl_port disabled"]),
    "adapter driver cmsis-dap",
    "cmsis_dap_backend usb_bulk",
    "transport select swd",
    `set CHIPNAME ${o.chipName ?? "at91samc21"}`,
    "set WORKAREASIZE 0",
    "source [find target/at91samdXX.cfg]",
    ...(o.speedKhz ? [`adapter speed ${o.speedKhz}`] : []),
  ].join("\n");
}

export interface OpenocdResult {
  code: number | null;
  /** stdout and stderr together, in order (openocd logs to stderr). */
  output: string;
}

/** A whole openocd run. */
export const OPENOCD_TIMEOUT_MS = 120_000;

/** Runs /usr/bin/openocd with a config file's text and commands (-c each). */
export function runOpenocd(
  config: string,
  commands: readonly string[],
  env: Record<string, string>,
  extraArgs: readonly string[] = [],
  binary = "openocd",
): Promise<OpenocdResult> {
  const args = [
    ...extraArgs,
    "-c",
    config.split("\n").join("; "),
    ...commands.flatMap((c) => ["-c", c]),
  ];
  return new Promise((resolve) => {
    const child = spawn(binary, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), OPENOCD_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A free TCP port on 127.0.0.1 (for openocd's tcl_port). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

/** Until openocd's TCL server accepts, ms. */
export const RPC_CONNECT_TIMEOUT_MS = 10_000;
/** Between connection attempts while openocd starts, ms. */
export const RPC_CONNECT_RETRY_MS = 50;

/**
 * A bare TCL RPC client for the tests (commands and replies end in 0x1A):
 * enough to drive a long-running openocd against the model the way a
 * driver does. canflash's own client lives in its OpenOCD driver.
 */
export async function openocdRpc(
  port: number,
): Promise<{ send(cmd: string): Promise<string>; close(): void }> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + RPC_CONNECT_TIMEOUT_MS;
  const sock = await new Promise<import("node:net").Socket>((resolve, reject) => {
    const attempt = () => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => resolve(s));
      s.once("error", (e) => {
        s.destroy();
        if (Date.now() > deadline) reject(e);
        else setTimeout(attempt, RPC_CONNECT_RETRY_MS);
      });
    };
    attempt();
  });
  let buf = "";
  let waiter: ((reply: string) => void) | undefined;
  sock.on("data", (d: Buffer) => {
    buf += d.toString("latin1");
    const end = buf.indexOf("\x1a");
    if (end >= 0 && waiter) {
      const reply = buf.slice(0, end);
      buf = buf.slice(end + 1);
      const w = waiter;
      waiter = undefined;
      w(reply);
    }
  });
  return {
    send: (cmd) =>
      new Promise((resolve) => {
        waiter = resolve;
        sock.write(`${cmd}\x1a`);
      }),
    close: () => sock.destroy(),
  };
}

/** One PT_LOAD segment: its bytes, where it runs (vaddr) and where it is loaded (paddr); memsz past the bytes is zero-filled (.bss). */
export interface ElfSegment {
  data: Uint8Array;
  vaddr: number;
  paddr?: number;
  memsz?: number;
}

/** A minimal ELF32 (little-endian, ARM, executable) with one PT_LOAD segment of `data` at `address`. */
export function elf(data: Uint8Array, address: number): Uint8Array {
  return elfSegments([{ data, vaddr: address }], address);
}

/** A minimal ELF32 with these PT_LOAD segments (as a linker lays out .text, .data at its LMA, .bss). */
export function elfSegments(segments: readonly ElfSegment[], entry: number): Uint8Array {
  const EHDR = 52;
  const PHDR = 32;
  const body = segments.reduce((n, s) => n + s.data.length, 0);
  const b = new Uint8Array(EHDR + PHDR * segments.length + body);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]); // ELF, 32-bit, little-endian, version 1
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 40, true); // EM_ARM
  v.setUint32(20, 1, true);
  v.setUint32(24, entry | 1, true); // entry
  v.setUint32(28, EHDR, true); // phoff
  v.setUint32(36, 0x05000200, true); // EABI5, soft float
  v.setUint16(40, EHDR, true);
  v.setUint16(42, PHDR, true);
  v.setUint16(44, segments.length, true);
  v.setUint16(46, 40, true);
  let off = EHDR + PHDR * segments.length;
  segments.forEach((s, k) => {
    const p = EHDR + PHDR * k;
    v.setUint32(p, 1, true); // PT_LOAD
    v.setUint32(p + 4, off, true);
    v.setUint32(p + 8, s.vaddr, true);
    v.setUint32(p + 12, s.paddr ?? s.vaddr, true);
    v.setUint32(p + 16, s.data.length, true);
    v.setUint32(p + 20, s.memsz ?? s.data.length, true);
    v.setUint32(p + 24, s.vaddr >= 0x2000_0000 ? 6 : 5, true); // RW for RAM, R+X for flash
    v.setUint32(p + 28, 4, true);
    b.set(s.data, off);
    off += s.data.length;
  });
  return b;
}
