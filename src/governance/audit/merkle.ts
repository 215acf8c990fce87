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

  /** The hash of leaves [start, end) when that range is one of the frontier's perfect subtrees. */
  subtreeRoot(start: number, end: number): Buffer | undefined {
    let at = 0;
    for (let i = 0; i < this.#roots.length; i++) {
      const width = 2 ** this.#heights[i];
      if (at === start && at + width === end) return this.#roots[i];
      at += width;
    }
    return undefined;
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

/** A range of leaves [start, end), 0-based, whose Merkle Tree Hash is one node of a proof. */
export type LeafRange = readonly [start: number, end: number];

/**
 * The leaf ranges whose hashes make up the RFC 6962 §2.1.2 consistency proof PROOF(m, D[n]),
 * in the RFC's order. Each range lies wholly before `m` (a perfect subtree of the old tree, so a
 * node of its {@link MerkleFrontier}) or wholly at or after `m` (new leaves only): a writer can
 * build the proof from the frontier it kept at `m` and the leaves it appends after it.
 * Empty when m is 0 (every tree extends the empty one) or m equals n.
 *
 * @example consistencyProofRanges(3, 8) // [[2, 3], [3, 4], [0, 2], [4, 8]]
 */
export function consistencyProofRanges(m: number, n: number): LeafRange[] {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) throw new RangeError(`a consistency proof needs 0 <= m <= n, got m=${m}, n=${n}`);
  if (m === 0 || m === n) return [];
  const out: LeafRange[] = [];
  // SUBPROOF(m, D[start:start+size], complete), unrolled: each step appends one range after those
  // of the recursive call, so the ranges are collected in reverse and flipped at the end.
  const tail: LeafRange[] = [];
  let start = 0;
  let size = n;
  let sub = m;
  let complete = true;
  while (sub !== size) {
    const k = largestPowerOfTwoBelow(size);
    if (sub <= k) {
      tail.push([start + k, start + size]);
      size = k;
    } else {
      tail.push([start, start + k]);
      start += k;
      size -= k;
      sub -= k;
      complete = false;
    }
  }
  if (!complete) out.push([start, start + size]);
  for (let i = tail.length - 1; i >= 0; i--) out.push(tail[i]);
  return out;
}

/**
 * PROOF(m, D[n]) over `leaves` (n = leaves.length), as hex hashes. Holds every leaf; a writer
 * uses {@link ConsistencyProofBuilder} instead.
 *
 * @example const proof = consistencyProof(recordHashes, 1000); verifyConsistency(1000, recordHashes.length, root1000, rootNow, proof) // true
 */
export function consistencyProof(leaves: readonly (string | Uint8Array)[], m: number): string[] {
  const hashed = leaves.map((l) => leafHash(bytes(l)));
  return consistencyProofRanges(m, leaves.length).map(([s, e]) => mth(hashed, s, e - s).toString('hex'));
}

/**
 * Verifies that a tree of size `n` with root `newRoot` extends the tree of size `m` with root
 * `oldRoot`, leaf for leaf, given PROOF(m, D[n]) (RFC 9162 §2.1.4.2, equivalent to RFC 6962's).
 * Never throws: malformed input is simply not a proof.
 *
 * @example verifyConsistency(6, 8, root6, root8, proof) // true
 */
export function verifyConsistency(m: number, n: number, oldRoot: string, newRoot: string, proof: readonly string[]): boolean {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) return false;
  if (!Array.isArray(proof) || !proof.every((p) => typeof p === 'string' && /^[0-9a-f]{64}$/.test(p))) return false;
  if (m === 0) return proof.length === 0 && oldRoot === EMPTY_ROOT;
  if (m === n) return proof.length === 0 && oldRoot === newRoot;
  if (proof.length === 0) return false;
  const path: Buffer[] = proof.map((p) => Buffer.from(p, 'hex'));
  // A complete old tree is itself a node of the new one: its root starts the path.
  if ((m & (m - 1)) === 0) path.unshift(Buffer.from(oldRoot, 'hex'));
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = path[0];
  let sr: Buffer = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.toString('hex') === oldRoot && sr.toString('hex') === newRoot;
}

/**
 * Builds PROOF(m, D[n]) in one pass and O(log n) memory: from the frontier of the old tree (size
 * m) and the leaves m..n-1 appended in order.
 *
 * @example
 * const b = new ConsistencyProofBuilder(frontierAt1000, 1500);
 * for (const h of recordHashes1001to1500) b.append(h);
 * b.proof(); // PROOF(1000, D[1500])
 */
export class ConsistencyProofBuilder {
  readonly #m: number;
  readonly #n: number;
  #next: number;
  /** Per range: a fixed node (before m) or a tree being built from new leaves. */
  readonly #parts: { range: LeafRange; node?: Buffer; tree?: MerkleFrontier }[];

  constructor(old: MerkleFrontier, n: number) {
    this.#m = old.size;
    this.#n = n;
    this.#next = old.size;
    this.#parts = consistencyProofRanges(old.size, n).map((range) => {
      if (range[1] <= old.size) {
        const node = old.subtreeRoot(range[0], range[1]);
        if (!node) throw new Error(`internal: [${range[0]}, ${range[1]}) is not a node of the frontier of size ${old.size}`);
        return { range, node };
      }
      return { range, tree: new MerkleFrontier() };
    });
  }

  append(leaf: string | Uint8Array): void {
    if (this.#next >= this.#n) throw new RangeError(`the proof to size ${this.#n} takes no more leaves`);
    const i = this.#next++;
    for (const p of this.#parts) if (p.tree && p.range[0] <= i && i < p.range[1]) p.tree.append(leaf);
  }

  proof(): string[] {
    if (this.#next !== this.#n) throw new RangeError(`the proof from ${this.#m} to ${this.#n} has ${this.#next - this.#m} of ${this.#n - this.#m} new leaves`);
    return this.#parts.map((p) => (p.node ? p.node.toString('hex') : p.tree!.root()));
  }
}
