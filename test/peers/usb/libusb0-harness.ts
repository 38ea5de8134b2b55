// The USB peers lane: device models served on Unix sockets in the socket
// format (src/usb/wire.ts), the project's stand-in libusb built with gcc
// against Debian's headers, and the real host tools run with it preloaded.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { UsbDeviceModel } from "../../../src/usb/model.js";
import { serveUsbModel, type ServedModel } from "../../../src/sim/usb/serve.js";

const run = promisify(execFile);
export const dir = mkdtempSync(join(tmpdir(), "canflash-usb-peers-"));
export const removeTempFiles = () => rmSync(dir, { recursive: true, force: true });

/** Builds a stand-in library (test/peers/usb/<name>.c) against Debian's libusb headers. */
export async function buildStandIn(name: string): Promise<string> {
  const out = join(dir, `${name}.so`);
  await run("gcc", [
    "-shared",
    "-fPIC",
    "-O2",
    "-Wall",
    "-o",
    out,
    join(import.meta.dirname, `${name}.c`),
  ]);
  return out;
}

/** Serves `model` on a socket path in the lane's folder (src/sim/usb/serve.ts). */
export async function serveModel(model: UsbDeviceModel, name: string): Promise<ServedModel> {
  const served = serveUsbModel(model, join(dir, `${name}.sock`));
  await served.ready();
  return served;
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a host tool with the stand-in preloaded and the sockets as its device list. */
export function runTool(
  cmd: string,
  args: string[],
  o: { preload: string; sockets: string[]; timeoutMs: number },
): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, LD_PRELOAD: o.preload, CANFLASH_USB_SOCKETS: o.sockets.join(":") },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
