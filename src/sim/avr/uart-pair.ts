// A UART between a host and a simulated AVR board, in process: bytes take
// their wire time (10 bits each at the baud rate) in both directions, and
// DTR/RTS reach the board as the Arduino auto-reset circuit does (a falling
// edge of the lines resets the chip). `acceptsLines: false` models a port
// that refuses modem-control calls, like a pty.

import type { ByteTransport } from "../../transport/byte-transport.js";
import type { ModemControl } from "../../transport/modem.js";
import { MockTransport } from "../../transport/mock.js";
import type { Clock } from "../../util/clock.js";
import type { SerialLink } from "../katapult-serial.js";

export interface UartPairOptions {
  baud: number;
  acceptsLines?: boolean;
  name?: string;
}

export class SimUartPair {
  readonly host: ByteTransport & ModemControl & { readonly mock: MockTransport };
  readonly device: SerialLink;
  private deviceListener: ((b: Uint8Array) => void) | undefined;
  private resetListener: (() => void) | undefined;
  private lines = false;
  /** When the host → device direction is free again (bytes queue behind each other). */
  private txFree = 0;
  private rxFree = 0;

  constructor(
    readonly clock: Clock,
    readonly options: UartPairOptions,
  ) {
    const byteMs = 10_000 / options.baud;
    const mock = new MockTransport(
      clock,
      (bytes) => {
        const start = Math.max(clock.now(), this.txFree);
        this.txFree = start + bytes.length * byteMs;
        // Each byte arrives when its stop bit is in.
        bytes.forEach((b, i) =>
          clock.schedule(start + (i + 1) * byteMs - clock.now(), () =>
            this.deviceListener?.(Uint8Array.of(b)),
          ),
        );
        return undefined;
      },
      options.name ?? "uart",
    );
    this.host = Object.assign(mock, {
      mock,
      setLines: (l: { dtr?: boolean; rts?: boolean }): Promise<boolean> => {
        if (options.acceptsLines === false) return Promise.resolve(false);
        const asserted = !!(l.dtr ?? l.rts);
        // The reset capacitor passes the edge when the lines go from released to asserted.
        if (asserted && !this.lines) this.resetListener?.();
        this.lines = asserted;
        return Promise.resolve(true);
      },
    });
    this.device = {
      write: (bytes) => {
        const start = Math.max(clock.now(), this.rxFree);
        this.rxFree = start + bytes.length * byteMs;
        const copy = Uint8Array.from(bytes);
        clock.schedule(this.rxFree - clock.now(), () => mock.emitData(copy));
      },
      onData: (cb) => {
        this.deviceListener = cb;
      },
    };
  }

  /** The board's reset pin. */
  onReset(cb: () => void): void {
    this.resetListener = cb;
  }
}
