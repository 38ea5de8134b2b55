// Listing CAN interfaces with what diagnostics need: up/down, controller
// state, bitrate, txqueuelen, error counters and statistics. Prefers
// `ip -details -statistics -json link show` (netlink knows bitrate and state);
// falls back to sysfs, which knows neither.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as z from "zod/mini";
import type { BusState } from "./errorframe.js";
import { listSysfsCanInterfaces } from "./sysfs.js";

export interface CanInterfaceInfo {
  name: string;
  /** Driver kind from netlink: "can" (hardware), "vcan", "vxcan"; undefined from sysfs. */
  kind: string | undefined;
  up: boolean;
  operState: string;
  txQueueLen: number | undefined;
  state: BusState | undefined;
  bitrate: number | undefined;
  samplePoint: number | undefined;
  restartMs: number | undefined;
  errorCounters: { tx: number; rx: number } | undefined;
  stats: {
    rxPackets?: number;
    txPackets?: number;
    rxErrors?: number;
    txErrors?: number;
    rxDropped?: number;
    txDropped?: number;
  };
  /** CAN controller statistics (restarts, bus errors, state transitions). */
  canStats:
    | {
        restarts: number;
        busErrors: number;
        arbitrationLost: number;
        errorWarning: number;
        errorPassive: number;
        busOff: number;
      }
    | undefined;
  source: "ip" | "sysfs";
}

// zod's tree-shakable "mini" API: interface checks run at the start of every CAN flash.
const num = z.union([
  z.number(),
  z.pipe(z.string().check(z.regex(/^[\d.]+$/)), z.transform(Number)),
]);
const opt = z.optional;
const count = z._default(z.number(), 0);
const packets = opt(
  z.looseObject({ packets: z.number(), errors: z.number(), dropped: z.number() }),
);

const IpLink = z.object({
  ifname: z.string(),
  flags: z._default(z.array(z.string()), []),
  operstate: opt(z.string()),
  txqlen: opt(z.number()),
  link_type: opt(z.string()),
  linkinfo: opt(
    z.looseObject({
      info_kind: opt(z.string()),
      info_data: opt(
        z.looseObject({
          state: opt(z.string()),
          berr_counter: opt(z.object({ tx: z.number(), rx: z.number() })),
          restart_ms: opt(z.number()),
          bittiming: opt(z.looseObject({ bitrate: opt(num), sample_point: opt(num) })),
          bitrate: opt(num),
        }),
      ),
      info_xstats: opt(
        z.looseObject({
          restarts: count,
          bus_error: count,
          arbitration_lost: count,
          error_warning: count,
          error_passive: count,
          bus_off: count,
        }),
      ),
    }),
  ),
  stats64: opt(z.looseObject({ rx: packets, tx: packets })),
});

const STATES: Record<string, BusState> = {
  "ERROR-ACTIVE": "error-active",
  "ERROR-WARNING": "error-warning",
  "ERROR-PASSIVE": "error-passive",
  "BUS-OFF": "bus-off",
  STOPPED: "stopped",
};

/** Parses `ip -details -statistics -json link show` output; keeps only CAN links. */
export function parseIpLinkJson(json: string): CanInterfaceInfo[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) return [];
  const out: CanInterfaceInfo[] = [];
  for (const item of parsed) {
    const r = IpLink.safeParse(item);
    if (!r.success || r.data.link_type !== "can") continue;
    const l = r.data;
    const data = l.linkinfo?.info_data;
    const xs = l.linkinfo?.info_xstats;
    out.push({
      name: l.ifname,
      kind: l.linkinfo?.info_kind,
      up: l.flags.includes("UP"),
      operState: (l.operstate ?? "unknown").toLowerCase(),
      txQueueLen: l.txqlen,
      state: data?.state ? (STATES[data.state] ?? "unknown") : undefined,
      bitrate: data?.bittiming?.bitrate ?? data?.bitrate,
      samplePoint: data?.bittiming?.sample_point,
      restartMs: data?.restart_ms,
      errorCounters: data?.berr_counter,
      stats: {
        rxPackets: l.stats64?.rx?.packets,
        txPackets: l.stats64?.tx?.packets,
        rxErrors: l.stats64?.rx?.errors,
        txErrors: l.stats64?.tx?.errors,
        rxDropped: l.stats64?.rx?.dropped,
        txDropped: l.stats64?.tx?.dropped,
      },
      canStats: xs
        ? {
            restarts: xs.restarts,
            busErrors: xs.bus_error,
            arbitrationLost: xs.arbitration_lost,
            errorWarning: xs.error_warning,
            errorPassive: xs.error_passive,
            busOff: xs.bus_off,
          }
        : undefined,
      source: "ip",
    });
  }
  return out;
}

export interface ListInterfacesOptions {
  /** Produces `ip -details -statistics -json link show` output; undefined/throwing = use sysfs. */
  runIp?: () => Promise<string>;
  sysfsRoot?: string;
}

async function defaultRunIp(): Promise<string> {
  const { stdout } = await promisify(execFile)(
    "ip",
    ["-details", "-statistics", "-json", "link", "show"],
    {
      timeout: 5000,
    },
  );
  return stdout;
}

/** Every CAN interface on this machine, sorted by name. */
export async function listCanInterfaces(
  options: ListInterfacesOptions = {},
): Promise<CanInterfaceInfo[]> {
  const runIp = options.runIp ?? (options.sysfsRoot ? undefined : defaultRunIp);
  if (runIp) {
    try {
      return parseIpLinkJson(await runIp()).sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      // fall through to sysfs
    }
  }
  const ifaces = await listSysfsCanInterfaces(options.sysfsRoot);
  return ifaces.map((i) => ({
    name: i.name,
    kind: undefined,
    up: i.up,
    operState: i.operState,
    txQueueLen: i.txQueueLen,
    state: undefined,
    bitrate: undefined,
    samplePoint: undefined,
    restartMs: undefined,
    errorCounters: undefined,
    stats: {
      rxPackets: i.stats.rx_packets,
      txPackets: i.stats.tx_packets,
      rxErrors: i.stats.rx_errors,
      txErrors: i.stats.tx_errors,
      rxDropped: i.stats.rx_dropped,
      txDropped: i.stats.tx_dropped,
    },
    canStats: undefined,
    source: "sysfs" as const,
  }));
}
