// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title AuditAnchor
/// @notice Records Merkle roots of batches of off-chain records (orders, payments) so anyone can
/// prove with one eth_call that a record belonged to an anchored batch.
/// @dev Gas: one anchor writes exactly ONE new storage slot (keyed by root, packed metadata), so a
/// batch costs about the same whatever its size. The batch id and the previous root travel in the
/// indexed event, which is the lookup index for batch ids (eth_getLogs on topic 1).
contract AuditAnchor is AccessControl {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// One storage slot: 32 + 64 + 64 bits.
    struct Anchor {
        uint32 recordCount;
        uint64 timestamp;
        uint64 blockNumber;
    }

    mapping(bytes32 root => Anchor) private _anchors;

    event AnchorRecorded(bytes32 indexed batchId, bytes32 indexed root, bytes32 previousRoot);

    error ZeroRoot();
    error EmptyBatch();
    error RootAlreadyAnchored(bytes32 root, uint64 blockNumber);

    constructor(address admin, address anchorer) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (anchorer != address(0)) _grantRole(ANCHORER_ROLE, anchorer);
    }

    /// @notice Anchors a batch root. A root is written once: a resend of the same batch reverts
    /// with RootAlreadyAnchored and changes nothing, so retries are safe.
    function anchor(
        bytes32 batchId,
        bytes32 root,
        uint32 recordCount,
        bytes32 previousRoot
    ) external onlyRole(ANCHORER_ROLE) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (recordCount == 0) revert EmptyBatch();
        Anchor storage slot = _anchors[root];
        if (slot.blockNumber != 0) revert RootAlreadyAnchored(root, slot.blockNumber);
        _anchors[root] = Anchor(recordCount, uint64(block.timestamp), uint64(block.number));
        emit AnchorRecorded(batchId, root, previousRoot);
    }

    /// @notice True when `root` is anchored and `proof` proves `leaf` under it.
    /// Leaves are double-hashed (OpenZeppelin StandardMerkleTree), so an inner node cannot pose as a leaf.
    function verify(bytes32 leaf, bytes32[] calldata proof, bytes32 root) external view returns (bool) {
        return _anchors[root].blockNumber != 0 && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @notice The anchor of `root`; blockNumber 0 means not anchored.
    function anchorOf(bytes32 root)
        external
        view
        returns (bool anchored, uint32 recordCount, uint64 timestamp, uint64 blockNumber)
    {
        Anchor memory a = _anchors[root];
        return (a.blockNumber != 0, a.recordCount, a.timestamp, a.blockNumber);
    }
}
