// OpenOCD's TCL RPC framing, as plain functions: a command is its script's
// bytes followed by 0x1a, and so is every reply. A TCP read may end inside a
// reply or hold several; RpcFrameDecoder collects bytes and hands out whole
// replies in order. OpenOCD answers with the script's result as text and no
// status, so canflash wraps each command (wrapCommand): `catch` gives the
// return code, `capture` the log lines the command printed, and `format`
// puts both in one reply, "<code> <text>", that parseWrappedReply splits.

/** The byte that ends every command and every reply (ASCII SUB). */
export const RPC_TERMINATOR = 0x1a;

/** The bytes of one command on the wire. */
export function encodeCommand(script: string): Uint8Array {
  if (script.includes("\x1a")) throw new RangeError("an OpenOCD command cannot contain 0x1a");
  const body = Buffer.from(script, "utf8");
  const out = new Uint8Array(body.length + 1);
  out.set(body, 0);
  out[body.length] = RPC_TERMINATOR;
  return out;
}

/** Collects received bytes; take() hands out each complete reply's text (without its terminator). */
export class RpcFrameDecoder {
  private pending: Uint8Array[] = [];

  /** Adds a chunk as read from the socket; returns the replies it completed, oldest first. */
  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== RPC_TERMINATOR) continue;
      this.pending.push(chunk.subarray(from, i));
      out.push(Buffer.concat(this.pending).toString("utf8"));
      this.pending = [];
      from = i + 1;
    }
    if (from < chunk.length) this.pending.push(chunk.slice(from));
    return out;
  }

  /** Bytes of a reply not yet complete. */
  get buffered(): number {
    return this.pending.reduce((n, c) => n + c.length, 0);
  }
}

/** A word that Tcl reads back as exactly `s` (paths with spaces, brackets, braces). */
export function tclWord(s: string | number): string {
  const t = String(s);
  if (/^[A-Za-z0-9_./:+=,@%-]+$/.test(t)) return t;
  return `"${t.replace(/[\\"$[\]{}]/g, (c) => `\\${c}`).replace(/\n/g, "\\n")}"`;
}

/** Braces balance (backslash-escaped ones do not count), so `{script}` is one Tcl word. */
function bracesBalance(script: string): boolean {
  let depth = 0;
  for (let i = 0; i < script.length; i++) {
    const c = script[i];
    if (c === "\\") i++;
    else if (c === "{") depth++;
    else if (c === "}" && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * The script that runs `command` and answers "<code> <output>": code 0 when
 * it succeeded (output: what it printed, else its result), else Tcl's
 * error code (output: what it printed before failing, else the error message).
 */
export function wrapCommand(command: string): string {
  if (!bracesBalance(command))
    throw new RangeError(`unbalanced braces in OpenOCD command: ${command}`);
  return `set _cf_rc [catch {capture {${command}}} _cf_out]; format {%d %s} $_cf_rc $_cf_out`;
}

export interface WrappedReply {
  /** Tcl's return code: 0 ok, 1 error (2–4: return/break/continue). */
  code: number;
  /** What the command printed or returned (trailing newlines removed). */
  output: string;
}

/** Splits a reply to a wrapCommand script; undefined when it is not one (not from that wrapper). */
export function parseWrappedReply(reply: string): WrappedReply | undefined {
  const m = /^(-?\d+) ([\s\S]*)$/.exec(reply);
  if (!m) return undefined;
  return { code: Number(m[1]), output: m[2]!.replace(/\n+$/, "") };
}
