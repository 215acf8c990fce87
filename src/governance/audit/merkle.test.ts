import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConsistencyProofBuilder, consistencyProof, consistencyProofRanges, EMPTY_ROOT, leafHash, MerkleFrontier, merkleRoot, nodeHash, verifyConsistency } from './merkle.ts';

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const leaves = (n: number) => Array.from({ length: n }, (_, i) => sha(Buffer.from(`record ${i}`)).toString('hex'));

/** RFC 6962 §2.1, transcribed independently of merkle.ts: D[k1:k2] sub-lists, byte prefixes. */
function referenceMth(d: Buffer[]): Buffer {
  const n = d.length;
  if (n === 0) return sha(Buffer.alloc(0));
  if (n === 1) return sha(Buffer.from([0]), d[0]);
  let k = 1;
  while (k << 1 < n) k <<= 1;
  return sha(Buffer.from([1]), referenceMth(d.slice(0, k)), referenceMth(d.slice(k)));
}

describe('RFC 6962 Merkle tree', () => {
  it('hashes the empty tree to sha256("")', () => {
    expect(EMPTY_ROOT).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(merkleRoot([])).toBe(EMPTY_ROOT);
    expect(new MerkleFrontier().root()).toBe(EMPTY_ROOT);
  });

  it('prefixes leaves with 0x00 and nodes with 0x01', () => {
    const [a, b] = leaves(2).map((h) => Buffer.from(h, 'hex'));
    expect(merkleRoot([a])).toBe(sha(Buffer.from([0]), a).toString('hex'));
    expect(merkleRoot([a, b])).toBe(sha(Buffer.from([1]), sha(Buffer.from([0]), a), sha(Buffer.from([0]), b)).toString('hex'));
    expect(nodeHash(leafHash(a), leafHash(b)).toString('hex')).toBe(merkleRoot([a, b]));
  });

  it('splits at the largest power of two below n (3 leaves: (ab)c, not a(bc))', () => {
    const [a, b, c] = leaves(3).map((h) => leafHash(Buffer.from(h, 'hex')));
    expect(merkleRoot(leaves(3))).toBe(nodeHash(nodeHash(a, b), c).toString('hex'));
    expect(merkleRoot(leaves(3))).not.toBe(nodeHash(a, nodeHash(b, c)).toString('hex'));
  });

  it('agrees with the RFC definition and with the incremental frontier for sizes 0..70', () => {
    const all = leaves(70);
    const f = new MerkleFrontier();
    for (let n = 0; n <= 70; n++) {
      const prefix = all.slice(0, n);
      const expected = referenceMth(prefix.map((h) => Buffer.from(h, 'hex'))).toString('hex');
      expect(merkleRoot(prefix), `merkleRoot n=${n}`).toBe(expected);
      expect(f.size).toBe(n);
      expect(f.root(), `frontier n=${n}`).toBe(expected);
      if (n < 70) f.append(all[n]);
    }
  });

  it('changes the root when any leaf changes or leaves swap', () => {
    const l = leaves(9);
    const root = merkleRoot(l);
    const edited = [...l];
    edited[4] = leaves(10)[9];
    expect(merkleRoot(edited)).not.toBe(root);
    const swapped = [...l];
    [swapped[2], swapped[3]] = [swapped[3], swapped[2]];
    expect(merkleRoot(swapped)).not.toBe(root);
  });

  it('clones a frontier without sharing state', () => {
    const l = leaves(5);
    const f = new MerkleFrontier();
    l.slice(0, 3).forEach((h) => f.append(h));
    const c = f.clone();
    c.append(l[3]);
    c.append(l[4]);
    expect(f.root()).toBe(merkleRoot(l.slice(0, 3)));
    expect(c.root()).toBe(merkleRoot(l));
  });

  it('refuses a leaf that is not a hex hash', () => {
    expect(() => merkleRoot(['not-a-hash'])).toThrow(/64-char/);
  });

});

/** RFC 6962 §2.1.2 SUBPROOF, transcribed independently of merkle.ts, over leaf data. */
function referenceSubproof(m: number, d: Buffer[], complete: boolean): Buffer[] {
  const n = d.length;
  if (m === n) return complete ? [] : [referenceMth(d)];
  let k = 1;
  while (k << 1 < n) k <<= 1;
  if (m <= k) return [...referenceSubproof(m, d.slice(0, k), complete), referenceMth(d.slice(k))];
  return [...referenceSubproof(m - k, d.slice(k), false), referenceMth(d.slice(0, k))];
}

