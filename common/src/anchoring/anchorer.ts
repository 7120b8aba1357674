import { randomUUID } from 'node:crypto';
import {
  NonceManager,
  Wallet,
  type Contract,
  type JsonRpcProvider,
  type Signer,
  type TransactionReceipt,
} from 'ethers';
import { checkChain } from './chain';
import { auditAnchorAt, readAnchor } from './contract';
import { buildBatchTree } from './leaf';
import type { AnchorStore, ChainIdentity, StoredAnchorBatch } from './store';
import { withLinkedSpan } from '../tracing/event-spans';
import { currentService } from '../tracing/state';

/** The few logger methods the worker uses (winston's Logger fits). */
export interface AnchorLogger {
  info(message: string, meta?: object): unknown;
  warn(message: string, meta?: object): unknown;
  error(message: string, meta?: object): unknown;
}

export interface AnchorerOptions {
  store: AnchorStore;
  provider: JsonRpcProvider;
  chainId: number;
  privateKey: string;
  /** Where AuditAnchor lives; when absent or without code, `deploy` is used (if given). */
  contractAddress?: string;
  /** Deploys a fresh AuditAnchor (missing contract, fresh chain) and returns its address. */
  deploy?: (signer: Signer) => Promise<string>;
  /** A batch is sent when it is this old... */
  windowMs?: number;
  /** ...or has this many records, whichever comes first. */
  maxBatchSize?: number;
  /** How often an idle worker checks that the chain is still the same one. */
  chainCheckIntervalMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  receiptTimeoutMs?: number;
  logger?: AnchorLogger;
}

export interface AnchorerStatus {
  running: boolean;
  /** Whether this instance holds the writer lock (one writer per service database). */
  writer: boolean;
  chain: ChainIdentity | null;
  consecutiveFailures: number;
  lastError: string | null;
  lastAnchoredAt: Date | null;
  batchesAnchored: number;
  recordsAnchored: number;
  /** Gas used by the anchor transactions this instance confirmed (gas per batch on /metrics). */
  gasUsed: number;
}

const ZERO = `0x${'0'.repeat(64)}`;
// A fixed limit saves an eth_estimateGas round trip per batch; an anchor needs ~50k.
const ANCHOR_GAS_LIMIT = 120_000n;

const silent: AnchorLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A batch id on chain: the 16 bytes of the batch UUID, left-aligned (zero bytes are cheap calldata). */
export function onChainBatchId(uuid: string): string {
  return `0x${uuid.replace(/-/g, '')}${'0'.repeat(32)}`;
}

/**
 * The background worker: batches queued records into Merkle trees, anchors one root per
 * transaction from one signer, and reconciles what a crash or a chain restart left behind.
 * All work happens in one serial loop, so nonces never collide; failures back off and retry.
 */
export class Anchorer {
  private readonly store: AnchorStore;
  private readonly provider: JsonRpcProvider;
  private readonly wallet: Wallet;
  private readonly signer: NonceManager;
  private readonly log: AnchorLogger;
  private readonly windowMs: number;
  private readonly maxBatchSize: number;
  private readonly chainCheckIntervalMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly receiptTimeoutMs: number;
  private identity: ChainIdentity | null = null;
  private contract: Contract | null = null;
  private lastChainCheck = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Successful passes so far (flush() waits for one that started after it was called). */
  private completedTicks = 0;
  private state: Omit<AnchorerStatus, 'running' | 'chain'> = {
    writer: false,
    consecutiveFailures: 0,
    lastError: null,
    lastAnchoredAt: null,
    batchesAnchored: 0,
    recordsAnchored: 0,
    gasUsed: 0,
  };

