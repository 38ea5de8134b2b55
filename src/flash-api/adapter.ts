// The contract between the one flash executor (flasher/) and each bootloader
// protocol (bootloaders/katapult/, bootloaders/): both import it, neither imports the other.
// An adapter knows how to reach its bootloader and move blocks; the executor
// owns order, progress, verification policy and what happens on failure.

import type { Clock } from "../util/clock.js";
import type { FlashGeometry, FlashPlan, PlannedBlock } from "./geometry.js";
import type { FlashEvent } from "./progress.js";

export interface FlashContext {
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock;
  /** A dry run: adapters must not change the device (no bootloader request, no touch, no write). */
  readonly dryRun?: boolean;
  emit(event: FlashEvent): void;
}

/** What the connected bootloader told us. */
export interface DeviceInfo {
  geometry: FlashGeometry;
  /** One line: "Katapult 1.1.0 (v0.0.1-110-g…) on stm32g0b1xx". */
  description: string;
  mcu?: string;
  bootloaderVersion?: string;
  /** The bootloader protocol's own version, where it has one (Katapult: "1.1.0"). */
  protocolVersion?: string;
  /**
   * Where nothing reads back (a file copy): what is checked instead, for the
   * result line. Set alongside a verified write (flash-sdcard's skip_verify
   * boards): what could still not be confirmed.
   */
  unverified?: string;
  /**
   * The adapter's check() refuses an image not laid out for this bootloader
   * itself (RP2040: boot2 before the vector table at the flash start), so the
   * generic vector-table check at the application start stands aside.
   */
  checksImageLayout?: boolean;
}

export interface AdapterCapabilities {
  /** How written data is checked: read back and compare, a device-side digest, or not at all. */
  verify: "readback" | "digest" | "none";
  /** Does the protocol need an explicit erase phase before writing? */
  erase: "none" | "chip" | "pages";
  /**
   * What the bootloader does when the host stops without finishing: stays
   * (Katapult waits for a new run) or, after a timeout, starts whatever
   * application is in flash (the Arduino bootloaders). Default "stays".
   */
  abandoned?: "stays-in-bootloader" | "starts-application";
}

export interface FlashAdapter {
  /** "katapult-can", "katapult-serial", "stk500v1", … */
  readonly protocol: string;
  readonly capabilities: AdapterCapabilities;
  /** Gets the device into its bootloader (request, touch, reset pulse). */
  enter?(ctx: FlashContext): Promise<void>;
  /** Talks to the bootloader; returns its geometry. */
  connect(ctx: FlashContext): Promise<DeviceInfo>;
  /** Checks that need the plan and the device (pre-flight); throw to refuse before anything is written. */
  check?(ctx: FlashContext, plan: FlashPlan, device: DeviceInfo): Promise<void>;
  erase?(ctx: FlashContext, plan: FlashPlan): Promise<void>;
  writeBlock(ctx: FlashContext, block: PlannedBlock): Promise<void>;
  /** After the last block (Katapult SEND_EOF: flushes buffered pages). */
  endWrite?(ctx: FlashContext): Promise<void>;
  /** Reads a block back for verification (capabilities.verify = "readback"). */
  readBlock?(ctx: FlashContext, block: PlannedBlock): Promise<Uint8Array>;
  /** Device-side digest check (capabilities.verify = "digest"); false = mismatch. */
  verifyDigest?(ctx: FlashContext, plan: FlashPlan): Promise<boolean>;
  /** Starts the new application. Called only after verification passed. */
  finish(ctx: FlashContext): Promise<void>;
  /**
   * Nothing was written and the flash stops (a refusal, a dry run): put the
   * board back where it was found. An adapter whose own entry took the board
   * into its bootloader sends it back to its (intact) application and
   * resolves true; a board found in its bootloader stays there (false).
   */
  abandon?(ctx: FlashContext): Promise<boolean>;
  /** Releases the link. Called once, success or not. Must not start the application. */
  close(): Promise<void>;
}
