import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EMPTY_ROOT, leafHash, MerkleFrontier, merkleRoot, nodeHash } from './merkle.ts';

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
