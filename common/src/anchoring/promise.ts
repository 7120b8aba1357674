import { getBytes, verifyMessage, type Wallet } from 'ethers';
import { abiEncode, keccak256Bytes, signDigestMessage } from './hashing';

/**
 * A signed promise, given at write time, that an entry's leaf will be anchored by a deadline
 * (docs/verification.md §4). Whoever holds it can prove later that the log holds that leaf for
 * that record key and sequence, or that it does not: the window before anchoring cannot be
 * rewritten silently, not even by someone with write access to the database.
 */
export const PROMISE_DOMAIN = 'ecom.anchor-promise';

export interface AnchorPromise {
  type: typeof PROMISE_DOMAIN;
  version: 1;
  chainId: number;
  /** The service's anchorer address. */
  signer: string;
  recordType: string;
  recordId: string;
  recordKey: string;
  sequence: number;
  leaf: string;
  /** Unix time, seconds. */
  deadline: number;
  signature: string;
}

/**
 * A promise as the public log shows it: without the record id, which its signed digest does not
 * hold (the record key stands for it), so the log names no order or payment. Whoever holds the
 * promise itself (the customer, from the write's answer) knows the id.
 */
export type PublishedPromise = Omit<AnchorPromise, 'recordId'>;

/** The promise without its record id, as the public log publishes it. */
export function publishedPromise(p: AnchorPromise): PublishedPromise {
  const { recordId: _private, ...published } = p;
  return published;
}

export type PromiseTerms = Omit<AnchorPromise, 'type' | 'version' | 'signer' | 'signature'>;

export function promiseDigest(
  p: Pick<PromiseTerms, 'chainId' | 'recordKey' | 'sequence' | 'leaf' | 'deadline'>,
): string {
  return keccak256Bytes(
    abiEncode(
      ['string', 'uint256', 'bytes32', 'uint64', 'bytes32', 'uint64'],
      [PROMISE_DOMAIN, p.chainId, p.recordKey, p.sequence, p.leaf, p.deadline],
    ),
  );
}

export function signPromise(wallet: Wallet, terms: PromiseTerms): AnchorPromise {
  // wallet.signMessage's exact signature, without its pure-JavaScript secp256k1 (hashing.ts).
  const signature = signDigestMessage(wallet.signingKey.privateKey, promiseDigest(terms));
  return {
    type: PROMISE_DOMAIN,
    version: 1,
    chainId: terms.chainId,
    signer: wallet.address.toLowerCase(),
    recordType: terms.recordType,
    recordId: terms.recordId,
    recordKey: terms.recordKey,
    sequence: terms.sequence,
    leaf: terms.leaf,
    deadline: terms.deadline,
    signature,
  };
}

/** The address that signed the promise (lower case), or null when the signature is malformed. */
export function promiseSigner(p: AnchorPromise): string | null {
  try {
    return verifyMessage(getBytes(promiseDigest(p)), p.signature).toLowerCase();
  } catch {
    return null;
  }
}
