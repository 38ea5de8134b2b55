// The OpenOCD FlashAdapter: the executor's phases mapped onto the seed's
// sequence (sequence.ts). enter: reach OpenOCD (connect, or start it);
// connect: check the chain and the target (examine.ts), `reset halt`, read
// the flash banks; check: the backup (`flash read_bank`) while nothing is
// changed yet — or, in a dry run, the script a real run would send;
// erase: the chip erase (or the sectors written), its done bit polled with
// a deadline, BOOTPROT off;
// write: each block as a file OpenOCD writes (`flash write_image`);
// verify: `verify_image` of every piece; finish: BOOTPROT back on where
// asked, then `reset run`. A failed verify never gets to finish: the chip
// stays halted.

import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { OpenOcdLink } from "../../flash-api/driver.js";
import type { FlashPlan, PlannedBlock } from "../../flash-api/geometry.js";
import type { Target } from "../../targets/index.js";
import type { SwdChip } from "./chips.js";
import { examine, parseFlashBanks, requireTarget, type FlashBank } from "./examine.js";
import { OpenOcdVerifyError } from "./errors.js";
import { pollUntilSet } from "./poll.js";
import { renderSequence, swdSequence, type SwdRun, type SwdStep } from "./sequence.js";
import { OpenOcdSession, writtenConfig, type SessionEnv } from "./session.js";

/** Bytes per `flash write_image`: small enough for progress, large enough that set-up is rare. */
export const SWD_WRITE_BLOCK = 16 * 1024;

export interface OpenOcdAdapterOptions {
  target: Target;
  link: OpenOcdLink;
  chip: SwdChip | undefined;
  /** The chip's name for messages and the MCU check. */
  mcu: string | undefined;
  env: SessionEnv;
}

/** A block without its trailing padding (nothing to write onto erased flash), 8-byte aligned. */
function trimmed(b: PlannedBlock, pad: number): Uint8Array {
  let n = b.data.length;
  while (n > 0 && b.data[n - 1] === pad) n--;
  return b.data.subarray(0, Math.min(b.data.length, Math.ceil(n / 8) * 8));
}

export class OpenOcdAdapter implements FlashAdapter {
  readonly protocol = "openocd-swd";
  readonly capabilities = { verify: "digest", erase: "chip" } as const;
  private session: OpenOcdSession | undefined;
  private halted = false;
  private bank: FlashBank | undefined;
  private readonly runs: SwdRun[] = [];
  private steps: SwdStep[] = [];

  constructor(private readonly o: OpenOcdAdapterOptions) {}

  private step(
    ctx: FlashContext,
    s: SwdStep,
    classify?: { file: string; address: number },
    quiet = false,
  ): Promise<string> {
    if (!quiet)
      ctx.emit({
        type: "info",
        message: `openocd: ${s.command}`,
        data: { step: s.kind, command: s.command },
      });
    return this.session!.rpc.run(s.command, {
      timeoutMs: s.timeoutMs,
      signal: ctx.signal,
      classify: {
        adapter: this.session!.adapter,
        ...(classify ? { verify: classify } : {}),
      },
    });
  }

  private stepsOf(kind: SwdStep["kind"]): SwdStep[] {
    return this.steps.filter((s) => s.kind === kind);
  }

  /**
   * Flash bank 0 with its size: a bank whose driver reads the size from the chip
   * (at91samd: the DSU's DID) shows size 0 in `flash banks` until probed, so it is
   * probed here (`flash probe 0`), where a part the driver does not know fails.
   */
  private async probeBank(ctx: FlashContext): Promise<FlashBank | undefined> {
    const rpc = this.session!.rpc;
    const bank = parseFlashBanks(await rpc.run("flash banks", { signal: ctx.signal }))[0];
    if (!bank || bank.size > 0) return bank;
    await rpc.run(`flash probe ${bank.index}`, {
      signal: ctx.signal,
      classify: { adapter: this.session!.adapter },
    });
    return parseFlashBanks(await rpc.run("flash banks", { signal: ctx.signal }))[0];
  }

  async enter(ctx: FlashContext): Promise<void> {
    if (ctx.dryRun) return; // a dry run starts nothing: it prints what would run
    this.session = await OpenOcdSession.open(
      this.o.link,
      this.o.chip,
      this.o.env,
      this.o.target.id,
    );
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    const { chip, link, target } = this.o;
    let description = `OpenOCD (dry run: not started) for ${chip?.family ?? "the config's target"}`;
    if (this.session) {
      const seen = await examine(this.session.rpc, ctx.signal);
      const t = requireTarget(seen);
      await this.step(ctx, swdSequence({ chip, chipErase: false, runs: [] })[0]!);
      this.halted = true;
      this.bank = await this.probeBank(ctx);
      description = `${seen.version.replace(/^Open On-Chip Debugger /, "OpenOCD ")}: ${t.name} (${t.type}) over ${seen.transport}${this.bank ? `, flash ${this.bank.size / 1024} KiB at 0x${this.bank.base.toString(16)}` : ""}`;
    }
    const start =
      link.address ?? chip?.flashBase ?? this.bank?.base ?? target.chipInfo?.flashBase ?? 0;
    const end = this.bank
      ? this.bank.base + this.bank.size
      : target.chipInfo
        ? target.chipInfo.flashBase + target.chipInfo.flashSize
        : undefined;
    return {
      geometry: {
        start,
        ...(end !== undefined ? { end } : {}),
        blockSize: SWD_WRITE_BLOCK,
        padByte: 0xff,
        addressUnit: "byte",
      },
      description,
      ...(this.o.mcu ? { mcu: this.o.mcu } : {}),
    };
  }

