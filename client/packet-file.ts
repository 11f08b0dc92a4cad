/**
 * Packets from a file, as the classic lab keeps them (`pktfiles/1.json`): one JSON object,
 * pretty-printed or not, or NDJSON with one packet a line (or a JSON array of packets). The
 * packets are kept exactly as written, string numbers and all.
 */
import { readFile } from 'node:fs/promises';

export type FilePacket = Record<string, unknown>;

/** Reads and parses a packet file; throws an Error naming the file (and line) when it cannot. */
export async function readPacketFile(path: string): Promise<FilePacket[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parsePackets(text, path);
}

/** The packets in a file's text; `name` only labels errors. */
export function parsePackets(text: string, name = 'input'): FilePacket[] {
  const body = text.replace(/^\uFEFF/, '').trim();
  if (body === '') throw new Error(`${name} holds no packet`);
  // A whole-file parse first: that is what takes a pretty-printed object.
  const whole = tryParse(body);
  if (whole !== undefined) {
    const packets = Array.isArray(whole) ? whole : [whole];
    packets.forEach((packet, i) => {
      if (!isObject(packet)) throw new Error(`${name}: packet ${i + 1} is not a JSON object`);
    });
    if (packets.length === 0) throw new Error(`${name} holds no packet`);
    return packets as FilePacket[];
  }
  const packets: FilePacket[] = [];
  body.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const packet = tryParse(line);
    if (!isObject(packet)) throw new Error(`${name} line ${i + 1}: not a JSON object: ${line.length > 60 ? `${line.slice(0, 60)}…` : line}`);
    packets.push(packet);
  });
  return packets;
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The packets with their policy replaced by `policy` (--policy given beside --file): the one
 * field the classic scripts spell two ways, `privPoliId` and `privPolyId`, becomes `privPoliId`.
 */
export function withPolicy(packets: FilePacket[], policy: number): FilePacket[] {
  return packets.map(({ privPolyId: _dropped, ...rest }) => ({ ...rest, privPoliId: policy }));
}

function isObject(value: unknown): value is FilePacket {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
