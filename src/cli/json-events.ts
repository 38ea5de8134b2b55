// The --json output: NDJSON on stdout, one object per line, in this order:
//   start → (node | missing | finding | target | phase | progress | info)* → result
// and nothing else on stdout (human-readable errors go to stderr). The zod
// schema below is the documentation and the test oracle; the README
// describes it for users.

import * as z from "zod";

const board = z.string().describe("the board's label: printer.cfg section, UUID or tty");

export const JsonEvent = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("start"),
    command: z.string(),
    version: z.string(),
    time: z.string().describe("ISO 8601"),
  }),
  z.object({
    type: z.literal("node"),
    uuid: z.string().regex(/^[0-9a-f]{12}$/),
    application: z.enum(["Katapult", "Klipper", "Kalico", "Unknown"]),
    interface: z.string(),
    mcu: z.string().optional(),
    version: z.string().optional(),
    section: z.string().optional().describe('the printer.cfg section naming it: "mcu EBBCan"'),
    found: z
      .enum(["query", "node-id"])
      .optional()
      .describe("answered the query, or found holding a node id (silent to queries)"),
    nodeId: z.number().int().optional(),
    blockSize: z.number().int().optional().describe("Katapult (--katapult-info)"),
    appStart: z.number().int().optional().describe("Katapult (--katapult-info)"),
    protocol: z.string().optional().describe("Katapult protocol version (--katapult-info)"),
    transport: z.string().optional().describe("Klipper build: can, usb-can-bridge, usb, serial"),
    canbusFrequency: z.number().int().optional(),
    error: z.string().optional().describe("identify or CONNECT failed"),
  }),
  z.object({
    type: z.literal("missing"),
    section: z.string(),
    uuid: z.string(),
    interface: z.string(),
    reason: z.string(),
    fix: z.string().optional(),
  }),
  z.object({
    type: z.literal("finding"),
    level: z.enum(["ok", "warn", "error"]),
    topic: z.string(),
    message: z.string(),
    fix: z.string().optional(),
  }),
  z.object({
    type: z.literal("target"),
    target: z
      .record(z.string(), z.unknown())
      .describe("a row of the target table, plus supported: boolean"),
  }),
  z.object({
    type: z.literal("phase"),
    board,
    phase: z.enum(["enter", "connect", "compare", "erase", "write", "verify", "finish"]),
    status: z.enum(["start", "end", "failed"]),
    ms: z.number().optional(),
    totalBytes: z.number().int().optional(),
    error: z.string().optional(),
  }),
  z.object({
    type: z.literal("progress"),
    board,
    phase: z.enum(["compare", "erase", "write", "verify"]),
    bytes: z.number().int(),
    totalBytes: z.number().int(),
  }),
  z.object({
    type: z.literal("info"),
    board: board.optional(),
    message: z.string(),
    data: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({
    type: z.literal("result"),
    ok: z.boolean(),
    exitCode: z.number().int(),
    boards: z
      .array(
        z.object({
          board,
          uuid: z.string().optional(),
          device: z.string().optional(),
          interface: z.string().optional(),
          result: z.enum(["ok", "dry-run", "current", "failed", "skipped"]),
          bytes: z.number().int().optional(),
          ms: z.number().optional(),
          cpuMs: z
            .number()
            .optional()
            .describe(
              "CPU (user + system) of this process during the flash, ms; flashes side by side share it",
            ),
          note: z.string().optional(),
          error: z
            .object({
              code: z.string(),
              message: z.string(),
              phase: z.string().optional(),
              deviceState: z.string().optional(),
            })
            .optional(),
          changed: z.boolean().optional().describe("canflash ensure: this run flashed the board"),
        }),
      )
      .optional(),
    changed: z.boolean().optional().describe("canflash ensure: this run flashed any board"),
    error: z
      .object({
        code: z.string(),
        message: z.string(),
        causes: z.array(z.string()),
        next: z.array(z.string()),
      })
      .optional(),
  }),
]);

export type JsonEvent = z.infer<typeof JsonEvent>;