  constructor(private readonly options: AnchorerOptions) {
    this.store = options.store;
    this.provider = options.provider;
    this.wallet = new Wallet(options.privateKey, options.provider);
    this.signer = new NonceManager(this.wallet);
    this.log = options.logger ?? silent;
    this.windowMs = options.windowMs ?? 1000;
    this.maxBatchSize = Math.min(options.maxBatchSize ?? 500, 10_000);
    this.chainCheckIntervalMs = options.chainCheckIntervalMs ?? 5000;
    this.backoffInitialMs = options.backoffInitialMs ?? 250;
    this.backoffMaxMs = options.backoffMaxMs ?? 15_000;
    this.receiptTimeoutMs = options.receiptTimeoutMs ?? 30_000;
  }

  get address(): string {
    return this.wallet.address;
  }

  status(): AnchorerStatus {
    return { ...this.state, running: this.running, chain: this.identity };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = null;
    await this.store.releaseWriterLock();
    this.state.writer = false;
  }

  /** Resolves after a full pass that started after this call (throws after `timeoutMs`). */
  async waitForTick(timeoutMs: number): Promise<void> {
    const target = this.completedTicks + 2; // the pass in progress may predate the call
    const deadline = Date.now() + timeoutMs;
    while (this.completedTicks < target) {
      if (Date.now() > deadline) {
        throw new Error(`anchoring made no progress in ${timeoutMs} ms: ${this.state.lastError}`);
      }
      this.nudge();
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Ask for a tick now (e.g. after a burst of enqueues); harmless when idle. */
  nudge(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let delay = this.windowMs;
      try {
        await this.tick();
        this.completedTicks++;
        this.state.consecutiveFailures = 0;
        this.state.lastError = null;
      } catch (err) {
        const failures = ++this.state.consecutiveFailures;
        this.state.lastError = err instanceof Error ? err.message : String(err);
        this.lastChainCheck = 0; // re-check the chain's identity after any failure
        this.signer.reset();
        delay = Math.min(
          this.backoffMaxMs,
          this.backoffInitialMs * 2 ** Math.min(failures - 1, 10),
        );
        delay = Math.round(delay * (0.75 + Math.random() * 0.5));
        this.log.warn('anchoring failed; retrying', {
          error: this.state.lastError,
          failures,
          retryInMs: delay,
        });
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, delay);
      });
      if (this.timer) clearTimeout(this.timer);
      this.wake = null;
    }
  }

  /** One pass: be the writer, know the chain, settle unfinished batches, send due batches. */
  async tick(): Promise<void> {
    this.state.writer = await this.store.acquireWriterLock();
    if (!this.state.writer) return; // another instance anchors; stay on standby
    const unfinished = await this.store.unfinishedBatches();
    const { records, oldestAgeMs } = await this.store.oldestUnbatched(this.maxBatchSize);
    const dueCheck = Date.now() - this.lastChainCheck >= this.chainCheckIntervalMs;
    if (!unfinished.length && !records.length && !dueCheck && this.identity) return;
    await this.ensureChain();

    for (const batch of await this.store.unfinishedBatches()) {
      if (!this.running && this.loop) return;
      await this.settle(batch);
    }

    let next = { records, oldestAgeMs };
    if (unfinished.length) next = await this.store.oldestUnbatched(this.maxBatchSize);
    while (next.records.length) {
      const due =
        next.records.length >= this.maxBatchSize || (next.oldestAgeMs ?? 0) >= this.windowMs;
      if (!due) return;
      const batch = next.records;
      // Its own trace, linked to each record's: a saga's trace is never held open by a chain.
      await withLinkedSpan(
        currentService() ?? 'anchorer',
        'anchor batch',
        batch.map((r) => ({ traceparent: r.traceparent ?? undefined })),
        () => this.anchorRecords(batch.map((r) => ({ id: r.id, leaf: r.leaf }))),
      );
      if (!this.running && this.loop) return;
      next = await this.store.oldestUnbatched(this.maxBatchSize);
    }
  }

  /**
   * Finds out which chain and contract we talk to. A new genesis hash, a missing contract, or a
   * confirmed root the contract does not know means the chain lost its state: deploy if allowed,
   * then send every record anchored elsewhere back to the queue.
   */
  private async ensureChain(): Promise<void> {
    const chainId = await checkChain(this.provider, this.options.chainId);
    const genesis = await this.provider.getBlock(0);
    if (!genesis?.hash) throw new Error('chain has no genesis block');
    const now = Date.now();
    if (
      this.identity &&
      this.identity.genesisHash === genesis.hash &&
      now - this.lastChainCheck < this.chainCheckIntervalMs
    ) {
      return;
    }
    const candidates = [
      this.identity?.contractAddress,
      this.options.contractAddress,
      (await this.store.latestChainIdentity())?.contractAddress,
    ].filter((a): a is string => !!a);
    let address: string | null = null;
    for (const candidate of [...new Set(candidates.map((c) => c.toLowerCase()))]) {
      if ((await this.provider.getCode(candidate)) !== '0x') {
        address = candidate;
        break;
      }
    }
    if (!address) {
      if (!this.options.deploy) {
        throw new Error(
          `AuditAnchor not found on chain ${chainId} (tried ${candidates.join(', ') || 'no address'})`,
        );
      }
      this.signer.reset();
      address = (await this.options.deploy(this.signer)).toLowerCase();
      this.log.warn('deployed a new AuditAnchor (fresh chain or missing contract)', { address });
    }
    const identity: ChainIdentity = {
      chainId,
      genesisHash: genesis.hash,
      contractAddress: address,
    };
    const contract = auditAnchorAt(address, this.signer);
    const last = await this.store.latestChainIdentity();
    const changed =
      !last ||
      last.chainId !== identity.chainId ||
      last.genesisHash !== identity.genesisHash ||
      last.contractAddress !== identity.contractAddress;
    // Same chain by its identity, but the newest confirmed root is not on it: the chain lost
    // state without a new genesis (reverted, or restarted with a fixed genesis).
    let lost = false;
    if (!changed) {
      const root = await this.store.lastConfirmedRoot();
      lost = root !== null && !(await readAnchor(contract, root)).anchored;
    }
    this.identity = identity;
    this.contract = contract;
    this.lastChainCheck = now;
    if (changed || lost) {
      const requeued = lost
        ? await this.store.requeueAll()
        : await this.store.requeueAllNotOn(identity);
      if (requeued) {
        this.signer.reset();
        this.log.warn(
          lost
            ? 'anchored batches missing on chain: re-anchoring stored records'
            : 'chain changed: re-anchoring stored records',
          { requeued, ...identity },
        );
      }
    }
  }

  private async anchorRecords(records: { id: string; leaf: string }[]): Promise<void> {
    if (!this.identity) throw new Error('chain unknown');
    const tree = buildBatchTree(records.map((r) => r.leaf));
    const proofs = new Map(records.map((r, i) => [r.id, tree.proofs[i]]));
    const id = randomUUID();
    const batch = await this.store.createBatch(
      { id, onChainId: onChainBatchId(id), chain: this.identity },
      records.map((r) => r.id),
      { root: tree.root, previousRoot: await this.latestRoot(), proofs },
    );
    await this.send(batch);
  }

  /** The head of our log on chain: a batch must name it as its previous root. */
  private async latestRoot(): Promise<string> {
    if (!this.contract) throw new Error('contract unknown');
    return ((await this.contract.latestRoot(this.wallet.address)) as string).toLowerCase();
  }

  private async send(batch: StoredAnchorBatch): Promise<void> {
    if (!this.contract) throw new Error('contract unknown');
    // The contract refuses a batch that does not extend our log (NotExtendingLog): one made
    // before the head moved (a fresh contract, a batch confirmed meanwhile) is rebuilt instead.
    const head = await this.latestRoot();
    if (head !== batch.previousRoot.toLowerCase()) {
      const requeued = await this.store.supersedeBatch(batch.id);
      this.log.warn('batch no longer extends the log: its records go into a new batch', {
        batchId: batch.id,
        previousRoot: batch.previousRoot,
        head,
        requeued,
      });
      return;
    }
    let txHash: string;
    try {
      const tx = (await this.contract.anchor(
        batch.onChainId,
        batch.root,
        batch.recordCount,
        batch.previousRoot,
        { gasLimit: ANCHOR_GAS_LIMIT },
      )) as { hash: string };
      txHash = tx.hash;
    } catch (err) {
      this.signer.reset();
      await this.store
        .markFailedAttempt(batch.id, err instanceof Error ? err.message : String(err))
        .catch(() => undefined);
      throw err;
    }
    await this.store.markSent(batch.id, txHash);
    const receipt = await this.provider.waitForTransaction(txHash, 1, this.receiptTimeoutMs);
    if (!receipt) throw new Error(`no receipt for ${txHash} after ${this.receiptTimeoutMs} ms`);
    await this.settleReceipt(batch, receipt);
  }

  /** Reconciles a batch left pending or sent (crash, timeout, chain outage). */
  private async settle(batch: StoredAnchorBatch): Promise<void> {
    if (batch.txHash) {
      const receipt = await this.provider.getTransactionReceipt(batch.txHash);
      if (receipt) return this.settleReceipt(batch, receipt);
      const inPool = await this.provider.getTransaction(batch.txHash);
      if (inPool) {
        const mined = await this.provider.waitForTransaction(
          batch.txHash,
          1,
          this.receiptTimeoutMs,
        );
        if (mined) return this.settleReceipt(batch, mined);
        throw new Error(`transaction ${batch.txHash} not mined yet`);
      }
    }
    // Never sent, or sent and lost: the contract is the truth (a root is written only once).
    if (await this.confirmFromChain(batch)) return;
    await this.send(batch);
  }

  private async settleReceipt(
    batch: StoredAnchorBatch,
    receipt: TransactionReceipt,
  ): Promise<void> {
    if (receipt.status === 1) {
      const block = await this.provider.getBlock(receipt.blockNumber);
      await this.store.markConfirmed(batch.id, {
        txHash: receipt.hash,
        blockNumber: receipt.blockNumber,
        blockHash: receipt.blockHash,
        blockTimestamp: new Date((block?.timestamp ?? 0) * 1000),
      });
      this.state.gasUsed += Number(receipt.gasUsed);
      this.noteAnchored(batch);
      return;
    }
    // Reverted: most likely the root was anchored by an earlier attempt.
    if (await this.confirmFromChain(batch)) return;
    await this.store.markFailedAttempt(batch.id, `transaction ${receipt.hash} reverted`);
    await this.send(batch);
  }

  /** If the contract already holds the batch root, record where it was anchored. */
  private async confirmFromChain(batch: StoredAnchorBatch): Promise<boolean> {
    if (!this.contract) throw new Error('contract unknown');
    const onChain = await readAnchor(this.contract, batch.root);
    if (!onChain.anchored) return false;
    const events = await this.contract.queryFilter(
      this.contract.filters.AnchorRecorded(null, batch.root),
      onChain.blockNumber,
      onChain.blockNumber,
    );
    const event = events[0];
    const block = await this.provider.getBlock(onChain.blockNumber);
    if (!event || !block?.hash) return false;
    await this.store.markConfirmed(batch.id, {
      txHash: event.transactionHash,
      blockNumber: onChain.blockNumber,
      blockHash: block.hash,
      blockTimestamp: new Date(onChain.timestamp * 1000),
    });
    this.noteAnchored(batch);
    return true;
  }

  private noteAnchored(batch: StoredAnchorBatch): void {
    this.state.lastAnchoredAt = new Date();
    this.state.batchesAnchored++;
    this.state.recordsAnchored += batch.recordCount;
    this.log.info('batch anchored', { batchId: batch.id, records: batch.recordCount });
  }
}

export { ZERO as ZERO_ROOT };