  async check(ctx: FlashContext, plan: FlashPlan): Promise<void> {
    // A dry run names the folder a real run would make (mkdtemp adds a suffix).
    const dir = this.session?.workDir ?? join(tmpdir(), "canflash-openocd");
    for (const b of plan.blocks) {
      const data = trimmed(b, plan.geometry.padByte);
      if (data.length > 0)
        this.runs.push({
          address: b.address,
          bytes: data.length,
          file: join(dir, `block-${b.address.toString(16)}.bin`),
        });
    }
    this.steps = swdSequence({
      chip: this.o.chip,
      backup: this.o.link.backup,
      flashBytes: this.bank?.size ?? this.o.target.chipInfo?.flashSize,
      chipErase: !this.o.link.noChipErase,
      runs: this.runs,
      bootProtectAfter: this.o.link.bootProtectAfter,
    });
    if (ctx.dryRun) {
      const config = await writtenConfig(this.o.link, this.o.chip, this.o.env, this.o.target.id);
      if (config)
        ctx.emit({ type: "info", message: `a real run would start openocd with:\n${config}` });
      ctx.emit({
        type: "info",
        message: `a real run would send OpenOCD:\n${renderSequence(this.steps)}`,
        data: {
          openocdScript: this.steps.map((s) => s.command),
          ...(config ? { openocdConfig: config } : {}),
        },
      });
      return;
    }
    // The backup comes while nothing of the chip has changed: a failure leaves it as found.
    for (const s of this.stepsOf("backup")) await this.step(ctx, s);
  }

  async erase(ctx: FlashContext): Promise<void> {
    const i = this.steps.findIndex((s) => s.kind === "write");
    for (const s of this.steps.slice(0, i < 0 ? this.steps.length : i))
      if (
        s.kind === "unprotect" ||
        s.kind === "erase" ||
        (s.kind === "halt" && s !== this.steps[0])
      )
        await this.step(ctx, s);
      else if (s.kind === "erase-wait") await this.pollUntil(ctx, s);
  }

  /** Runs a step's read again until its `until` bits are set (poll.ts), then says how long it took. */
  private async pollUntil(ctx: FlashContext, s: SwdStep): Promise<void> {
    const until = s.until!;
    const reads = await pollUntilSet((n) => this.step(ctx, s, undefined, n > 1), {
      until,
      command: s.command,
      timeoutMs: s.timeoutMs,
      clock: this.o.env.clock,
      signal: ctx.signal,
    });
    ctx.emit({
      type: "info",
      message: `openocd: ${until.name} set after ${reads} read${reads > 1 ? "s" : ""}`,
      data: { step: s.kind, reads },
    });
  }

  async writeBlock(ctx: FlashContext, block: PlannedBlock): Promise<void> {
    const s = this.stepsOf("write").find((w) => w.address === block.address);
    if (!s) return; // all padding
    await writeFile(s.file!, trimmed(block, 0xff));
    await this.step(ctx, s);
  }

  async verifyDigest(ctx: FlashContext): Promise<boolean> {
    for (const s of this.stepsOf("verify"))
      try {
        await this.step(ctx, s, { file: s.file!, address: s.address! });
      } catch (e) {
        if (e instanceof OpenOcdVerifyError) throw e;
        // verify_image failing without a recognised message is still a failed verify
        throw new OpenOcdVerifyError(
          s.file!,
          s.address!,
          e instanceof Error ? e.message : String(e),
        );
      }
    return true;
  }

  async finish(ctx: FlashContext): Promise<void> {
    for (const s of this.steps)
      if (s.kind === "protect" || s.kind === "reset") await this.step(ctx, s);
    this.halted = false;
  }

  async abandon(ctx: FlashContext): Promise<boolean> {
    if (!this.session || !this.halted) return false;
    // Halted by canflash, nothing written: let the chip run what it ran.
    await this.session.rpc.run("reset run", { signal: ctx.signal });
    this.halted = false;
    return true;
  }

  async close(): Promise<void> {
    for (const r of this.runs) await rm(r.file, { force: true }).catch(() => undefined);
    await this.session?.close();
  }
}
