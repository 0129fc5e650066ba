// The few protobuf wire forms the FCM stand-in speaks (varints, fixed64, bytes): a library for
// three field kinds would be larger than this file. https://protobuf.dev/programming-guides/encoding/

/** A base-128 varint, least significant group first. */
export function varint(value: number | bigint): Buffer {
  let rest = BigInt(value);
  const bytes: number[] = [];
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return Buffer.from(bytes);
}

const key = (field: number, wireType: number): Buffer => varint((field << 3) | wireType);

/** Field `field` as a varint (int32, int64, bool). */
export const varintField = (field: number, value: number | bigint): Buffer =>
  Buffer.concat([key(field, 0), varint(value)]);

/** Field `field` as a fixed64 (eight bytes, little-endian). */
export function fixed64Field(field: number, value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  return Buffer.concat([key(field, 1), bytes]);
}

/** Field `field` as length-delimited bytes: a string, bytes, or an encoded message. */
export function bytesField(field: number, value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([key(field, 2), varint(bytes.length), bytes]);
}

/** Reads a varint at `offset`: its value and the offset after it; undefined if it is cut short. */
export function readVarint(bytes: Buffer, offset: number): [bigint, number] | undefined {
  let value = 0n;
  for (let shift = 0n, at = offset; at < bytes.length; shift += 7n, at++) {
    const byte = bytes[at] as number;
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [value, at + 1];
  }
  return undefined;
}

/** A decoded message: each field number's values in order (varints and fixed as bigint). */
export type Fields = Map<number, (bigint | Buffer)[]>;

/** Decodes one message's fields; throws on a malformed one. */
export function decodeFields(bytes: Buffer): Fields {
  const fields: Fields = new Map();
  let offset = 0;
  const next = (): bigint => {
    const read = readVarint(bytes, offset);
    if (!read) throw new Error('protobuf: a varint runs past the end');
    offset = read[1];
    return read[0];
  };
  const take = (length: number): Buffer => {
    if (offset + length > bytes.length) throw new Error('protobuf: a field runs past the end');
    offset += length;
    return bytes.subarray(offset - length, offset);
  };
  while (offset < bytes.length) {
    const tag = next();
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    let value: bigint | Buffer;
    if (wireType === 0) value = next();
    else if (wireType === 1) value = take(8).readBigUInt64LE();
    else if (wireType === 2) value = take(Number(next()));
    else if (wireType === 5) value = BigInt(take(4).readUInt32LE());
    else throw new Error(`protobuf: wire type ${wireType} is not supported`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

/** The first value of `field` as text (a string field), or undefined. */
export function text(fields: Fields, field: number): string | undefined {
  const value = fields.get(field)?.[0];
  return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
}

/** The first value of `field` as a number (a varint or fixed field), or undefined. */
export function integer(fields: Fields, field: number): bigint | undefined {
  const value = fields.get(field)?.[0];
  return typeof value === 'bigint' ? value : undefined;
}
