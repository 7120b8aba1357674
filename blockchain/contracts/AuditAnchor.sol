// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title AuditAnchor
/// @notice Records Merkle roots of batches of off-chain records (orders, payments) so anyone can
/// prove with one eth_call that a record belonged to an anchored batch. Each anchorer's roots form
/// an append-only log the contract enforces: a batch must name the anchorer's latest root as its
/// previous root, so nobody (the operator included) can fork or rewrite a log once written.
/// @dev Gas: an anchor writes ONE new storage slot (keyed by root: count, time, block and the
/// root's position in its log, packed) and overwrites one (the anchorer's latest root). The log
/// size lives in the latest root's slot rather than a slot of its own, which saves a cold
/// read-and-write (about 5,000 gas) per anchor. The batch id travels in the indexed event, the
/// lookup index for batch ids (eth_getLogs on topic 1).
contract AuditAnchor is AccessControl {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// One storage slot: 32 + 64 + 64 + 64 bits.
    struct Anchor {
        uint32 recordCount;
        uint64 timestamp;
        uint64 blockNumber;
        /// Position of the root in its anchorer's log, from 1 (= the log's size once it is the latest).
        uint64 size;
    }

    mapping(bytes32 root => Anchor) private _anchors;

    /// @notice The anchorer's latest root; zero before its first batch.
    mapping(address anchorer => bytes32) public latestRoot;

    event AnchorRecorded(
        bytes32 indexed batchId,
        bytes32 indexed root,
        address indexed anchorer,
        bytes32 previousRoot,
        uint32 recordCount,
        uint64 size
    );

    error ZeroRoot();
    error EmptyBatch();
    error RootAlreadyAnchored(bytes32 root, uint64 blockNumber);
    error NotExtendingLog(address anchorer, bytes32 expected, bytes32 given);

    constructor(address admin, address anchorer) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (anchorer != address(0)) _grantRole(ANCHORER_ROLE, anchorer);
    }

    /// @notice Appends a batch root to the caller's log. `previousRoot` must be the caller's latest
    /// root (zero for its first batch), else NotExtendingLog. A root is written once: a resend of
    /// an anchored batch reverts with RootAlreadyAnchored (checked first, so a retry is recognised
    /// as such) and changes nothing, so retries are safe.
    function anchor(
        bytes32 batchId,
        bytes32 root,
        uint32 recordCount,
        bytes32 previousRoot
    ) external onlyRole(ANCHORER_ROLE) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (recordCount == 0) revert EmptyBatch();
        uint64 existing = _anchors[root].blockNumber;
        if (existing != 0) revert RootAlreadyAnchored(root, existing);
        bytes32 latest = latestRoot[msg.sender];
        if (previousRoot != latest) revert NotExtendingLog(msg.sender, latest, previousRoot);
        // The previous root is this anchorer's (roots are unique), so its slot holds the log size.
        // Unchecked: a uint64 count of transactions cannot overflow.
        uint64 size;
        unchecked {
            size = latest == bytes32(0) ? 1 : _anchors[latest].size + 1;
        }
        _anchors[root] = Anchor(recordCount, uint64(block.timestamp), uint64(block.number), size);
        latestRoot[msg.sender] = root;
        emit AnchorRecorded(batchId, root, msg.sender, previousRoot, recordCount, size);
    }

    /// @notice The number of batches the anchorer has appended to its log.
    function logSize(address anchorer) external view returns (uint64) {
        bytes32 latest = latestRoot[anchorer];
        return latest == bytes32(0) ? 0 : _anchors[latest].size;
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
