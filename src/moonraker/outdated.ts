// What needs reflashing, from Klipper's own signals: configfile's
// deprecated_mcu_code warnings (Klipper found the MCU missing a feature and
// recommends recompiling and flashing), and each MCU's mcu_version against
// the host's Klipper version (both `git describe` strings:
// v0.13.0-120-gabcdef12[-dirty]). Pure: the caller gathers the facts.

import type { ConfigWarning, McuObject } from "./printer.js";

/** A Klipper version as git describe writes it. */
export interface KlipperVersion {
  major: number;
  minor: number;
  patch: number;
  /** Commits after the tag. */
  commits: number;
  hash: string | undefined;
  dirty: boolean;
}

export function parseKlipperVersion(text: string | undefined): KlipperVersion | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-(\d+))?(?:-g([0-9a-f]{4,40}))?(-dirty)?/.exec(
    text?.trim() ?? "",
  );
  if (!m) return undefined;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    commits: Number(m[4] ?? 0),
    hash: m[5],
    dirty: !!m[6],
  };
}

/** <0: a is older than b; 0: same place in history; >0: newer. */
export function compareKlipperVersions(a: KlipperVersion, b: KlipperVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || a.commits - b.commits || 0;
}

/**
 * - deprecated-code: Klipper warned the MCU lacks a feature (flash it);
 * - older: built from an older Klipper than the host runs (flashing recommended);
 * - same: built from the host's version;
 * - newer / different: built from a newer or another branch's Klipper;
 * - unknown: no version (Klippy not connected to it);
 * - other-build, no-application: the bus's own answers (see report.ts).
 */
export type Verdict =
  | "deprecated-code"
  | "older"
  | "same"
  | "newer"
  | "different"
  | "unknown"
  /** From the bus with a fresh build given: the board runs another build than it. */
  | "other-build"
  /** From the bus: the board waits in its bootloader (Katapult), no application runs. */
  | "no-application";

export interface BoardVerdict {
  /** Klipper's name: "mcu", "EBBCan". */
  name: string;
  /** Its printer object / printer.cfg section: "mcu", "mcu EBBCan". */
  section: string;
  mcuVersion: string | undefined;
  hostVersion: string | undefined;
  chip: string | undefined;
  verdict: Verdict;
  /** The verdict asks for a flash. */
  needsFlash: boolean;
  /** Features Klipper reported missing (deprecated_mcu_code). */
  missingFeatures: string[];
  /** Klipper's host process MCU (serial /tmp/klipper_host_mcu): rebuilt and installed, not flashed. */
  hostProcess: boolean;
  canbusUuid?: string;
  canbusInterface?: string;
  serial?: string;
}

export interface OutdatedInput {
  hostVersion: string | undefined;
  mcus: readonly McuObject[];
  warnings: readonly ConfigWarning[];
  /** configfile.config (raw options), for how each MCU is reached. */
  config?: Record<string, Record<string, string>>;
}

const nameOf = (object: string): string => object.replace(/^mcu\s+/, "").trim() || "mcu";

export function outdatedBoards(input: OutdatedInput): BoardVerdict[] {
  const host = parseKlipperVersion(input.hostVersion);
  return input.mcus.map((m): BoardVerdict => {
    const name = nameOf(m.object);
    const missingFeatures = input.warnings
      .filter((w) => w.type === "deprecated_mcu_code" && w.mcu === name && w.feature)
      .map((w) => w.feature!);
    const section = input.config?.[m.object] ?? {};
    const serial = section.serial;
    const hostProcess = !!serial && serial.startsWith("/tmp/");
    const mcu = parseKlipperVersion(m.mcuVersion);
    let verdict: Verdict;
    if (missingFeatures.length > 0) verdict = "deprecated-code";
    else if (m.mcuVersion === undefined) verdict = "unknown";
    else if (m.mcuVersion === input.hostVersion) verdict = "same";
    else if (!mcu || !host) verdict = "different";
    else {
      const c = compareKlipperVersions(mcu, host);
      verdict =
        c < 0
          ? "older"
          : c > 0
            ? "newer"
            : mcu.hash && host.hash && mcu.hash !== host.hash
              ? "different"
              : "same";
    }
    return {
      name,
      section: m.object,
      mcuVersion: m.mcuVersion,
      hostVersion: input.hostVersion,
      chip: m.chip,
      verdict,
      needsFlash: !hostProcess && (verdict === "deprecated-code" || verdict === "older"),
      missingFeatures,
      hostProcess,
      ...(section.canbus_uuid ? { canbusUuid: section.canbus_uuid.trim().toLowerCase() } : {}),
      ...(section.canbus_uuid
        ? { canbusInterface: section.canbus_interface?.trim() ?? "can0" }
        : {}),
      ...(serial ? { serial } : {}),
    };
  });
}
