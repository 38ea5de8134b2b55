// What simulated devices report, for tests and for `canflash sim`'s one
// line per event.

export type SimEvent =
  | { type: "boot"; uuid: string; into: "katapult" | "klipper" | "rom" | "off"; reason: string }
  | { type: "query-reply"; uuid: string; app: "katapult" | "klipper" }
  | { type: "assigned"; uuid: string; nodeId: number; app: "katapult" | "klipper" }
  | { type: "unassigned"; uuid: string; reason: "clear" | "conflict" }
  | { type: "connect"; uuid: string }
  | { type: "write"; uuid: string; address: number; ok: boolean; errorCode?: number }
  | { type: "read"; uuid: string; address: number }
  | { type: "eof"; uuid: string; pages: number }
  | { type: "complete"; uuid: string }
  | { type: "request-bootloader"; uuid: string }
  | { type: "nack"; uuid: string }
  | { type: "wedged"; uuid: string }
  | { type: "fault"; uuid: string; address: number }
  | {
      type: "overrun";
      uuid: string;
      where: "hw-fifo" | "rx-buffer" | "admin-queue" | "tx-buffer";
      lost: number;
    }
  | { type: "serial-request"; uuid: string };

export type SimEventListener = (event: SimEvent) => void;

/** One-line text for an event (used by `canflash sim`). */
export function formatSimEvent(e: SimEvent): string {
  const hex = (a: number) => `0x${a.toString(16).padStart(8, "0")}`;
  switch (e.type) {
    case "boot":
      return `${e.uuid} boot ${e.into} (${e.reason})`;
    case "query-reply":
      return `${e.uuid} answers query as ${e.app}`;
    case "assigned":
      return `${e.uuid} ${e.app} node id ${e.nodeId}`;
    case "unassigned":
      return `${e.uuid} node id dropped (${e.reason})`;
    case "connect":
      return `${e.uuid} CONNECT`;
    case "write":
      return `${e.uuid} write ${hex(e.address)} ${e.ok ? "ok" : `refused (${e.errorCode})`}`;
    case "read":
      return `${e.uuid} read ${hex(e.address)}`;
    case "eof":
      return `${e.uuid} EOF (${e.pages} pages)`;
    case "complete":
      return `${e.uuid} COMPLETE`;
    case "request-bootloader":
      return `${e.uuid} bootloader requested`;
    case "nack":
      return `${e.uuid} NACK (bad frame)`;
    case "wedged":
      return `${e.uuid} WEDGED: parser stuck on bad data until reset`;
    case "fault":
      return `${e.uuid} hard fault reading ${hex(e.address)}`;
    case "overrun":
      return `${e.uuid} ${e.where} overrun: ${e.lost} lost`;
    case "serial-request":
      return `${e.uuid} serial bootloader request received`;
  }
}
