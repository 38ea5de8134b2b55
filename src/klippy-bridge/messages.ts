// Messages by name, with the ids of one build's data dictionary: encode a
// command, decode the responses in a block. Ids differ between builds, so
// anything beyond identify needs the dictionary first.

import { decodeVlq } from "./vlq.js";
import type { KlipperDictionary } from "./dictionary.js";
import {
  decodeParams,
  encodeMessage,
  MsgprotoError,
  parseFormat,
  type MessageFormat,
  type MessageParams,
} from "./msgproto.js";

export interface DecodedMessage {
  name: string;
  params: MessageParams;
}

type ById = Map<number, MessageFormat>;
type ByName = Map<string, { id: number; format: MessageFormat }>;

function index(formats: Record<string, number>): { byId: ById; byName: ByName } {
  const byId: ById = new Map();
  const byName: ByName = new Map();
  for (const [text, id] of Object.entries(formats)) {
    const f = tryFormat(text);
    if (!f) continue;
    byId.set(id, f);
    byName.set(f.name, { id, format: f });
  }
  return { byId, byName };
}

function decodeWith(byId: ById, content: Uint8Array): DecodedMessage[] {
  const out: DecodedMessage[] = [];
  let pos = 0;
  try {
    while (pos < content.length) {
      const id = decodeVlq(content, pos);
      const f = byId.get(id.value);
      if (!f) break;
      const r = decodeParams(content, id.next, f);
      out.push({ name: f.name, params: r.params });
      pos = r.next;
    }
  } catch {
    // a malformed message ends the block
  }
  return out;
}

function encodeWith(byName: ByName, name: string, params: MessageParams): Uint8Array {
  const c = byName.get(name);
  if (!c) throw new MsgprotoError(`this build has no message "${name}"`);
  return encodeMessage(c.id, c.format, params);
}

/** The host's view: it sends commands and decodes responses. */
export class MessageTable {
  private readonly commands: ByName;
  private readonly responses: ById;

  constructor(dict: Pick<KlipperDictionary, "commands" | "responses">) {
    this.commands = index(dict.commands).byName;
    this.responses = index(dict.responses).byId;
  }

  has(command: string): boolean {
    return this.commands.has(command);
  }

  /** A command's message bytes (id + parameters). */
  encode(command: string, params: MessageParams = {}): Uint8Array {
    return encodeWith(this.commands, command, params);
  }

  /** The responses in a block's content, up to the first it cannot parse. */
  decode(content: Uint8Array): DecodedMessage[] {
    return decodeWith(this.responses, content);
  }
}

/** The MCU's view (for simulated MCUs): it decodes commands and sends responses. */
export class McuMessageTable {
  private readonly commands: ById;
  private readonly responses: ByName;

  constructor(dict: Pick<KlipperDictionary, "commands" | "responses">) {
    this.commands = index(dict.commands).byId;
    this.responses = index(dict.responses).byName;
  }

  decode(content: Uint8Array): DecodedMessage[] {
    return decodeWith(this.commands, content);
  }

  encode(response: string, params: MessageParams = {}): Uint8Array {
    return encodeWith(this.responses, response, params);
  }
}

function tryFormat(text: string): MessageFormat | undefined {
  try {
    return parseFormat(text);
  } catch {
    return undefined; // a format this tool never needs (and cannot parse) is skipped
  }
}
