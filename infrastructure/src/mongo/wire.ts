import { BSON, type Document } from 'bson';

/** Wire opcodes the stand-in speaks (OP_COMPRESSED is never sent: compression is not advertised). */
export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_MSG = 2013;

const HEADER_SIZE = 16;
const MSG_CHECKSUM_PRESENT = 1 << 0;
export const MSG_MORE_TO_COME = 1 << 1;

/** Upper bound the server advertises (maxMessageSizeBytes); bigger frames close the connection. */
export const MAX_MESSAGE_SIZE = 48_000_000;

export interface Header {
  messageLength: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

/** A decoded request: the command document plus how it must be answered. */
export interface WireRequest {
  header: Header;
  command: Document;
  /** OP_MSG moreToCome: the client wants no reply (w:0 writes). */
  noReply: boolean;
  legacy: boolean;
}

// Keep raw BSON types (Long stays Long for cursor ids) but promote plain numbers, as the driver does.
const DESERIALIZE: BSON.DeserializeOptions = { promoteLongs: true, promoteValues: true };

export function readHeader(buf: Buffer): Header {
  return {
    messageLength: buf.readInt32LE(0),
    requestId: buf.readInt32LE(4),
    responseTo: buf.readInt32LE(8),
    opCode: buf.readInt32LE(12),
  };
}

/** Decodes one complete frame; throws on malformed input (the caller closes the connection). */
export function decodeMessage(frame: Buffer): WireRequest {
  const header = readHeader(frame);
  if (header.opCode === OP_MSG) return decodeOpMsg(header, frame);
  if (header.opCode === OP_QUERY) return decodeOpQuery(header, frame);
  throw new Error(`unsupported opcode ${header.opCode}`);
}

function decodeOpMsg(header: Header, frame: Buffer): WireRequest {
  const flags = frame.readUInt32LE(HEADER_SIZE);
  const end = flags & MSG_CHECKSUM_PRESENT ? frame.length - 4 : frame.length;
  let offset = HEADER_SIZE + 4;
  let command: Document | undefined;
  const sequences: Record<string, Document[]> = {};
  while (offset < end) {
    const kind = frame[offset];
    offset += 1;
    if (kind === 0) {
      const size = frame.readInt32LE(offset);
      command = BSON.deserialize(frame.subarray(offset, offset + size), DESERIALIZE);
      offset += size;
    } else if (kind === 1) {
      const size = frame.readInt32LE(offset);
      const sectionEnd = offset + size;
      let p = offset + 4;
      const nul = frame.indexOf(0, p);
      const identifier = frame.toString('utf8', p, nul);
      p = nul + 1;
      const docs: Document[] = [];
      while (p < sectionEnd) {
        const docSize = frame.readInt32LE(p);
        docs.push(BSON.deserialize(frame.subarray(p, p + docSize), DESERIALIZE));
        p += docSize;
      }
      sequences[identifier] = docs;
      offset = sectionEnd;
    } else {
      throw new Error(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!command) throw new Error('OP_MSG without a body section');
  // Document sequences are the same arrays a body would carry ("documents", "updates", "deletes").
  for (const [identifier, docs] of Object.entries(sequences)) command[identifier] = docs;
  return { header, command, noReply: (flags & MSG_MORE_TO_COME) !== 0, legacy: false };
}

function decodeOpQuery(header: Header, frame: Buffer): WireRequest {
  let offset = HEADER_SIZE + 4; // flags
  const nul = frame.indexOf(0, offset);
  const fullCollectionName = frame.toString('utf8', offset, nul);
  offset = nul + 1 + 8; // numberToSkip, numberToReturn
  const size = frame.readInt32LE(offset);
  let query = BSON.deserialize(frame.subarray(offset, offset + size), DESERIALIZE);
  if (query.$query && typeof query.$query === 'object') query = query.$query as Document;
  const dbName = fullCollectionName.split('.')[0] ?? 'admin';
  if (!fullCollectionName.endsWith('.$cmd')) {
    // Legacy queries on collections died with MongoDB 3.6; only the handshake uses OP_QUERY now.
    return {
      header,
      command: { $legacyFind: fullCollectionName, $db: dbName },
      noReply: false,
      legacy: true,
    };
  }
  return { header, command: { ...query, $db: query.$db ?? dbName }, noReply: false, legacy: true };
}

let nextRequestId = 1;

export function encodeOpMsg(responseTo: number, doc: Document): Buffer {
  const body = toBuffer(BSON.serialize(doc));
  const out = Buffer.allocUnsafe(HEADER_SIZE + 4 + 1 + body.length);
  writeHeader(out, responseTo, OP_MSG);
  out.writeUInt32LE(0, HEADER_SIZE);
  out[HEADER_SIZE + 4] = 0;
  body.copy(out, HEADER_SIZE + 5);
  return out;
}

export function encodeOpReply(responseTo: number, doc: Document): Buffer {
  const body = toBuffer(BSON.serialize(doc));
  const out = Buffer.allocUnsafe(HEADER_SIZE + 20 + body.length);
  writeHeader(out, responseTo, OP_REPLY);
  out.writeInt32LE(0, HEADER_SIZE); // responseFlags
  out.writeBigInt64LE(0n, HEADER_SIZE + 4); // cursorID
  out.writeInt32LE(0, HEADER_SIZE + 12); // startingFrom
  out.writeInt32LE(1, HEADER_SIZE + 16); // numberReturned
  body.copy(out, HEADER_SIZE + 20);
  return out;
}

function writeHeader(out: Buffer, responseTo: number, opCode: number): void {
  out.writeInt32LE(out.length, 0);
  out.writeInt32LE(nextRequestId++ & 0x7fffffff, 4);
  out.writeInt32LE(responseTo, 8);
  out.writeInt32LE(opCode, 12);
}

/**
 * Splits a TCP stream into frames. Chunks are kept in a list and only concatenated
 * once a whole frame is there, so a large message does not cost quadratic copying.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readInt32LE(0);
      if (length < HEADER_SIZE || length > MAX_MESSAGE_SIZE) {
        throw new Error(`invalid message length ${length}`);
      }
      if (this.buffered < length) break;
      frames.push(this.take(length));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0];
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}

function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}
