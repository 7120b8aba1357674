import { readFileSync } from 'node:fs';
import Joi from 'joi';

/**
 * Environment keys for anchoring; spread into a service's joi schema. With no
 * BLOCKCHAIN_RPC_URL the embedded launcher provides the chain (DESIGN.md §6).
 */
export const anchoringConfigKeys = {
  BLOCKCHAIN_RPC_URL: Joi.string().uri({ scheme: ['http', 'https'] }),
  BLOCKCHAIN_CHAIN_ID: Joi.number().integer().positive().default(31337),
  /** Where AuditAnchor lives; else read from ANCHOR_DEPLOYMENT_FILE (scripts/deploy.ts output). */
  ANCHOR_CONTRACT_ADDRESS: Joi.string().pattern(/^0x[0-9a-fA-F]{40}$/),
  ANCHOR_DEPLOYMENT_FILE: Joi.string(),
  /** One key per service: one writer per key. */
  ANCHORER_PRIVATE_KEY: Joi.string()
    .pattern(/^0x[0-9a-fA-F]{64}$/)
    .when('BLOCKCHAIN_RPC_URL', { is: Joi.exist(), then: Joi.required() }),
  ANCHOR_WINDOW_MS: Joi.number().integer().min(10).max(60_000).default(250),
  ANCHOR_MAX_BATCH: Joi.number().integer().min(1).max(10_000).default(500),
  /** Deploy AuditAnchor when none is found (fresh dev chain). Never in production. */
  ANCHOR_DEPLOY_IF_MISSING: Joi.boolean().default(false),
};

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
