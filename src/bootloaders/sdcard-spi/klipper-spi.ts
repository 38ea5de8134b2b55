// Klipper's SPI commands as an SPI port (src/spicmds.c, spi_software.c):
// one SPI device (oid 0) set up as Klippy's config phase does it —
// allocate_oids, config_spi with the chip select, spi_set_bus (or the
// software bus), finalize_config, then get_config to see it took — with
// bus and pin names resolved through the build's enumerations as Klippy
// resolves them. spi_transfer returns MISO; spi_send only writes.

import type { KlipperDictionary } from "../../klippy-bridge/dictionary.js";
import type { KlipperLink } from "../../klippy-bridge/mcu-link.js";
import type { MessageTable } from "../../klippy-bridge/messages.js";
import { NoSpiError, UnknownNameError } from "./errors.js";
import type { SdSpiProfile } from "./profile.js";
import type { SpiPort } from "./sd-host.js";

/** Per SPI round trip (a block each way at 250000 baud is a few ms). */
export const SPI_REPLY_MS = 500;
/** Largest spi_transfer: a 64-byte block holds 59 bytes of messages, less id, oid and length. */
export const SPI_CHUNK = 48;
/** SD SPI clock by default (what init needs); the fast one (flash-sdcard's -s), for cards and wiring that take it from the start. */
export const SD_RATE_SLOW = 400_000;
export const SD_RATE_FAST = 4_000_000;
/** The SD card's SPI mode (CPOL 0, CPHA 0). */
const SD_SPI_MODE = 0;
const OID = 0;

/** A name's value in one of the dictionary's enumerations ("PA4" in a run "PA0": [0, 16]). */
export function enumValue(
  dict: KlipperDictionary,
  kind: "spi_bus" | "pin",
  name: string,
  target: string,
): number {
  const e = (dict.enumerations?.[kind] ?? {}) as Record<string, number | [number, number]>;
  const known: string[] = [];
  for (const [key, val] of Object.entries(e)) {
    if (typeof val === "number") {
      known.push(key);
      if (key.toLowerCase() === name.toLowerCase()) return val;
      continue;
    }
    const k = /^(.*?)(\d+)$/.exec(key);
    const n = /^(.*?)(\d+)$/.exec(name);
    if (!k || !Array.isArray(val)) continue;
    known.push(`${key}…${k[1]}${Number(k[2]) + val[1] - 1}`);
    if (!n || n[1]!.toLowerCase() !== k[1]!.toLowerCase()) continue;
    const off = Number(n[2]) - Number(k[2]);
    if (off >= 0 && off < val[1]) return val[0] + off;
  }
  throw new UnknownNameError(target, kind, name, known);
}

export interface SpiSetup {
  /** The config_spi … finalize_config messages, in order. */
  messages: Uint8Array[];
  /** finalize_config's crc (any value; get_config returns it). */
  crc: number;
}

/** The config messages for the row's SPI device at `rate`. */
export function spiConfig(
  table: MessageTable,
  dict: KlipperDictionary,
  p: SdSpiProfile,
  target: string,
  rate: number,
  device: string,
): SpiSetup {
  for (const c of ["config_spi", "spi_transfer", "spi_send", "allocate_oids", "finalize_config"])
    if (!table.has(c)) throw new NoSpiError(device, c);
  const pin = (n: string) => enumValue(dict, "pin", n, target);
  const messages = [
    table.encode("allocate_oids", { count: 1 }),
    table.encode("config_spi", { oid: OID, pin: pin(p.csPin), cs_active_high: 0 }),
  ];
  if (p.bus !== undefined) {
    if (!table.has("spi_set_bus")) throw new NoSpiError(device, "spi_set_bus");
    messages.push(
      table.encode("spi_set_bus", {
        oid: OID,
        spi_bus: enumValue(dict, "spi_bus", p.bus, target),
        mode: SD_SPI_MODE,
        rate,
      }),
    );
  } else {
    const [miso, mosi, sclk] = p.softwarePins!.map(pin) as [number, number, number];
    const pins = { oid: OID, miso_pin: miso, mosi_pin: mosi, sclk_pin: sclk, mode: SD_SPI_MODE };
    if (table.has("spi_set_sw_bus")) {
      const clock = Number(dict.config.CLOCK_FREQ ?? 0) || 72_000_000;
      messages.push(
        table.encode("spi_set_sw_bus", { ...pins, pulse_ticks: Math.ceil(clock / rate) }),
      );
    } else if (table.has("spi_set_software_bus")) {
      messages.push(table.encode("spi_set_software_bus", { ...pins, rate }));
    } else throw new NoSpiError(device, "spi_set_sw_bus (software SPI)");
  }
  const crc = 0x5d5c0000 ^ (rate >>> 0);
  messages.push(table.encode("finalize_config", { crc }));
  return { messages, crc };
}

/** Klipper's SPI device as the SD host's port. */
export class KlipperSpiPort implements SpiPort {
  readonly maxTransfer = SPI_CHUNK;
  transfers = 0;

  constructor(
    private readonly link: KlipperLink,
    private readonly table: MessageTable,
    private readonly signal?: AbortSignal,
  ) {}

  private opts(what: string) {
    return {
      deadline: this.link.transport.clock.now() + SPI_REPLY_MS * 4,
      timeoutMs: SPI_REPLY_MS * 4,
      what,
      replyMs: SPI_REPLY_MS,
      ...(this.signal ? { signal: this.signal } : {}),
    };
  }

  async transfer(mosi: Uint8Array): Promise<Uint8Array> {
    this.transfers++;
    return this.link.request(
      this.table.encode("spi_transfer", { oid: OID, data: mosi }),
      (content) => {
        const r = this.table
          .decode(content)
          .find((m) => m.name === "spi_transfer_response" && m.params.oid === OID);
        const resp = r?.params.response;
        return resp instanceof Uint8Array && resp.length === mosi.length ? resp : undefined;
      },
      this.opts("spi_transfer_response"),
    );
  }

  async send(mosi: Uint8Array): Promise<void> {
    await this.link.command(
      this.table.encode("spi_send", { oid: OID, data: mosi }),
      this.opts("spi_send acknowledgement"),
    );
  }
}
