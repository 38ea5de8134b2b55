// "What needs reflashing" as a library call, from wherever Klipper's facts
// are: Moonraker (its Unix socket or its HTTP API) — each mcu object's
// mcu_version, configfile's deprecated_mcu_code warnings, the host's
// software_version — or, without Moonraker, the CAN bus itself: each
// Klipper node's identify (its data dictionary's version) against the
// host's Klipper checkout (git describe, else klippy/.version), and, with
// a fresh build given, the data-dictionary comparison --skip-current uses.

import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { readFirmware } from "../flasher/firmware.js";
import { expandPath } from "../flasher/inputs.js";
import { queryInterface } from "../flasher/query.js";
import { sameBuild } from "../klippy-bridge/dictionary.js";
import { MoonrakerConnection } from "./connection.js";
import { MoonrakerHttp } from "./http.js";
import {
  outdatedBoards,
  parseKlipperVersion,
  compareKlipperVersions,
  type BoardVerdict,
} from "./outdated.js";
import { hostInfo, klippyState, mcuReport, type MoonrakerCaller } from "./printer.js";

export type OutdatedSource =
  /** The socket when it exists, else the HTTP API. */
  | { kind: "auto"; socketPath: string; url: string }
  | { kind: "socket"; socketPath: string }
  | { kind: "http"; url: string }
  | {
      kind: "bus";
      iface: string;
      /** printer.cfg (for the boards' names). */
      config?: string | undefined;
      /** The host's Klipper checkout (default ~/klipper). */
      klipperDir?: string | undefined;
    };

export interface OutdatedOptions {
  source: OutdatedSource;
  cwd: string;
  home?: string | undefined;
  /** A fresh build: boards on the bus are compared with its data dictionary. */
  firmware?: string | undefined;
  signal?: AbortSignal;
}

export interface OutdatedReport {
  /** Where the facts came from: "moonraker", "can:<iface>". */
  source: string;
  hostVersion: string | undefined;
  /** Moonraker's view of Klippy (Moonraker sources only). */
  klippy?: { connected: boolean; state: string };
  boards: BoardVerdict[];
  /** Names of the boards to flash. */
  needsFlash: string[];
  /** Why facts are missing (Klippy not ready, no Klipper checkout). */
  notes: string[];
}

async function fromMoonraker(c: MoonrakerCaller): Promise<Omit<OutdatedReport, "source">> {
  const klippy = await klippyState(c);
  if (!klippy.connected || klippy.state !== "ready")
    return {
      hostVersion: undefined,
      klippy,
      boards: [],
      needsFlash: [],
      notes: [`Klippy is ${klippy.state}: its MCUs report nothing until it is ready`],
    };
  const [info, report] = await Promise.all([hostInfo(c), mcuReport(c)]);
  const boards = outdatedBoards({
    hostVersion: info.softwareVersion,
    mcus: report.mcus,
    warnings: report.warnings,
    config: report.config,
  });
  return {
    hostVersion: info.softwareVersion,
    klippy,
    boards,
    needsFlash: boards.filter((b) => b.needsFlash).map((b) => b.name),
    notes: [],
  };
}

/** The host's Klipper version as Klippy computes it: git describe, else klippy/.version. */
export async function hostKlipperVersion(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)(
      "git",
      ["-C", dir, "describe", "--always", "--tags", "--long", "--dirty"],
      { timeout: 5000 },
    );
    const v = stdout.trim();
    if (v) return v;
  } catch {
    // not a git checkout: the file a release tarball carries
  }
  const v = await readFile(join(dir, "klippy", ".version"), "utf8").catch(() => undefined);
  return v?.trim() || undefined;
}

async function fromBus(
  s: Extract<OutdatedSource, { kind: "bus" }>,
  o: OutdatedOptions,
): Promise<OutdatedReport> {
  const notes: string[] = [];
  const dir = expandPath(s.klipperDir ?? "~/klipper", o.cwd, o.home);
  const hostVersion = await hostKlipperVersion(dir);
  if (!hostVersion) notes.push(`no Klipper checkout at ${dir}: versions are not compared`);
  const image = o.firmware ? await readFirmware(o.firmware, o.cwd, o.home) : undefined;
  if (image && !image.dictionary) notes.push(`${image.path} has no Klipper data dictionary`);
  const q = await queryInterface({
    iface: s.iface,
    config: s.config,
    cwd: o.cwd,
    home: o.home,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (q.klipperRunning)
    notes.push(
      "Klipper is running: the boards it holds do not answer here (ask Moonraker instead)",
    );
  const host = parseKlipperVersion(hostVersion);
  const boards = q.nodes.map((n): BoardVerdict => {
    const name = n.section?.replace(/^mcu\s+/, "").trim() || n.uuid;
    const base = {
      name,
      section: n.section ?? n.uuid,
      hostVersion,
      missingFeatures: [],
      hostProcess: false,
      canbusUuid: n.uuid,
      canbusInterface: s.iface,
    };
    const d = n.dictionary;
    if (n.application !== "Klipper" || !d)
      return {
        ...base,
        mcuVersion: undefined,
        chip: n.katapult?.mcu,
        // A board waiting in its bootloader runs no application at all.
        verdict: n.application === "Katapult" ? "no-application" : "unknown",
        needsFlash: n.application === "Katapult",
      };
    let verdict: BoardVerdict["verdict"];
    if (image?.dictionary) verdict = sameBuild(d, image.dictionary) ? "same" : "other-build";
    else if (d.version === hostVersion) verdict = "same";
    else {
      const mv = parseKlipperVersion(d.version);
      const c = mv && host ? compareKlipperVersions(mv, host) : undefined;
      verdict =
        c === undefined
          ? hostVersion
            ? "different"
            : "unknown"
          : c < 0
            ? "older"
            : c > 0
              ? "newer"
              : "same";
    }
    return {
      ...base,
      mcuVersion: d.version,
      chip: d.mcu,
      verdict,
      needsFlash: verdict === "older" || verdict === "other-build",
    };
  });
  return {
    source: `can:${s.iface}`,
    hostVersion,
    boards,
    needsFlash: boards.filter((b) => b.needsFlash).map((b) => b.name),
    notes,
  };
}

/** Gathers the facts and judges each board. Throws MoonrakerUnreachableError and the query's errors. */
export async function outdatedReport(o: OutdatedOptions): Promise<OutdatedReport> {
  let s = o.source;
  if (s.kind === "bus") return fromBus(s, o);
  if (s.kind === "auto")
    s = (await stat(s.socketPath).catch(() => undefined))?.isSocket()
      ? { kind: "socket", socketPath: s.socketPath }
      : { kind: "http", url: s.url };
  if (s.kind === "http")
    return { source: "moonraker", ...(await fromMoonraker(new MoonrakerHttp(s.url))) };
  const conn = await MoonrakerConnection.open({ socketPath: s.socketPath });
  try {
    await conn.call("server.connection.identify", {
      client_name: "canflash-outdated",
      version: "1",
      type: "other",
      url: "https://www.npmjs.com/package/canflash",
    });
    return { source: "moonraker", ...(await fromMoonraker(conn)) };
  } finally {
    conn.close();
  }
}