// The Certificate Transparency reference data (leaf inputs, tree heads of sizes 1..8, consistency
// proofs) that RFC 6962 implementations test against.
const CT_DATA = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_CONSISTENCY: { m: number; n: number; proof: string[] }[] = [
  { m: 1, n: 1, proof: [] },
  { m: 1, n: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { m: 6, n: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { m: 2, n: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
  { m: 2, n: 8, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
];

describe('RFC 6962 consistency proofs', () => {
  it('reproduces the Certificate Transparency tree heads and consistency proofs', () => {
    for (let n = 1; n <= 8; n++) expect(merkleRoot(CT_DATA.slice(0, n)), `root of ${n}`).toBe(CT_ROOTS[n - 1]);
    for (const v of CT_CONSISTENCY) {
      expect(consistencyProof(CT_DATA.slice(0, v.n), v.m), `PROOF(${v.m}, D[${v.n}])`).toEqual(v.proof);
      expect(verifyConsistency(v.m, v.n, CT_ROOTS[v.m - 1], CT_ROOTS[v.n - 1], v.proof)).toBe(true);
    }
  });

  it('agrees with the RFC recursion, verifies, and builds the same in one pass, for every 0 <= m <= n <= 40', () => {
    const all = leaves(40);
    const raw = all.map((h) => Buffer.from(h, 'hex'));
    for (let n = 0; n <= 40; n++) {
      const newRoot = merkleRoot(all.slice(0, n));
      const old = new MerkleFrontier();
      for (let m = 0; m <= n; m++) {
        const oldRoot = merkleRoot(all.slice(0, m));
        const proof = consistencyProof(all.slice(0, n), m);
        expect(proof, `m=${m} n=${n}`).toEqual(m === 0 ? [] : referenceSubproof(m, raw.slice(0, n), true).map((b) => b.toString('hex')));
        expect(verifyConsistency(m, n, oldRoot, newRoot, proof), `verify m=${m} n=${n}`).toBe(true);
        const b = new ConsistencyProofBuilder(old, n);
        for (let i = m; i < n; i++) b.append(all[i]);
        expect(b.proof(), `builder m=${m} n=${n}`).toEqual(proof);
        for (const [s, e] of consistencyProofRanges(m, n)) expect(e <= m || s >= m, `range [${s}, ${e}) straddles m=${m}`).toBe(true);
        if (m < n) old.append(all[m]);
      }
    }
  });

  it('rejects a proof for another tree, a changed node, a wrong size or a rewritten old tree', () => {
    const all = leaves(13);
    const root6 = merkleRoot(all.slice(0, 6));
    const root13 = merkleRoot(all);
    const proof = consistencyProof(all, 6);
    expect(verifyConsistency(6, 13, root6, root13, proof)).toBe(true);
    const forked = [...all];
    forked[3] = leaves(14)[13];
    expect(verifyConsistency(6, 13, root6, merkleRoot(forked), consistencyProof(forked, 6))).toBe(false);
    expect(verifyConsistency(6, 13, merkleRoot(forked.slice(0, 6)), root13, proof)).toBe(false);
    for (let i = 0; i < proof.length; i++) {
      const bad = [...proof];
      bad[i] = leaves(20)[19];
      expect(verifyConsistency(6, 13, root6, root13, bad), `node ${i} changed`).toBe(false);
    }
    expect(verifyConsistency(5, 13, root6, root13, proof)).toBe(false);
    expect(verifyConsistency(6, 13, root6, root13, proof.slice(1))).toBe(false);
    expect(verifyConsistency(6, 13, root6, root13, [...proof, proof[0]])).toBe(false);
    expect(verifyConsistency(6, 13, root6, root13, [])).toBe(false);
    expect(verifyConsistency(13, 6, root13, root6, proof)).toBe(false);
    expect(verifyConsistency(6, 13, root6, root13, ['not hex'])).toBe(false);
    expect(verifyConsistency(0, 13, EMPTY_ROOT, root13, [])).toBe(true);
    expect(verifyConsistency(0, 13, root6, root13, [])).toBe(false);
    expect(verifyConsistency(13, 13, root13, root13, [])).toBe(true);
    expect(verifyConsistency(13, 13, root6, root13, [])).toBe(false);
  });
});
