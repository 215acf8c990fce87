import { v7 } from 'uuid';

/** Generated ids are UUIDv7: time-ordered, so indexes stay append-friendly. */
export type IdGenerator = () => string;

export const uuidv7: IdGenerator = () => v7();

/** 32-bit FNV-1a over UTF-16 code units; stable across processes and backends. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
