import { keccak256 as ethersKeccak256, getBytes } from 'ethers';
import { createKeccak, type IHasher } from 'hash-wasm';

/**
 * The hot cryptography of anchoring, off ethers' pure-JavaScript paths: every anchored write
 * hashes its record, encodes three ABI tuples and signs a promise, in the writer's transaction.
 * Measured on the saga's 2 cores, ethers took 1.3 ms to sign, 0.1 ms to ABI-encode a tuple and
 * 0.12 ms to hash a kilobyte; here it is 0.16 ms (libsecp256k1 in WebAssembly), a few µs, and
 * 8 µs (keccak in WebAssembly). The results are byte for byte ethers' (the tests compare them),
 * and verification still goes through ethers, so nothing here is trusted beyond signing.
 */

// tiny-secp256k1 ships CommonJS for require but types only for its ES module build, which
// TypeScript will not let a CommonJS file import: required, with the one signature used here.
const { signRecoverable } = require('tiny-secp256k1') as {
  signRecoverable(
    hash: Uint8Array,
    privateKey: Uint8Array,
  ): {
    signature: Uint8Array;
    recoveryId: 0 | 1 | 2 | 3;
  };
};

let wasmKeccak: IHasher | undefined;
// Compiling the WebAssembly is asynchronous; until it is ready (the first milliseconds of a
// process) ethers' keccak serves. Both compute the same function.
export const keccakReady: Promise<void> = createKeccak(256).then(
  (hasher) => {
    wasmKeccak = hasher;
  },
  () => undefined, // no WebAssembly: ethers keeps serving
);

/** keccak256 of bytes, as 0x-prefixed lower-case hex (ethers' `keccak256`). */
export function keccak256Bytes(data: Uint8Array): string {
  if (!wasmKeccak) return ethersKeccak256(data);
  wasmKeccak.init();
  wasmKeccak.update(data);
  return `0x${wasmKeccak.digest('hex')}`;
}

/** keccak256 of a string's UTF-8 bytes. */
export function keccak256Utf8(text: string): string {
  return keccak256Bytes(Buffer.from(text, 'utf8'));
}

/** The ABI types anchoring encodes: all static words but `string`. */
export type AbiType = 'string' | 'bytes32' | 'uint16' | 'uint64' | 'uint256';

const WORD = 32;
const BITS: Record<Exclude<AbiType, 'string' | 'bytes32'>, bigint> = {
  uint16: 16n,
  uint64: 64n,
  uint256: 256n,
};

function writeUint(out: Buffer, at: number, value: bigint): void {
  out.write(value.toString(16).padStart(64, '0'), at, WORD, 'hex');
}

function uintWord(type: keyof typeof BITS, value: unknown): bigint {
  if (typeof value !== 'number' && typeof value !== 'bigint')
    throw new TypeError(`${type} must be a number or bigint`);
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    throw new RangeError(`${type} must be a safe integer`);
  const v = BigInt(value);
  if (v < 0n || v >> BITS[type] !== 0n) throw new RangeError(`${type} out of range`);
  return v;
}

function bytes32Word(value: unknown): Buffer {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(value))
    throw new TypeError('bytes32 must be 0x and 64 hex digits');
  return Buffer.from(value.slice(2), 'hex');
}

/**
 * `abi.encode` (Solidity's standard encoding) of a tuple of these types: a head word per
 * value, a string's word holding the offset of its tail (length word, then the UTF-8 bytes
 * padded to a word). Equals ethers' `AbiCoder.encode` for the same arguments (tested), and
 * refuses what it refuses (out-of-range integers, malformed bytes32).
 */
export function abiEncode(types: readonly AbiType[], values: readonly unknown[]): Uint8Array {
  if (types.length !== values.length) throw new TypeError('types and values differ in length');
  const strings = types.map((t, i) => {
    if (t !== 'string') return null;
    if (typeof values[i] !== 'string') throw new TypeError('string must be a string');
    return Buffer.from(values[i] as string, 'utf8');
  });
  let size = types.length * WORD;
  for (const s of strings) if (s) size += WORD + Math.ceil(s.length / WORD) * WORD;
  const out = Buffer.alloc(size); // zero-filled: padding needs no writes
  let tail = types.length * WORD;
  types.forEach((type, i) => {
    const head = i * WORD;
    const s = strings[i];
    if (s) {
      writeUint(out, head, BigInt(tail));
      writeUint(out, tail, BigInt(s.length));
      s.copy(out, tail + WORD);
      tail += WORD + Math.ceil(s.length / WORD) * WORD;
    } else if (type === 'bytes32') bytes32Word(values[i]).copy(out, head);
    else writeUint(out, head, uintWord(type as keyof typeof BITS, values[i]));
  });
  return out;
}

const MESSAGE_PREFIX = Buffer.from('\x19Ethereum Signed Message:\n32', 'utf8');

/**
 * EIP-191 `personal_sign` of a 32-byte digest, as ethers' `wallet.signMessage(digestBytes)`
 * answers it: r ‖ s ‖ v (v = 27 + recovery id), lower-S, deterministic (RFC 6979), so the
 * same key and digest give ethers' exact signature (tested), recoverable with `verifyMessage`.
 */
export function signDigestMessage(privateKey: string, digest: string): string {
  const message = getBytes(digest);
  if (message.length !== 32) throw new TypeError('the digest must be 32 bytes');
  const hash = getBytes(keccak256Bytes(Buffer.concat([MESSAGE_PREFIX, message])));
  const { signature, recoveryId } = signRecoverable(hash, getBytes(privateKey));
  return `0x${Buffer.from(signature).toString('hex')}${(27 + recoveryId).toString(16)}`;
}
