// One canflash per board: a lock per CAN interface + UUID and per serial
// device; a second process gets the holder's PID and exit 8, nothing sent;
// a lock left by a killed run is taken over.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BoardLockedError, lockBoards, lockKeyOf } from "../../src/flasher/locks.js";
import { openPty } from "../fakes/pty.js";
import { appImage } from "../cli/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-locks-"));

describe("board locks", () => {
  it("a held lock refuses a second taker with the holder's PID; release frees it", () => {
    const key = {
      board: "EBBCan",
      key: lockKeyOf({ kind: "can", iface: "can0", uuid: "aabbccddeeff" }),
    };
    const release = lockBoards([key], dir);
    const e = (() => {
      try {
        lockBoards([key], dir);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(BoardLockedError);
    expect(e).toMatchObject({ board: "EBBCan", pid: process.pid });
    release();
    lockBoards([key], dir)();
    expect(readdirSync(dir).filter((f) => f.endsWith(".lock"))).toEqual([]);
  });

  it("takes all locks or none, and takes over a lock whose process is gone", () => {
    const a = { board: "a", key: "can:can0:000000000001" };
    const b = { board: "b", key: "can:can0:000000000002" };
    const holdB = lockBoards([b], dir);
    expect(() => lockBoards([a, b], dir)).toThrow(BoardLockedError);
    expect(readdirSync(dir).filter((f) => f.includes("000000000001"))).toEqual([]); // a was given back
    holdB();
    const stale = join(dir, "canflash-can_can0_000000000003.lock");
    writeFileSync(stale, "4194303"); // no such process
    lockBoards([{ board: "c", key: "can:can0:000000000003" }], dir)();
  });

  it("a lock whose PID now names another process (killed canflash, PID reused) is stale; the live writer's is held", () => {
    const key = { board: "d", key: "can:can0:000000000004" };
    const file = join(dir, "canflash-can_can0_000000000004.lock");
    // This process's PID with a start time it never had: the PID was reused.
    writeFileSync(file, `${process.pid} 1`);
    const release = lockBoards([key], dir);
    // Taken over, and written as "pid starttime" for the next taker to check.
    const [pid, start] = readFileSync(file, "utf8").split(" ");
    expect(Number(pid)).toBe(process.pid);
    expect(Number(start)).toBeGreaterThan(1);
    expect(() => lockBoards([key], dir)).toThrow(BoardLockedError);
    release();
  });

  it("a second canflash on the same tty: exit 8 naming the PID, nothing opened", async () => {
    const pty = await openPty();
    try {
      const file = join(dir, "app.bin");
      writeFileSync(file, await appImage(4096, 1));
      // Someone (this test process) holds the tty.
      const release = lockBoards(
        [{ board: "held", key: lockKeyOf({ kind: "serial", device: pty.path }) }],
        dir,
      );
      let got = "";
      pty.onData((b) => (got += Buffer.from(b).toString("hex")));
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = spawn(
          process.execPath,
          [new URL("../../dist/cli/main.mjs", import.meta.url).pathname, "-d", pty.path, file],
          { env: { ...process.env, CANFLASH_LOCK_DIR: dir } },
        );
        let stderr = "";
        c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        c.on("close", (code) => resolve({ code, stderr }));
      });
      release();
      expect(r.code).toBe(8);
      expect(r.stderr).toContain(`is being flashed by another canflash (PID ${process.pid})`);
      expect(got).toBe("");
    } finally {
      await pty.close();
    }
  });
});
