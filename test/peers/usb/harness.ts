// The USB peers lane: device models served on Unix sockets in the socket
// format (src/usb/wire.ts), the project's stand-in libusb built with gcc
// against Debian's headers, and the real host tools run with it preloaded.
// serveModel is a minimal server for this lane until the seam's own socket
// server (src/sim/usb/serve.ts) is on this branch: one connection per
// handle, requests answered in order, nothing listening while the model is
// unplugged.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { UsbDeviceModel } from "../../../src/usb/model.js";
import { decodeRequestHeader, encodeReply, isIn, REQUEST_HEADER } from "../../../src/usb/wire.js";

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

export interface Served {
  path: string;
  close(): Promise<void>;
}

function serveConnection(model: UsbDeviceModel, sock: Socket): void {
  let buf = Buffer.alloc(0);
  let chain = Promise.resolve();
  sock.on("error", () => undefined);
  sock.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < REQUEST_HEADER) return;
      const { request, payload } = decodeRequestHeader(buf.subarray(0, REQUEST_HEADER));
      if (buf.length < REQUEST_HEADER + payload) return;
      const data = new Uint8Array(buf.subarray(REQUEST_HEADER, REQUEST_HEADER + payload));
      buf = buf.subarray(REQUEST_HEADER + payload);
      const r =
        (request.op === "control" || request.op === "transfer") && !isIn(request)
          ? { ...request, data }
          : request;
      chain = chain.then(async () => {
        const reply = await model.handle(r);
        if (!sock.destroyed) sock.write(encodeReply(reply));
      });
    }
  });
}

/** Serves `model` on a socket path; the listener follows the model's plug state. */
export function serveModel(model: UsbDeviceModel, name: string): Served {
  const path = join(dir, `${name}.sock`);
  let server: Server | undefined;
  const conns = new Set<Socket>();
  const listen = () => {
    try {
      unlinkSync(path);
    } catch {
      /* not there */
    }
    server = createServer((s) => {
      conns.add(s);
      s.on("close", () => conns.delete(s));
      serveConnection(model, s);
    });
    server.listen(path);
  };
  const stop = () => {
    server?.close();
    server = undefined;
    for (const s of conns) s.destroy();
  };
  const off = model.onPlug((g) => (g === undefined ? stop() : listen()));
  if (model.generation !== undefined) listen();
  return {
    path,
    close: async () => {
      off();
      stop();
    },
  };
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
