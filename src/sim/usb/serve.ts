// Serves a USB device model on a Unix socket path in the socket format
// (src/usb/wire.ts): canflash's socket backend and the stand-in libusb of
// the real host tools reach the model through it. While the model is
// unplugged nothing listens on the path (a connect is refused), so a
// re-enumeration is the listener closing and coming back; connections of
// the old generation are dropped once their last reply has gone out.

import { unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { UsbStatus } from "../../usb/errors.js";
import type { UsbDeviceModel } from "../../usb/model.js";
import {
  decodeRequestHeader,
  encodeReply,
  isIn,
  REQUEST_HEADER,
  WireFormatError,
  type UsbRequest,
} from "../../usb/wire.js";

export interface ServedModel {
  readonly path: string;
  /** Resolves once the listener of the current generation is up (immediately while unplugged). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

interface Conn {
  sock: Socket;
  generation: number | undefined;
  busy: boolean;
}

export function serveUsbModel(model: UsbDeviceModel, path: string): ServedModel {
  let server: Server | undefined;
  let listening: Promise<void> = Promise.resolve();
  let stopped = false;
  const conns = new Set<Conn>();

  const unlink = () => {
    try {
      unlinkSync(path);
    } catch {
      /* not there */
    }
  };

  const drop = (c: Conn) => {
    conns.delete(c);
    c.sock.destroy();
  };

  const serveConn = (sock: Socket) => {
    const c: Conn = { sock, generation: model.generation, busy: false };
    conns.add(c);
    let buf = Buffer.alloc(0);
    let pending: { request: UsbRequest; payload: number } | undefined;
    const work = async () => {
      if (c.busy) return;
      c.busy = true;
      try {
        for (;;) {
          if (!pending) {
            if (buf.length < REQUEST_HEADER) break;
            try {
              pending = decodeRequestHeader(buf.subarray(0, REQUEST_HEADER));
            } catch (e) {
              if (e instanceof WireFormatError) return drop(c);
              throw e;
            }
            buf = buf.subarray(REQUEST_HEADER);
          }
          if (buf.length < pending.payload) break;
          const { request } = pending;
          const data = new Uint8Array(buf.subarray(0, pending.payload));
          buf = buf.subarray(pending.payload);
          pending = undefined;
          if ((request.op === "control" || request.op === "transfer") && !isIn(request))
            request.data = data;
          const reply =
            c.generation === model.generation && model.generation !== undefined
              ? await model.handle(request)
              : { status: UsbStatus.NO_DEVICE };
          if (sock.destroyed) return;
          sock.write(encodeReply(reply));
          if (c.generation !== model.generation) {
            sock.end();
            conns.delete(c);
            return;
          }
        }
      } finally {
        c.busy = false;
      }
    };
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      void work();
    });
    sock.on("error", () => conns.delete(c));
    sock.on("close", () => conns.delete(c));
  };

  const listen = () => {
    unlink();
    const s = createServer(serveConn);
    server = s;
    listening = new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(path, () => resolve());
    });
  };

  const unlisten = () => {
    const s = server;
    server = undefined;
    if (s) s.close();
    unlink();
    for (const c of [...conns]) if (!c.busy) drop(c);
  };

  const off = model.onPlug((g) => {
    if (stopped) return;
    if (g === undefined) unlisten();
    else {
      unlisten();
      listen();
    }
  });
  if (model.generation !== undefined) listen();

  return {
    path,
    ready: () => listening,
    async close() {
      stopped = true;
      off();
      await listening.catch(() => undefined);
      unlisten();
      for (const c of [...conns]) drop(c);
    },
  };
}
