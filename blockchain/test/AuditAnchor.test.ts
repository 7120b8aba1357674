import { expect } from 'chai';
import { ethers } from 'hardhat';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import type { Contract, EventLog } from 'ethers';

// No typechain here: the ABI is small and the client library has its own typed wrapper.
type AuditAnchor = Contract;

// Batch ids are 16-byte UUIDs left-aligned in bytes32, as the anchor client sends them.
const batchId = (): string => ethers.zeroPadBytes(ethers.randomBytes(16), 32);
const randomRoot = (): string => ethers.hexlify(ethers.randomBytes(32));

async function deploy(): Promise<{ contract: AuditAnchor; admin: string }> {
  const [admin, anchorer] = await ethers.getSigners();
  const contract = await ethers.deployContract('AuditAnchor', [admin.address, anchorer.address]);
  return { contract: contract.connect(anchorer) as AuditAnchor, admin: admin.address };
}

function treeOf(n: number): StandardMerkleTree<[string, string]> {
  const values: [string, string][] = [];
  for (let i = 0; i < n; i++) values.push([`order-${i}`, ethers.hexlify(ethers.randomBytes(32))]);
  return StandardMerkleTree.of(values, ['string', 'bytes32']);
}

describe('AuditAnchor', () => {
  describe('access control', () => {
    it('lets only ANCHORER_ROLE anchor', async () => {
      const { contract } = await deploy();
      const [, , stranger] = await ethers.getSigners();
      const role = await contract.ANCHORER_ROLE();
      await expect(
        (contract.connect(stranger) as AuditAnchor).anchor(
          batchId(),
          randomRoot(),
          1,
          ethers.ZeroHash,
        ),
      )
        .to.be.revertedWithCustomError(contract, 'AccessControlUnauthorizedAccount')
        .withArgs(stranger.address, role);
    });

    it('lets the admin grant and revoke the role, announcing both (RoleGranted, RoleRevoked)', async () => {
      const { contract } = await deploy();
      const [admin, anchorer, other] = await ethers.getSigners();
      const role = await contract.ANCHORER_ROLE();
      expect(role).to.equal(ethers.id('ANCHORER_ROLE'));
      await expect((contract.connect(admin) as AuditAnchor).grantRole(role, other.address))
        .to.emit(contract, 'RoleGranted')
        .withArgs(role, other.address, admin.address);
      await expect(
        (contract.connect(other) as AuditAnchor).anchor(
          batchId(),
          randomRoot(),
          1,
          ethers.ZeroHash,
        ),
      ).to.not.be.reverted;
      await expect((contract.connect(admin) as AuditAnchor).revokeRole(role, anchorer.address))
        .to.emit(contract, 'RoleRevoked')
        .withArgs(role, anchorer.address, admin.address);
      await expect(
        (contract.connect(anchorer) as AuditAnchor).anchor(
          batchId(),
          randomRoot(),
          1,
          ethers.ZeroHash,
        ),
      ).to.be.revertedWithCustomError(contract, 'AccessControlUnauthorizedAccount');
      // A non-admin cannot hand the role out.
      await expect(
        (contract.connect(other) as AuditAnchor).grantRole(role, anchorer.address),
      ).to.be.revertedWithCustomError(contract, 'AccessControlUnauthorizedAccount');
    });
  });

  describe('anchor', () => {
    it('stores the root with its record count and block time, and emits an indexed event', async () => {
      const { contract } = await deploy();
      const [, anchorer] = await ethers.getSigners();
      const previous = randomRoot();
      await (await contract.anchor(batchId(), previous, 3, ethers.ZeroHash)).wait();
      const id = batchId();
      const root = randomRoot();
      const tx = await contract.anchor(id, root, 100, previous);
      await expect(tx)
        .to.emit(contract, 'AnchorRecorded')
        .withArgs(id, root, anchorer.address, previous, 100, 2);
      const receipt = await tx.wait();
      const block = await ethers.provider.getBlock(receipt!.blockNumber);
      const [anchored, count, timestamp, blockNumber] = await contract.anchorOf(root);
      expect(anchored).to.equal(true);
      expect(count).to.equal(100n);
      expect(timestamp).to.equal(BigInt(block!.timestamp));
      expect(blockNumber).to.equal(BigInt(receipt!.blockNumber));
      // The event is findable by batch id, by root and by anchorer (topics 1, 2 and 3).
      const byBatch = await contract.queryFilter(contract.filters.AnchorRecorded(id));
      const byRoot = await contract.queryFilter(contract.filters.AnchorRecorded(null, root));
      const byAnchorer = await contract.queryFilter(
        contract.filters.AnchorRecorded(null, null, anchorer.address),
      );
      expect(byBatch.map((e) => e.transactionHash)).to.deep.equal([receipt!.hash]);
      expect(byRoot.map((e) => (e as EventLog).args.batchId)).to.deep.equal([id]);
      expect(byAnchorer.map((e) => (e as EventLog).args.root)).to.deep.equal([previous, root]);
    });

    it('reports an unknown root as not anchored', async () => {
      const { contract } = await deploy();
      const [anchored, count, , blockNumber] = await contract.anchorOf(randomRoot());
      expect(anchored).to.equal(false);
      expect(count).to.equal(0n);
      expect(blockNumber).to.equal(0n);
    });

    it('writes a root only once: a resend reverts and leaves the first anchor untouched', async () => {
      const { contract } = await deploy();
      const id = batchId();
      const root = randomRoot();
      const first = await (await contract.anchor(id, root, 5, ethers.ZeroHash)).wait();
      // Same batch again (a retry) and another batch id with the same root are both refused.
      await expect(contract.anchor(id, root, 5, ethers.ZeroHash))
        .to.be.revertedWithCustomError(contract, 'RootAlreadyAnchored')
        .withArgs(root, first!.blockNumber);
      await expect(
        contract.anchor(batchId(), root, 7, ethers.ZeroHash),
      ).to.be.revertedWithCustomError(contract, 'RootAlreadyAnchored');
      const [, count, , blockNumber] = await contract.anchorOf(root);
      expect(count).to.equal(5n);
      expect(blockNumber).to.equal(BigInt(first!.blockNumber));
    });

    it('rejects a zero root and an empty batch', async () => {
      const { contract } = await deploy();
      await expect(
        contract.anchor(batchId(), ethers.ZeroHash, 1, ethers.ZeroHash),
      ).to.be.revertedWithCustomError(contract, 'ZeroRoot');
      await expect(
        contract.anchor(batchId(), randomRoot(), 0, ethers.ZeroHash),
      ).to.be.revertedWithCustomError(contract, 'EmptyBatch');
    });
  });

  describe('verify', () => {
    it('accepts every leaf of an anchored tree with its proof', async () => {
      const { contract } = await deploy();
      const tree = treeOf(37);
      await (await contract.anchor(batchId(), tree.root, 37, ethers.ZeroHash)).wait();
      for (const [i] of tree.entries()) {
        expect(
          await contract.verify(tree.leafHash(tree.at(i)!), tree.getProof(i), tree.root),
        ).to.equal(true);
      }
    });

    it('accepts a single-record batch (empty proof, root = leaf)', async () => {
      const { contract } = await deploy();
      const tree = treeOf(1);
      await (await contract.anchor(batchId(), tree.root, 1, ethers.ZeroHash)).wait();
      expect(await contract.verify(tree.leafHash(tree.at(0)!), [], tree.root)).to.equal(true);
    });

    it('rejects a wrong leaf, a wrong proof, an inner node posing as a leaf and an unanchored root', async () => {
      const { contract } = await deploy();
      const tree = treeOf(8);
      await (await contract.anchor(batchId(), tree.root, 8, ethers.ZeroHash)).wait();
      const leaf = tree.leafHash(tree.at(0)!);
      const proof = tree.getProof(0);
      expect(await contract.verify(leaf, proof, tree.root)).to.equal(true);
      expect(await contract.verify(randomRoot(), proof, tree.root)).to.equal(false);
      expect(await contract.verify(leaf, tree.getProof(1), tree.root)).to.equal(false);
      expect(await contract.verify(leaf, [...proof.slice(1)], tree.root)).to.equal(false);
      // Inner node: the first proof element is the sibling leaf; hashing the pair gives a level-1 node.
      const [a, b] = [leaf, proof[0]].sort();
      const inner = ethers.keccak256(ethers.concat([a, b]));
      expect(await contract.verify(inner, proof.slice(1), tree.root)).to.equal(true); // raw OZ MerkleProof...
      // ...but such a node can never be produced as a leaf: leaves are keccak(keccak(abi.encode(values))).
      expect(tree.leafHash(tree.at(0)!)).to.not.equal(inner);
      // A valid proof against a root that was never anchored is refused.
      const other = treeOf(8);
      expect(
        await contract.verify(other.leafHash(other.at(0)!), other.getProof(0), other.root),
      ).to.equal(false);
    });
  });

  describe('append-only log per anchorer', () => {
    async function twoAnchorers(): Promise<{
      contract: AuditAnchor;
      a: AuditAnchor;
      b: AuditAnchor;
      addrA: string;
      addrB: string;
    }> {
      const { contract } = await deploy();
      const [admin, anchorer, second] = await ethers.getSigners();
      await (
        await (contract.connect(admin) as AuditAnchor).grantRole(
          await contract.ANCHORER_ROLE(),
          second.address,
        )
      ).wait();
      return {
        contract,
        a: contract.connect(anchorer) as AuditAnchor,
        b: contract.connect(second) as AuditAnchor,
        addrA: anchorer.address,
        addrB: second.address,
      };
    }

    it('tracks latestRoot and logSize, and the event carries anchorer, previous root, count and size', async () => {
      const { contract } = await deploy();
      const [, anchorer] = await ethers.getSigners();
      expect(await contract.latestRoot(anchorer.address)).to.equal(ethers.ZeroHash);
      expect(await contract.logSize(anchorer.address)).to.equal(0n);
      let previous = ethers.ZeroHash;
      for (let size = 1; size <= 3; size++) {
        const id = batchId();
        const root = randomRoot();
        await expect(contract.anchor(id, root, size * 10, previous))
          .to.emit(contract, 'AnchorRecorded')
          .withArgs(id, root, anchorer.address, previous, size * 10, size);
        expect(await contract.latestRoot(anchorer.address)).to.equal(root);
        expect(await contract.logSize(anchorer.address)).to.equal(BigInt(size));
        previous = root;
      }
    });

    it('refuses a first anchor that names a previous root', async () => {
      const { contract } = await deploy();
      const [, anchorer] = await ethers.getSigners();
      const given = randomRoot();
      await expect(contract.anchor(batchId(), randomRoot(), 1, given))
        .to.be.revertedWithCustomError(contract, 'NotExtendingLog')
        .withArgs(anchorer.address, ethers.ZeroHash, given);
    });

    it('refuses previousRoot zero after the first anchor, any other value, and a stale root; nothing changes', async () => {
      const { contract } = await deploy();
      const [, anchorer] = await ethers.getSigners();
      const roots = [randomRoot(), randomRoot(), randomRoot()];
      let previous = ethers.ZeroHash;
      for (const root of roots) {
        await (await contract.anchor(batchId(), root, 1, previous)).wait();
        previous = root;
      }
      const latest = roots[2];
      for (const given of [ethers.ZeroHash, randomRoot(), roots[1], roots[0]]) {
        const root = randomRoot();
        await expect(contract.anchor(batchId(), root, 1, given))
          .to.be.revertedWithCustomError(contract, 'NotExtendingLog')
          .withArgs(anchorer.address, latest, given);
        expect((await contract.anchorOf(root))[0]).to.equal(false);
      }
      expect(await contract.latestRoot(anchorer.address)).to.equal(latest);
      expect(await contract.logSize(anchorer.address)).to.equal(3n);
      // The rightful extension still goes through.
      await expect(contract.anchor(batchId(), randomRoot(), 1, latest)).to.not.be.reverted;
      expect(await contract.logSize(anchorer.address)).to.equal(4n);
    });

    it('keeps two anchorers in independent logs', async () => {
      const { contract, a, b, addrA, addrB } = await twoAnchorers();
      const [a1, b1, a2, b2] = [randomRoot(), randomRoot(), randomRoot(), randomRoot()];
      await (await a.anchor(batchId(), a1, 1, ethers.ZeroHash)).wait();
      // B's log is still empty: its first batch extends zero, not A's root.
      await expect(b.anchor(batchId(), b1, 1, a1))
        .to.be.revertedWithCustomError(contract, 'NotExtendingLog')
        .withArgs(addrB, ethers.ZeroHash, a1);
      await (await b.anchor(batchId(), b1, 2, ethers.ZeroHash)).wait();
      await (await a.anchor(batchId(), a2, 3, a1)).wait();
      // Neither can extend the other's log.
      await expect(b.anchor(batchId(), b2, 1, a2))
        .to.be.revertedWithCustomError(contract, 'NotExtendingLog')
        .withArgs(addrB, b1, a2);
      await expect(a.anchor(batchId(), b2, 1, b1))
        .to.be.revertedWithCustomError(contract, 'NotExtendingLog')
        .withArgs(addrA, a2, b1);
      // A root belongs to one log: B cannot append A's root to its own.
      await expect(b.anchor(batchId(), a2, 1, b1)).to.be.revertedWithCustomError(
        contract,
        'RootAlreadyAnchored',
      );
      expect(await contract.latestRoot(addrA)).to.equal(a2);
      expect(await contract.logSize(addrA)).to.equal(2n);
      expect(await contract.latestRoot(addrB)).to.equal(b1);
      expect(await contract.logSize(addrB)).to.equal(1n);
      const sizes = (await contract.queryFilter(contract.filters.AnchorRecorded())).map((e) => [
        (e as EventLog).args.anchorer,
        (e as EventLog).args.size,
      ]);
      expect(sizes).to.deep.equal([
        [addrA, 1n],
        [addrB, 1n],
        [addrA, 2n],
      ]);
    });

    it('continues an anchorer log across a revoke and a new grant', async () => {
      const { contract } = await deploy();
      const [admin, anchorer] = await ethers.getSigners();
      const role = await contract.ANCHORER_ROLE();
      const first = randomRoot();
      await (await contract.anchor(batchId(), first, 1, ethers.ZeroHash)).wait();
      const asAdmin = contract.connect(admin) as AuditAnchor;
      await (await asAdmin.revokeRole(role, anchorer.address)).wait();
      await (await asAdmin.grantRole(role, anchorer.address)).wait();
      await expect(
        contract.anchor(batchId(), randomRoot(), 1, ethers.ZeroHash),
      ).to.be.revertedWithCustomError(contract, 'NotExtendingLog');
      await expect(contract.anchor(batchId(), randomRoot(), 1, first)).to.not.be.reverted;
      expect(await contract.logSize(anchorer.address)).to.equal(2n);
    });
  });

  describe('gas', () => {
    /** Gas of `rounds` chained anchors of `records` records each, from one anchorer's fresh log. */
    async function anchorGas(records: number, rounds = 4): Promise<bigint[]> {
      const { contract } = await deploy();
      let previous = ethers.ZeroHash;
      const gas: bigint[] = [];
      for (let i = 0; i < rounds; i++) {
        const root = randomRoot();
        const receipt = await (await contract.anchor(batchId(), root, records, previous)).wait();
        gas.push(receipt!.gasUsed);
        previous = root;
      }
      return gas;
    }

    it('costs at most 700 gas per record at batch 100, the same at every batch size (1, 10, 100, 1000)', async () => {
      const rows: string[] = [];
      const steady: bigint[] = [];
      for (const records of [1, 10, 100, 1000]) {
        const [first, ...rest] = await anchorGas(records);
        // After the first batch the latest-root slot is overwritten, not created (≈ 17k less).
        const max = rest.reduce((m, g) => (g > m ? g : m), 0n);
        steady.push(max);
        rows.push(
          `batch ${records}: ${max} gas/tx, ${(Number(max) / records).toFixed(1)} gas/record ` +
            `(first batch of a log: ${first})`,
        );
        expect(first).to.be.lessThanOrEqual(80_000n);
      }
      console.log(`      ${rows.join('\n      ')}`);
      expect(steady[2] / 100n).to.be.lessThanOrEqual(700n);
      expect(steady[3] / 1000n).to.be.lessThanOrEqual(70n);
      // The batch size does not change what is stored: gas does not grow with it.
      for (const g of steady) expect(g - steady[0]).to.be.lessThan(100n);
    });
  });
});
