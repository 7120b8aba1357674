import { subtask } from 'hardhat/config';
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from 'hardhat/builtin-tasks/task-names';
import type { HardhatUserConfig } from 'hardhat/config';
import type { SolcBuild } from 'hardhat/types';
import '@nomicfoundation/hardhat-ethers';
import '@nomicfoundation/hardhat-chai-matchers';

/** The one compiler version of this project; the `solc` npm package must be exactly this version. */
export const SOLC_VERSION = '0.8.28';

// Offline compilation: Hardhat would download the compiler list and a native solc. Neither is
// reachable here, so resolve the compiler to the solc-js build shipped in the `solc` npm package,
// and only when it is exactly the configured version (a silent fallback to another version would
// produce different bytecode).
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD).setAction(
  async ({ solcVersion }: { solcVersion: string }): Promise<SolcBuild> => {
    const installed = (require('solc/package.json') as { version: string }).version;
    if (solcVersion !== installed) {
      throw new Error(
        `solc ${solcVersion} requested but the solc npm package is ${installed}; ` +
          `install solc@${solcVersion} (npm install -w blockchain solc@${solcVersion}) or change the config`,
      );
    }
    const solc = require('solc') as { version(): string };
    return {
      version: solcVersion,
      longVersion: solc.version(),
      compilerPath: require.resolve('solc/soljson.js'),
      isSolcJs: true,
    };
  },
);

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 10_000 }, evmVersion: 'cancun' },
  },
  networks: {
    hardhat: { chainId: 31337 },
    localhost: { url: process.env.BLOCKCHAIN_RPC_URL ?? 'http://127.0.0.1:8545', chainId: 31337 },
  },
  mocha: { timeout: 60_000 },
};

export default config;
