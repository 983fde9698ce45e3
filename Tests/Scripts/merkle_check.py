#!/usr/bin/env python3
"""Checks a ledger digest and proof without the ledger's code (RFC 6962 / RFC 9162).

    merkle_check.py LEAVES DIGEST [PROOF]

LEAVES: the event hashes in log order, hex, one per line. DIGEST: `ledger digest --format
json`. PROOF: `ledger prove --position P --format json`. Exit 0 when the root of the first
`size` leaves equals the digest's root and the proof leads from its leaf to that root.
"""
import hashlib
import json
import sys


def leaf_hash(event_hash):
    return hashlib.sha256(b"\x00" + event_hash).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves):
    """MTH(D[0:n]): split at the largest power of two below n."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def check_proof(index, size, leaf, path, expected_root):
    """RFC 9162 section 2.1.3.2: verify an inclusion proof, path nearest the leaf first."""
    if index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def main():
    leaves = [bytes.fromhex(line.strip()) for line in open(sys.argv[1]) if line.strip()]
    digest = json.load(open(sys.argv[2]))
    size = digest["size"]
    computed = root(leaves[:size]).hex()
    if computed != digest["root"]:
        print(f"root mismatch: leaves give {computed}, digest says {digest['root']}")
        return 1
    if len(sys.argv) > 3:
        proof = json.load(open(sys.argv[3]))
        if proof["root"] != digest["root"] or proof["size"] != size:
            print("the proof is for another digest")
            return 1
        if bytes.fromhex(proof["leaf"]) != leaves[proof["index"]]:
            print("the proof's leaf is not the event hash at its index")
            return 1
        path = [bytes.fromhex(h) for h in proof["path"]]
        if not check_proof(proof["index"], size, bytes.fromhex(proof["leaf"]), path, bytes.fromhex(digest["root"])):
            print("the proof does not lead to the root")
            return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
