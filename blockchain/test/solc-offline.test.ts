import { expect } from 'chai';
import { run } from 'hardhat';
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from 'hardhat/builtin-tasks/task-names';
import type { SolcBuild } from 'hardhat/types';
import { SOLC_VERSION } from '../hardhat.config';

describe('offline compiler resolution', () => {
  it('resolves the configured version to the solc-js build of the solc npm package', async () => {
    const build = (await run(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, {
      quiet: true,
      solcVersion: SOLC_VERSION,
    })) as SolcBuild;
    expect(build.isSolcJs).to.equal(true);
    expect(build.version).to.equal(SOLC_VERSION);
    expect(build.compilerPath).to.equal(require.resolve('solc/soljson.js'));
    expect(build.longVersion).to.match(
      new RegExp(`^${SOLC_VERSION.replace(/\./g, '\\.')}\\+commit\\.`),
    );
  });

  it('refuses any other version with a message naming what to install', async () => {
    let error: Error | undefined;
    try {
      await run(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, { quiet: true, solcVersion: '0.8.20' });
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).to.contain('solc 0.8.20 requested but the solc npm package is 0.8.28');
    expect(error?.message).to.contain('solc@0.8.20');
  });
});
