// Katapult over CAN: clear stale node ids, get the node into Katapult (a
// bootloader request if it runs Klipper), assign it a node id, and hand the
// node's CAN id pair to the Katapult adapter as a byte stream.

import type { CanBus } from "../can/bus.js";
import { FIRST_HOST_NODE_ID, nodeCanIds } from "../klippy-bridge/admin.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import { CanNodeStream } from "../transport/can-node-stream.js";
import { KatapultAdapter } from "./adapter.js";
import {
  assignKatapultNodeId,
  clearKatapultNodeIds,
  waitForKatapult,
  type EnterOptions,
} from "./can-admin.js";
import type { SessionTimeouts } from "./session.js";

export interface KatapultCanOptions {
  bus: CanBus;
  uuid: Uuid;
  /** Node id to assign (default 128, the first of canflash's range). */
  nodeId?: number;
  /** Send CLEAR_KATAPULT_NODEID first (default true; a batch clears once for all nodes instead). */
  clearFirst?: boolean;
  enter?: Omit<EnterOptions, "signal" | "onRequest">;
  timeouts?: Partial<SessionTimeouts>;
  flashEnd?: number;
}

/** A FlashAdapter that flashes `uuid` through Katapult on `bus`. */
export function katapultCanAdapter(options: KatapultCanOptions): KatapultAdapter {
  const { bus, uuid } = options;
  const nodeId = options.nodeId ?? FIRST_HOST_NODE_ID;
  return new KatapultAdapter({
    protocol: "katapult-can",
    expectUuid: uuid,
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    ...(options.flashEnd !== undefined ? { flashEnd: options.flashEnd } : {}),
    async open(ctx) {
      if (options.clearFirst ?? true) await clearKatapultNodeIds(bus);
      const r = await waitForKatapult(bus, uuid, {
        ...options.enter,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onRequest: (why) =>
          ctx.emit({
            type: "info",
            message:
              why === "answered-as-klipper"
                ? `${uuid} runs Klipper: requesting its bootloader`
                : `${uuid} did not answer a query: requesting its bootloader`,
            data: { requestBootloader: uuid, why },
          }),
      });
      ctx.emit({
        type: "info",
        message: `${uuid} answers as Katapult`,
        data: { firstSeenAs: r.firstSeenAs ?? "none" },
      });
      await assignKatapultNodeId(bus, uuid, nodeId);
      return new CanNodeStream(bus, nodeCanIds(nodeId), `node ${nodeId}`);
    },
  });
}
