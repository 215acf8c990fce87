import type { Checkpoint } from './checkpoint.ts';
import type { WrittenCheckpoint } from './write-checkpoint.ts';

/**
 * What a witness keeps of each checkpoint: the signed fields, the signature, the hash that the
 * next checkpoint chains to, and the RFC 6962 consistency proof from the previous checkpoint's
 * tree size, so that the witness alone shows the log only ever grew. One JSON object per line
 * in a witness file; the body of a webhook POST.
 */
export interface WitnessEntry {
  readonly type: typeof WITNESS_ENTRY_TYPE;
  readonly seq: number;
  readonly prevHash: string;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly createdAt: number;
  readonly keyId: string;
  readonly signature: string;
  readonly hash: string;
  readonly consistency: { readonly fromSize: number; readonly proof: readonly string[] };
}

export const WITNESS_ENTRY_TYPE = 'aios.audit.checkpoint';

/**
 * The witness entry of a checkpoint just written.
 *
 * @example JSON.stringify(witnessEntry(written)) // '{"type":"aios.audit.checkpoint","seq":7,…}'
 */
export function witnessEntry({ checkpoint: c, consistency }: WrittenCheckpoint): WitnessEntry {
  return {
    type: WITNESS_ENTRY_TYPE,
    seq: c.seq,
    prevHash: c.prevHash,
    treeSize: c.treeSize,
    rootHash: c.rootHash,
    createdAt: c.createdAt,
    keyId: c.keyId,
    signature: c.signature,
    hash: c.hash,
    consistency: { fromSize: consistency.fromSize, proof: [...consistency.proof] },
  };
}

/** A witness line that is not a witness entry: its 1-based line number and why. */
export interface UnreadableWitnessLine {
  readonly line: number;
  readonly message: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Reads witness NDJSON (a witness file, or what a webhook receiver stored): one entry per
 * non-blank line. Lines that are not entries are returned apart, never thrown.
 *
 * @example const { entries, unreadable } = parseWitness(readFileSync('/var/lib/audit-witness/aios.ndjson', 'utf8'));
 */
export function parseWitness(text: string): { entries: WitnessEntry[]; unreadable: UnreadableWitnessLine[] } {
  const entries: WitnessEntry[] = [];
  const unreadable: UnreadableWitnessLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      unreadable.push({ line: i + 1, message: `not JSON (${(e as Error).message})` });
      continue;
    }
    const why = entryProblem(value);
    if (why) unreadable.push({ line: i + 1, message: why });
    else entries.push(value as WitnessEntry);
  }
  return { entries, unreadable };
}

/** Why `value` is not a witness entry, or null when it is one. */
export function entryProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const e = value as Record<string, unknown>;
  if (e.type !== WITNESS_ENTRY_TYPE) return `type is not "${WITNESS_ENTRY_TYPE}"`;
  for (const k of ['seq', 'treeSize', 'createdAt'] as const) {
    if (!Number.isSafeInteger(e[k]) || (e[k] as number) < (k === 'seq' ? 1 : 0)) return `${k} is not a non-negative integer${k === 'seq' ? ' from 1' : ''}`;
  }
  for (const k of ['prevHash', 'rootHash', 'hash'] as const) if (typeof e[k] !== 'string' || !HEX64.test(e[k] as string)) return `${k} is not a 64-char hex hash`;
  if (typeof e.keyId !== 'string' || typeof e.signature !== 'string') return 'keyId or signature is not a string';
  const c = e.consistency as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null || !Number.isSafeInteger(c.fromSize) || !Array.isArray(c.proof) || !c.proof.every((p) => typeof p === 'string' && HEX64.test(p))) {
    return 'consistency is not { fromSize, proof: [hex hashes] }';
  }
  return null;
}

/** The signed fields, as checkpointSignatureValid takes them. */
export function entryAsCheckpoint(e: WitnessEntry): Omit<Checkpoint, 'publicKey'> {
  return { seq: e.seq, prevHash: e.prevHash, treeSize: e.treeSize, rootHash: e.rootHash, createdAt: e.createdAt, keyId: e.keyId, signature: e.signature, hash: e.hash };
}
