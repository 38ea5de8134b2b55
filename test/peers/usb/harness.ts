// The real host tools against USB device models: the stand-in libusb
// (libusb-stand-in.c, built here with gcc against Debian's
// libusb-1.0-0-dev) is LD_PRELOADed into the tool, and each model is
// served on its own Unix socket (src/sim/usb/serve.ts), listed in
// CANFLASH_USB_SOCKETS. The tools run as child processes while the models
// answer in this process, so every spawn here is asynchronous.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { serveUsbModel, type ServedModel } from "../../../src/sim/usb/serve.js";
import type { UsbDeviceModel } from "../../../src/usb/model.js";

const exec = promisify(execFile);
const SOURCE = new URL("./libusb-stand-in.c", import.meta.url).pathname;

/** Builds the stand-in once per source version; resolves the .so path. */
export async function buildStandIn(): Promise<string> {
  const src = readFileSync(SOURCE);
  const hash = createHash("sha1").update(src).digest("hex").slice(0, 12);
  const out = join(tmpdir(), `canflash-libusb-stand-in-${hash}.so`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}`;
  await exec("gcc", [
    "-shared",
    "-fPIC",
    "-O2",
    "-Wall",
    "-I/usr/include/libusb-1.0",
    "-o",
    tmp,
    SOURCE,
  ]);
  await exec("mv", [tmp, out]);
  return out;
}

export interface ServedSet {
  dir: string;
  paths: string[];
  /** CANFLASH_USB_SOCKETS for the served models. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Serves each model on its own socket in a fresh folder. */
export async function serveModels(models: readonly UsbDeviceModel[]): Promise<ServedSet> {
  const dir = mkdtempSync(join(tmpdir(), "canflash-usb-peer-"));
  const served: ServedModel[] = models.map((m, i) => serveUsbModel(m, join(dir, `dev${i}.sock`)));
  await Promise.all(served.map((s) => s.ready()));
  const paths = served.map((s) => s.path);
  return {
    dir,
    paths,
    env: { CANFLASH_USB_SOCKETS: paths.join(":") },
    close: async () => {
      for (const s of served) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A whole tool run. */
export const TOOL_TIMEOUT_MS = 120_000;

/** Runs a host tool with the stand-in preloaded (asynchronously: the models live in this process). */
export async function runTool(
  cmd: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<ToolResult> {
  const lib = await buildStandIn();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...env, LD_PRELOAD: lib },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), TOOL_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function writeTemp(dir: string, name: string, data: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}
