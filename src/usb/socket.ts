// The socket USB backend (tests, and the real host tools through the
// stand-in libusb): each path in CANFLASH_USB_SOCKETS is one device, served
// by a model (src/sim/usb/serve.ts) in the format of wire.ts. A path that
// refuses the connection is an unplugged device. One connection per opened
// handle; requests on it go one at a time, as the format has no tags.

import { connect, type Socket } from "node:net";
import { realClock, type Clock } from "../util/clock.js";
import type { UsbBackend, UsbDevice, UsbDeviceInfo } from "./device.js";
import { UsbBackendMissingError, UsbStatus } from "./errors.js";
import { RequestHost, describeModel } from "./request-host.js";
import { encodeRequest, isIn, type UsbReply, type UsbRequest } from "./wire.js";

/** The environment variable with the colon-separated socket paths. */
export const USB_SOCKETS_ENV = "CANFLASH_USB_SOCKETS";
/** How long a connect to a socket path may take before the device counts as absent, ms. */
export const SOCKET_CONNECT_TIMEOUT_MS = 1000;

/** The socket paths of `env` (empty entries dropped). */
export function socketPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[USB_SOCKETS_ENV] ?? "").split(":").filter((p) => p.length > 0);
}

/**
 * The bus/port path a socket device reports: bus 1, port = its place in the
 * list (the stand-in libusb numbers them the same way, so `dfu-util -p`
 * and canflash name one device alike).
 */
export const socketPortPath = (index: number): string => `1-${index + 1}`;

/** One connection to a model: sends a request, reads its reply. */
export class SocketChannel {
  private buf = Buffer.alloc(0);
  private waiting: { need: number; resolve: (b: Buffer | undefined) => void } | undefined;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly sock: Socket) {
    sock.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.pump();
    });
    const end = () => {
      this.closed = true;
      this.pump();
    };
    sock.on("close", end);
    sock.on("error", end);
  }

  /** Connects; resolves undefined when the path refuses (an unplugged device) or does not exist. */
  static open(path: string, clock: Clock = realClock): Promise<SocketChannel | undefined> {
    return new Promise((resolve) => {
      const sock = connect(path);
      const cancel = clock.schedule(SOCKET_CONNECT_TIMEOUT_MS, () => {
        sock.destroy();
        resolve(undefined);
      });
      sock.once("connect", () => {
        cancel();
        resolve(new SocketChannel(sock));
      });
      sock.once("error", () => {
        cancel();
        resolve(undefined);
      });
    });
  }

  /** Sends one request after the ones before it; a dropped connection is NO_DEVICE. */
  send(r: UsbRequest): Promise<UsbReply> {
    const next = this.queue.then(() => this.exchange(r));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.closed = true;
    this.sock.destroy();
    this.pump();
  }

  private async exchange(r: UsbRequest): Promise<UsbReply> {
    if (this.closed) return { status: UsbStatus.NO_DEVICE };
    this.sock.write(encodeRequest(r));
    const head = await this.read(4);
    if (!head) return { status: UsbStatus.NO_DEVICE };
    const status = head.readInt32LE(0);
    if (status <= 0 || !isIn(r)) return { status };
    const data = await this.read(status);
    if (!data) return { status: UsbStatus.NO_DEVICE };
    return { status, data: new Uint8Array(data) };
  }

  private read(n: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      this.waiting = { need: n, resolve };
      this.pump();
    });
  }

  private pump(): void {
    const w = this.waiting;
    if (!w) return;
    if (this.buf.length >= w.need) {
      this.waiting = undefined;
      const out = this.buf.subarray(0, w.need);
      this.buf = this.buf.subarray(w.need);
      w.resolve(Buffer.from(out));
    } else if (this.closed) {
      this.waiting = undefined;
      w.resolve(undefined);
    }
  }
}

export class SocketUsbBackend implements UsbBackend {
  readonly name = "socket";
  constructor(
    private readonly paths: () => readonly string[],
    private readonly clock: Clock = realClock,
  ) {}

  /** The backend over CANFLASH_USB_SOCKETS; throws UsbBackendMissingError when it is unset. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): SocketUsbBackend {
    if (socketPaths(env).length === 0)
      throw new UsbBackendMissingError("socket", undefined, `${USB_SOCKETS_ENV} is not set`);
    return new SocketUsbBackend(() => socketPaths(env));
  }

  async list(): Promise<UsbDeviceInfo[]> {
    const paths = this.paths();
    const found = await Promise.all(
      paths.map(async (path, i) => {
        const ch = await SocketChannel.open(path, this.clock);
        if (!ch) return undefined;
        try {
          return await describeModel(this.name, path, socketPortPath(i), (r) => ch.send(r));
        } catch {
          return undefined;
        } finally {
          ch.close();
        }
      }),
    );
    return found.filter((d): d is UsbDeviceInfo => d !== undefined);
  }

  async open(info: UsbDeviceInfo): Promise<UsbDevice> {
    const ch = await SocketChannel.open(info.id, this.clock);
    if (!ch) return RequestHost.gone(info);
    try {
      return await RequestHost.open(
        info,
        (r) => ch.send(r),
        async () => ch.close(),
        this.clock,
      );
    } catch (e) {
      ch.close();
      throw e;
    }
  }
}
