// OpenOCD's remote_bitbang peer: a TCP server that reads the one-byte
// commands of its socket protocol and drives a JTAG TAP model with them —
// '0'..'7' set TCK/TMS/TDI (bits 2/1/0; a TCK rise clocks the TAP), 'R'
// answers TDO as '0'/'1', 'r'/'s'/'t'/'u' set TRST/SRST (TRST resets the
// TAP), 'B'/'b' the LED, 'Q' ends the session. For tests of canflash's
// OpenOCD driver against the real openocd ("target found", "wrong id").

import { createServer, type Server, type Socket } from "node:net";
import type { JtagTap } from "./tap.js";

export interface RemoteBitbangStats {
  writes: number;
  reads: number;
  resets: number;
  quit: boolean;
}

export class RemoteBitbangServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private tck = 0;
  readonly stats: RemoteBitbangStats = { writes: 0, reads: 0, resets: 0, quit: false };
  /** The SRST line as last set (true: asserted). */
  srst = false;

  private constructor(private readonly tap: JtagTap) {
    this.server = createServer((s) => this.serve(s));
  }

  /** Listens on a free localhost port. */
  static async listen(tap: JtagTap): Promise<RemoteBitbangServer> {
    const b = new RemoteBitbangServer(tap);
    await new Promise<void>((resolve) => b.server.listen(0, "127.0.0.1", resolve));
    return b;
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === "object" && a ? a.port : 0;
  }

  private serve(s: Socket): void {
    this.sockets.add(s);
    s.setNoDelay(true);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => undefined);
    s.on("data", (chunk: Buffer) => {
      let reply = "";
      for (const c of chunk.toString("latin1")) reply += this.command(c, s);
      if (reply && !s.destroyed) s.write(reply, "latin1");
    });
  }

  /** One protocol byte; returns what goes back (only 'R' answers). */
  private command(c: string, s: Socket): string {
    if (c >= "0" && c <= "7") {
      const v = c.charCodeAt(0) - 48;
      const tck = (v >> 2) & 1;
      if (tck && !this.tck) this.tap.clock(((v >> 1) & 1) as 0 | 1, (v & 1) as 0 | 1);
      this.tck = tck;
      this.stats.writes++;
      return "";
    }
    switch (c) {
      case "R":
        this.stats.reads++;
        return this.tap.tdo ? "1" : "0";
      case "r":
      case "s":
      case "t":
      case "u": {
        const trst = c === "t" || c === "u";
        this.srst = c === "s" || c === "u";
        if (trst) this.tap.reset();
        this.stats.resets++;
        return "";
      }
      case "Q":
        this.stats.quit = true;
        s.end();
        return "";
      default:
        return ""; // 'B'/'b' (LED) and anything newer: nothing to do
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
