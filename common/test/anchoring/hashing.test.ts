import { randomBytes } from 'node:crypto';
import { AbiCoder, keccak256, toUtf8Bytes, verifyMessage, Wallet, getBytes } from 'ethers';
import {
  abiEncode,
  keccak256Bytes,
  keccak256Utf8,
  keccakReady,
  signDigestMessage,
  type AbiType,
} from '../../src/anchoring/hashing';

// The fast paths must be ethers' functions exactly: anchored leaves, record keys and promise
// signatures are checked by third parties with ethers (or Solidity), never with this module.
const coder = AbiCoder.defaultAbiCoder();
const hex32 = () => `0x${randomBytes(32).toString('hex')}`;

describe('keccak256', () => {
  beforeAll(() => keccakReady);

  it('equals ethers over empty, short, block-edge and long inputs', () => {
    for (const size of [0, 1, 31, 32, 135, 136, 137, 1000, 4096]) {
      const data = randomBytes(size);
      expect(keccak256Bytes(data)).toBe(keccak256(data));
    }
  });

  it('hashes text as its UTF-8 bytes', () => {
    for (const text of ['', 'order', 'Zoë — 東京 🚀', '"\\u0000"'])
      expect(keccak256Utf8(text)).toBe(keccak256(toUtf8Bytes(text)));
  });
});

describe('abiEncode', () => {
  const cases: Array<[AbiType[], unknown[]]> = [
    [
      ['string', 'string'],
      ['order', 'c0ffee'],
    ],
    [
      ['string', 'string'],
      ['', ''],
    ],
    [
      ['string', 'uint16', 'bytes32', 'bytes32'],
      ['ecom.audit-anchor', 2, hex32(), hex32()],
    ],
    [
      ['string', 'uint256', 'bytes32', 'uint64', 'bytes32', 'uint64'],
      ['ecom.anchor-promise', 31337, hex32(), 7, hex32(), 1_900_000_000],
    ],
    [['string'], ['x'.repeat(32)]],
    [['string'], ['y'.repeat(33)]],
    [['string'], ['Zoë — 東京 🚀']],
    [
      ['uint16', 'uint64', 'uint256'],
      [65535, 2n ** 64n - 1n, 2n ** 256n - 1n],
    ],
    [['uint64'], [0]],
  ];

  it.each(cases)('equals AbiCoder.encode for %j', (types, values) => {
    expect(Buffer.from(abiEncode(types, values)).toString('hex')).toBe(
      coder.encode(types, values).slice(2),
    );
  });

  it('refuses what ethers refuses: out-of-range integers and malformed words', () => {
    const bad: Array<[AbiType, unknown]> = [
      ['uint16', 65536],
      ['uint16', -1],
      ['uint64', 2n ** 64n],
      ['uint256', 1.5],
      ['bytes32', '0x1234'],
      ['bytes32', `0x${'zz'.repeat(32)}`],
      ['string', 42],
    ];
    for (const [type, value] of bad) {
      expect(() => coder.encode([type], [value])).toThrow();
      expect(() => abiEncode([type], [value])).toThrow();
    }
  });
});

describe('signDigestMessage', () => {
  it("gives wallet.signMessage's exact signature, recoverable to the wallet", async () => {
    for (let i = 0; i < 20; i++) {
      const wallet = Wallet.createRandom();
      const digest = hex32();
      const signature = signDigestMessage(wallet.privateKey, digest);
      expect(signature).toBe(await wallet.signMessage(getBytes(digest)));
      expect(verifyMessage(getBytes(digest), signature)).toBe(wallet.address);
    }
  });

  it('refuses a digest that is not 32 bytes', () => {
    expect(() => signDigestMessage(Wallet.createRandom().privateKey, '0x1234')).toThrow(/32 bytes/);
  });
});
