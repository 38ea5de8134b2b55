// A throwaway /sys (and /proc, /lib/modules) tree for code that reads
// interfaces from sysfs. Each test gets its own directory.
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir, release } from "node:os";
import { join } from "node:path";

export interface FakeIface {
  type?: number;
  up?: boolean;
  operstate?: string;
  txQueueLen?: number;
  stats?: Record<string, number>;
  /** A software interface (vcan): its node under devices/virtual, /sys/class/net/<name> a link to it, as the kernel lays it out. */
  virtual?: boolean;
}

export class FakeSysfs {
  readonly root = mkdtempSync(join(tmpdir(), "canflash-sysfs-"));
  readonly sys = join(this.root, "sys");
  readonly proc = join(this.root, "proc");
  readonly modules = join(this.root, "modules");

  constructor() {
    mkdirSync(join(this.sys, "class", "net"), { recursive: true });
    mkdirSync(join(this.proc, "net"), { recursive: true });
    mkdirSync(join(this.modules, release()), { recursive: true });
    writeFileSync(
      join(this.proc, "net", "protocols"),
      "protocol  size sockets  memory press maxhdr  slab module\n",
    );
  }

  iface(name: string, o: FakeIface = {}): this {
    const link = join(this.sys, "class", "net", name);
    const dir = o.virtual ? join(this.sys, "devices", "virtual", "net", name) : link;
    mkdirSync(join(dir, "statistics"), { recursive: true });
    if (o.virtual) symlinkSync(join("..", "..", "devices", "virtual", "net", name), link);
    writeFileSync(join(dir, "type"), `${o.type ?? 280}\n`);
    writeFileSync(join(dir, "flags"), `0x${((o.up ?? true) ? 0x81 : 0x80).toString(16)}\n`);
    writeFileSync(
      join(dir, "operstate"),
      `${o.operstate ?? ((o.up ?? true) ? "unknown" : "down")}\n`,
    );
    writeFileSync(join(dir, "tx_queue_len"), `${o.txQueueLen ?? 10}\n`);
    for (const [k, v] of Object.entries(o.stats ?? {}))
      writeFileSync(join(dir, "statistics", k), `${v}\n`);
    return this;
  }

  remove(name: string): void {
    rmSync(join(this.sys, "class", "net", name), { recursive: true, force: true });
  }

  /** Registers CAN_RAW in the fake /proc/net/protocols. */
  canRawLoaded(): this {
    writeFileSync(
      join(this.proc, "net", "protocols"),
      "CAN_RAW    840      0      -1   NI       0   no   can_raw\n",
      { flag: "a" },
    );
    return this;
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
