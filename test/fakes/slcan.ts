// An slcan adapter model where canflash can open it: on a pseudo-terminal
// ("slcan:/dev/pts/N", the real serial path), or in-process behind a
// MockTransport (fast bus tests). Its far side is a virtual CAN channel.
import type { VirtualCanChannel } from "../../src/can/virtual.js";
import { SimSlcanAdapter, type SimSlcanAdapterOptions } from "../../src/sim/slcan/adapter.js";
import { openSlcan, type OpenSlcanOptions } from "../../src/transport/slcan/backend.js";
import type { SlcanBus } from "../../src/transport/slcan/bus.js";
import { MockTransport } from "../../src/transport/mock.js";
import { openPty, type Pty } from "./pty.js";

export interface SlcanOnPty {
  /** The interface name canflash opens: "slcan:/dev/pts/N". */
  iface: string;
  pty: Pty;
  adapter: SimSlcanAdapter;
  close(): Promise<void>;
}

export async function slcanOnPty(
  channel: VirtualCanChannel,
  options: SimSlcanAdapterOptions = {},
  suffix = "",
): Promise<SlcanOnPty> {
  const pty = await openPty();
  const adapter = new SimSlcanAdapter(
    { write: (b) => pty.write(b), onData: (cb) => pty.onData(cb) },
    channel,
    options,
  );
  adapter.start();
  return {
    iface: `slcan:${pty.path}${suffix}`,
    pty,
    adapter,
    close: async () => {
      await adapter.stop();
      await pty.close();
    },
  };
}

/** An SlcanBus talking to an adapter model in this process (no pty). */
export async function slcanInProcess(
  channel: VirtualCanChannel,
  adapterOptions: SimSlcanAdapterOptions = {},
  busOptions: OpenSlcanOptions & { suffix?: string } = {},
): Promise<{ bus: SlcanBus; adapter: SimSlcanAdapter; transport: MockTransport }> {
  const toAdapter: Array<(b: Uint8Array) => void> = [];
  const transport = new MockTransport(channel.clock, (written) => {
    for (const cb of toAdapter) cb(written);
    return undefined;
  });
  const adapter = new SimSlcanAdapter(
    {
      write: (b) => transport.emitData(b),
      onData: (cb) => void toAdapter.push(cb),
    },
    channel,
    adapterOptions,
  );
  adapter.start();
  try {
    const bus = await openSlcan(`slcan:/dev/sim${busOptions.suffix ?? ""}`, {
      ...busOptions,
      openPort: () => Promise.resolve(transport),
    });
    return { bus, adapter, transport };
  } catch (e) {
    await adapter.stop();
    throw e;
  }
}
