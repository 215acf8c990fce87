import { createHash } from 'node:crypto';

/**
 * RFC 6962 (Certificate Transparency) Merkle tree hashing over audit record hashes. The leaf and
 * node prefixes (0x00, 0x01) keep a leaf from being passed off as an inner node (second preimage).
 */

const LEAF = Buffer.from([0x00]);
const NODE = Buffer.from([0x01]);

/** MTH({d}) = SHA-256(0x00 || d); `data` is the raw bytes of a record hash (32 bytes). */
export function leafHash(data: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF).update(data).digest();
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

/** MTH of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT = createHash('sha256').digest('hex');

/** Accepts record hashes as hex strings (as stored) or raw bytes. */
function bytes(leaf: string | Uint8Array): Uint8Array {
  if (typeof leaf !== 'string') return leaf;
  if (!/^[0-9a-f]{64}$/.test(leaf)) throw new TypeError(`a Merkle leaf must be a 64-char lower-case hex hash, got ${JSON.stringify(leaf.slice(0, 80))}`);
  return Buffer.from(leaf, 'hex');
}

/**
 * The RFC 6962 Merkle Tree Hash over all `leaves` (hex), in hex. Holds every leaf hash in memory;
 * for a long log use {@link MerkleFrontier}, which needs O(log n).
 *
 * @example merkleRoot([]) // 'e3b0c442…b855' (sha256 of ''); merkleRoot([recordHash1, recordHash2])
 */
export function merkleRoot(leaves: readonly (string | Uint8Array)[]): string {
  if (leaves.length === 0) return EMPTY_ROOT;
  return mth(leaves.map((l) => leafHash(bytes(l))), 0, leaves.length).toString('hex');
}

/** Straight from RFC 6962 §2.1: split at the largest power of two smaller than n. */
function mth(hashed: readonly Buffer[], start: number, n: number): Buffer {
  if (n === 1) return hashed[start];
  const k = largestPowerOfTwoBelow(n);
  return nodeHash(mth(hashed, start, k), mth(hashed, start + k, n - k));
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * An append-only Merkle tree kept as its frontier: the roots of the perfect subtrees that the
 * leaves so far decompose into, largest first (one per set bit of `size`). Appending merges equal
 * sized subtrees like a binary counter, O(log n) amortised; `root()` folds the frontier right to
 * left, O(log n). Equal to {@link merkleRoot} over the same leaves, because RFC 6962's split
 * (largest power of two below n) yields exactly these perfect subtrees from the left.
 *
 * @example
 * const f = new MerkleFrontier();
 * for (const h of recordHashes) f.append(h);
 * f.root() === merkleRoot(recordHashes); // true
 */
export class MerkleFrontier {
  #size = 0;
  /** Perfect subtree roots, left to right; `#heights[i]` is log2 of the subtree's leaf count. */
  #roots: Buffer[] = [];
  #heights: number[] = [];

  get size(): number {
    return this.#size;
  }

  append(leaf: string | Uint8Array): void {
    let node = leafHash(bytes(leaf));
    let height = 0;
    while (this.#heights.length && this.#heights[this.#heights.length - 1] === height) {
      node = nodeHash(this.#roots.pop()!, node);
      this.#heights.pop();
      height++;
    }
    this.#roots.push(node);
    this.#heights.push(height);
    this.#size++;
  }

  /** The Merkle Tree Hash over every leaf appended so far, in hex. */
  root(): string {
    if (this.#roots.length === 0) return EMPTY_ROOT;
    let acc = this.#roots[this.#roots.length - 1];
    for (let i = this.#roots.length - 2; i >= 0; i--) acc = nodeHash(this.#roots[i], acc);
    return acc.toString('hex');
  }

  /** An independent copy, so a checkpoint can be tried without disturbing the running tree. */
  clone(): MerkleFrontier {
    const c = new MerkleFrontier();
    c.#size = this.#size;
    c.#roots = [...this.#roots];
    c.#heights = [...this.#heights];
    return c;
  }
}
