// One conversation with a running Klipper for flash-sdcard, as
// spi_flash.py has it: identify; a board a host configured already (or
// one shut down) is reset and reconnected first, as Klipper takes its
// config once per boot; then the SD slot's SPI device is configured and the
// card brought up and mounted. reset() sends `reset` and follows the board
// back (a USB board's tty goes away and returns; a UART's line stays).

import { DryRunStopError } from "../../flash-api/errors.js";
import { identify, type IdentifyResult } from "../../klippy-bridge/identify.js";
import { KlipperLink } from "../../klippy-bridge/mcu-link.js";
import { MessageTable } from "../../klippy-bridge/messages.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { delay, type Clock } from "../../util/clock.js";
import { CanflashError } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import { FatVolume, type SectorDevice } from "../../entry/fat/volume.js";
import { McuShutdownError, NoReconnectError, NotKlipperError, SdNoCardError } from "./errors.js";
import { KlipperSpiPort, SD_RATE_SLOW, spiConfig } from "./klipper-spi.js";
import { busText, type SdSpiProfile } from "./profile.js";
import { SdSpiHost } from "./sd-host.js";

const log = moduleLogger("sdcard-spi");

/** The first identify (Klipper's own budget is 5 s). */
export const CONNECT_IDENTIFY_MS = 5000;
/** After `reset`: how long the board may take to flash the card and answer again (spi_flash.py polls 30 s). */
export const RECONNECT_TIMEOUT_MS = 30_000;
/** Between reconnect attempts. */
export const RECONNECT_POLL_MS = 250;
/** One identify attempt while the board comes back. */
export const RECONNECT_IDENTIFY_MS = 1500;
/** get_config and each config command. */
export const CONFIG_REPLY_MS = 1000;

export interface SessionOptions {
  device: string;
  target: string;
  profile: SdSpiProfile;
  open: () => Promise<ByteTransport>;
  clock: Clock;
  signal?: AbortSignal;
  /** The SD SPI clock for the whole session (Klipper takes one spi_set_bus per device): default 400 kHz. */
  rate?: number;
  reconnectTimeoutMs?: number;
  /** The first identify's budget (default CONNECT_IDENTIFY_MS). */
  identifyTimeoutMs?: number;
  /** A dry run: a configured Klipper is not reset (DryRunStopError says a real run would). */
  dryRun?: boolean;
}

export interface CardMount {
  volume: FatVolume;
  host: SdSpiHost;
  port: KlipperSpiPort;
}

export class KlipperSdSession {
  private transport: ByteTransport | undefined;
  private link: KlipperLink | undefined;
  private table: MessageTable | undefined;
  identity: IdentifyResult | undefined;
  /** How many resets this session sent. */
  resets = 0;

  constructor(private readonly o: SessionOptions) {}

  private opts(what: string, ms = CONFIG_REPLY_MS) {
    return {
      deadline: this.o.clock.now() + ms,
      timeoutMs: ms,
      what,
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    };
  }

  private async identifyOn(t: ByteTransport, timeoutMs: number): Promise<IdentifyResult> {
    const link = new KlipperLink(t);
    const id = await identify(link, {
      timeoutMs,
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    });
    this.transport = t;
    this.link = link;
    this.table = new MessageTable(id.dictionary);
    this.identity = id;
    return id;
  }

  /** Identifies the Klipper on the port; resets it first if a host configured it already. */
  async connect(): Promise<IdentifyResult> {
    const t = await this.o.open();
    let id: IdentifyResult;
    try {
      id = await this.identifyOn(t, this.o.identifyTimeoutMs ?? CONNECT_IDENTIFY_MS);
    } catch (e) {
      await t.close().catch(() => undefined);
      throw new NotKlipperError(this.o.device, undefined, e);
    }
    if (id.dictionary.app !== "Klipper")
      throw new NotKlipperError(this.o.device, id.dictionary.app);
    const state = await this.config();
    if (state !== "fresh" && this.o.dryRun)
      throw new DryRunStopError(
        this.o.device,
        `reset it first (Klipper was configured${state === "shutdown" ? " and is shut down" : ""}), then write its SD card`,
      );
    if (state !== "fresh") {
      log.debug({ device: this.o.device, state }, "configured already: resetting first");
      await this.reset();
      if ((await this.config()) !== "fresh")
        throw new McuShutdownError(this.o.device, state === "shutdown" ? "shutdown" : "configured");
    }
    return this.identity!;
  }

  private async config(): Promise<"fresh" | "configured" | "shutdown"> {
    const table = this.table!;
    const c = await this.link!.request(
      table.encode("get_config"),
      (content) => table.decode(content).find((m) => m.name === "config")?.params,
      this.opts("config"),
    );
    if (c.is_shutdown) return "shutdown";
    return c.is_config ? "configured" : "fresh";
  }

  /** Configures the SPI device, brings up the card and mounts its FAT. */
  async mountCard(now?: () => Date): Promise<CardMount> {
    const { profile: p, target, device } = this.o;
    const table = this.table!;
    const dict = this.identity!.dictionary;
    const setup = spiConfig(table, dict, p, target, this.o.rate ?? SD_RATE_SLOW, device);
    for (const m of setup.messages)
      await this.link!.command(m, this.opts("config acknowledgement"));
    if ((await this.config()) !== "configured") throw new McuShutdownError(device, "shutdown"); // Klipper refused the config
    const port = new KlipperSpiPort(this.link!, table, this.o.signal);
    const host = new SdSpiHost(port);
    if (!(await host.init())) throw new SdNoCardError(target, busText(p), p.csPin);
    const dev: SectorDevice = {
      read: (s) => host.readSector(s),
      write: (s, d) => host.writeSector(s, d),
    };
    const volume = await FatVolume.open(dev, now ? { now } : {});
    return { volume, host, port };
  }

  /** Sends `reset` and waits for Klipper to answer identify again. */
  async reset(): Promise<IdentifyResult> {
    await this.link!.post(this.table!.encode("reset"));
    this.resets++;
    await this.closeLink();
    const budget = this.o.reconnectTimeoutMs ?? RECONNECT_TIMEOUT_MS;
    const deadline = this.o.clock.now() + budget;
    let last: unknown;
    while (this.o.clock.now() < deadline) {
      await delay(
        this.o.clock,
        RECONNECT_POLL_MS,
        this.o.signal,
        "waiting for Klipper after reset",
      );
      let t: ByteTransport | undefined;
      try {
        t = await this.o.open();
        return await this.identifyOn(t, RECONNECT_IDENTIFY_MS);
      } catch (e) {
        if (e instanceof CanflashError && e.code === "ABORTED") throw e;
        last = e;
        await t?.close().catch(() => undefined);
      }
    }
    log.debug({ err: last }, "no reconnect");
    throw new NoReconnectError(this.o.device, budget);
  }

  /** Sends `reset` and lets go (the board restarts unconfigured, as Klippy wants to find it). */
  async release(): Promise<void> {
    if (!this.link) return;
    await this.link.post(this.table!.encode("reset"));
    this.resets++;
    await this.closeLink();
  }

  private async closeLink(): Promise<void> {
    const t = this.transport;
    this.transport = undefined;
    this.link = undefined;
    await t?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.closeLink();
  }
}
