import { readFileSync } from 'node:fs';
import Joi from 'joi';
import type { Pool } from 'pg';
import { httpUrl } from '../config/schemas';
import type { AnchorLogger } from './anchorer';
import { createAnchoring, type Anchoring, type RecordTypeConfig } from './anchoring';

/**
 * Environment keys for anchoring; spread into a service's joi schema. Without
 * BLOCKCHAIN_RPC_URL anchoring is off (the service queues nothing and its blockchain routes
 * answer 503); the embedded launcher passes the URL of the chain it started.
 */
export const anchoringConfigKeys = {
  BLOCKCHAIN_RPC_URL: httpUrl(),
  /** One key per service: one writer per key. */
  ANCHOR_PRIVATE_KEY: Joi.string()
    .pattern(/^0x[0-9a-fA-F]{64}$/)
    .when('BLOCKCHAIN_RPC_URL', { is: Joi.exist(), then: Joi.required() }),
  /** Where AuditAnchor lives; else read from ANCHOR_DEPLOYMENT_FILE (scripts/deploy.ts output). */
  ANCHOR_CONTRACT_ADDRESS: Joi.string().pattern(/^0x[0-9a-fA-F]{40}$/),
  ANCHOR_DEPLOYMENT_FILE: Joi.string().max(1000),
  ANCHOR_CHAIN_ID: Joi.number().integer().positive().default(31337),
  /** Deploy AuditAnchor when none is found (fresh dev chain). Never in production. */
  ANCHOR_DEPLOY: Joi.boolean().default(false),
  /** The deadline each signed promise gives for anchoring its entry, seconds after the write. */
  ANCHOR_PROMISE_SECONDS: Joi.number()
    .integer()
    .min(10)
    .max(7 * 24 * 3600)
    .default(600),
  // One second: a quarter of the chain transactions (and of the signing and receipt work in
  // the service) that 250 ms cost, for a second's wait before a record's proof exists; the
  // saga never waits for it (docs/benchmarks.md, "Order saga"). Real chains want minutes.
  ANCHOR_WINDOW_MS: Joi.number().integer().min(10).max(60_000).default(1000),
  ANCHOR_MAX_BATCH: Joi.number().integer().min(1).max(10_000).default(500),
  // Entries name the fields they change (ADR 0058). Code from before that rule cannot read such
  // an entry: a fleet upgraded replica by replica runs with false until no older replica is left.
  ANCHOR_NAME_FIELDS: Joi.boolean().default(true),
};

export interface AnchoringConfig {
  BLOCKCHAIN_RPC_URL?: string;
  ANCHOR_PRIVATE_KEY?: string;
  ANCHOR_CONTRACT_ADDRESS?: string;
  ANCHOR_DEPLOYMENT_FILE?: string;
  ANCHOR_CHAIN_ID: number;
  ANCHOR_DEPLOY: boolean;
  ANCHOR_PROMISE_SECONDS: number;
  ANCHOR_WINDOW_MS: number;
  ANCHOR_MAX_BATCH: number;
  ANCHOR_NAME_FIELDS: boolean;
}

export interface AnchorDeployment {
  address: string;
  chainId: number;
}

/** Reads blockchain/deployments/<network>.json as written by scripts/deploy.ts. */
export function loadAnchorDeployment(file: string): AnchorDeployment {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the AuditAnchor deployment ${file}: ${(err as Error).message}`);
  }
  const { error, value } = Joi.object({
    address: Joi.string()
      .pattern(/^0x[0-9a-fA-F]{40}$/)
      .required(),
    chainId: Joi.number().integer().positive().required(),
  })
    .unknown(true)
    .validate(parsed);
  if (error) throw new Error(`invalid AuditAnchor deployment ${file}: ${error.message}`);
  return { address: value.address as string, chainId: value.chainId as number };
}

/**
 * Builds a service's anchoring from its validated configuration: null when BLOCKCHAIN_RPC_URL
 * is absent (anchoring off). The contract address comes from ANCHOR_CONTRACT_ADDRESS, else
 * from ANCHOR_DEPLOYMENT_FILE; with neither, ANCHOR_DEPLOY must allow deploying one.
 */
export function anchoringFromConfig(
  config: AnchoringConfig,
  deps: { pool: Pool; recordTypes: Record<string, RecordTypeConfig>; logger?: AnchorLogger },
): Anchoring | null {
  if (!config.BLOCKCHAIN_RPC_URL) return null;
  if (!config.ANCHOR_PRIVATE_KEY)
    throw new Error('ANCHOR_PRIVATE_KEY is required with BLOCKCHAIN_RPC_URL');
  let contractAddress = config.ANCHOR_CONTRACT_ADDRESS;
  if (!contractAddress && config.ANCHOR_DEPLOYMENT_FILE) {
    const deployment = loadAnchorDeployment(config.ANCHOR_DEPLOYMENT_FILE);
    if (deployment.chainId !== config.ANCHOR_CHAIN_ID) {
      throw new Error(
        `${config.ANCHOR_DEPLOYMENT_FILE} is for chain ${deployment.chainId}, ANCHOR_CHAIN_ID is ${config.ANCHOR_CHAIN_ID}`,
      );
    }
    contractAddress = deployment.address;
  }
  if (!contractAddress && !config.ANCHOR_DEPLOY) {
    throw new Error(
      'anchoring needs ANCHOR_CONTRACT_ADDRESS or ANCHOR_DEPLOYMENT_FILE (or ANCHOR_DEPLOY=true on a dev chain)',
    );
  }
  return createAnchoring({
    pool: deps.pool,
    rpcUrl: config.BLOCKCHAIN_RPC_URL,
    chainId: config.ANCHOR_CHAIN_ID,
    contractAddress,
    privateKey: config.ANCHOR_PRIVATE_KEY,
    recordTypes: deps.recordTypes,
    deploy: config.ANCHOR_DEPLOY,
    promiseSeconds: config.ANCHOR_PROMISE_SECONDS,
    windowMs: config.ANCHOR_WINDOW_MS,
    maxBatchSize: config.ANCHOR_MAX_BATCH,
    nameFields: config.ANCHOR_NAME_FIELDS,
    logger: deps.logger,
  });
}
