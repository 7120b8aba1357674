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

    it('lets the admin grant and revoke the role', async () => {
      const { contract } = await deploy();
      const [admin, anchorer, other] = await ethers.getSigners();
      const role = await contract.ANCHORER_ROLE();
      await (contract.connect(admin) as AuditAnchor).grantRole(role, other.address);
      await expect(
        (contract.connect(other) as AuditAnchor).anchor(
          batchId(),
          randomRoot(),
          1,
          ethers.ZeroHash,
        ),
      ).to.not.be.reverted;
      await (contract.connect(admin) as AuditAnchor).revokeRole(role, anchorer.address);
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
      const id = batchId();
      const root = randomRoot();
      const previous = randomRoot();
      const tx = await contract.anchor(id, root, 100, previous);
      await expect(tx).to.emit(contract, 'AnchorRecorded').withArgs(id, root, previous);
      const receipt = await tx.wait();
      const block = await ethers.provider.getBlock(receipt!.blockNumber);
      const [anchored, count, timestamp, blockNumber] = await contract.anchorOf(root);
      expect(anchored).to.equal(true);
      expect(count).to.equal(100n);
      expect(timestamp).to.equal(BigInt(block!.timestamp));
      expect(blockNumber).to.equal(BigInt(receipt!.blockNumber));
      // The event is findable by batch id and by root (topics 1 and 2).
      const byBatch = await contract.queryFilter(contract.filters.AnchorRecorded(id));
      const byRoot = await contract.queryFilter(contract.filters.AnchorRecorded(null, root));
      expect(byBatch.map((e) => e.transactionHash)).to.deep.equal([receipt!.hash]);
      expect(byRoot.map((e) => (e as EventLog).args.batchId)).to.deep.equal([id]);
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

  describe('gas', () => {
    it('costs at most 500 gas per record for a batch of 100 (one tx ≤ 50k gas)', async () => {
      const { contract } = await deploy();
      let previous = ethers.ZeroHash;
      for (let i = 0; i < 5; i++) {
        const tree = treeOf(100);
        const receipt = await (await contract.anchor(batchId(), tree.root, 100, previous)).wait();
        expect(receipt!.gasUsed).to.be.lessThanOrEqual(50_000n);
        previous = tree.root;
      }
    });

    it('costs the same for 1000 records as for 1 (gas does not grow with the batch)', async () => {
      const { contract } = await deploy();
      const one = await (await contract.anchor(batchId(), randomRoot(), 1, randomRoot())).wait();
      const many = await (
        await contract.anchor(batchId(), randomRoot(), 1000, randomRoot())
      ).wait();
      expect(many!.gasUsed - one!.gasUsed).to.be.lessThan(100n);
      expect(many!.gasUsed / 1000n).to.be.lessThanOrEqual(50n);
    });
  });
});
