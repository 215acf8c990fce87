import { Type, type TArray, type TNull, type TObject, type TSchema, type TString, type TUnion } from 'typebox';

/** The page size of a list route whose query names none. */
export const DEFAULT_PAGE_LIMIT = 100;

/** A page as a list route reads it: the items, and the cursor of the next page (none after the last). */
export interface Page<T, C> {
  readonly items: readonly T[];
  readonly next?: C | null;
}

/** What a list route answers: the page's items under `key`, and `next`, the cursor of the next page or null. */
export type PageOut<K extends string, O, C> = { [P in K]: O[] } & { next: C | null };

/**
 * The page of a store that returns at most `limit` items in cursor order: a full page may have
 * more after it, from its last item's cursor; a shorter one is the last.
 */
export function pageOf<T, C>(items: readonly T[], limit: number, cursorOf: (item: T) => C): Page<T, C> {
  return { items, next: items.length === limit ? cursorOf(items[items.length - 1]) : null };
}

/**
 * The handler of a list route: reads the page of `limit` items (DEFAULT_PAGE_LIMIT when the query
 * names none) with `read`, and answers each item through `out`, under `key`, with `next`.
 *
 * @example
 * async (req) => pagedList('keys', req.query.limit, async (limit) => pageOf(await keys.list(ns, { after: req.query.after, limit }), limit, (k) => k.id), keyOut)
 */
export async function pagedList<K extends string, T, O, C>(key: K, limit: number | undefined, read: (limit: number) => Promise<Page<T, C>>, out: (item: T) => O): Promise<PageOut<K, O, C>> {
  const page = await read(limit ?? DEFAULT_PAGE_LIMIT);
  return { [key]: page.items.map(out), next: page.next ?? null } as PageOut<K, O, C>;
}

/** The 200 response schema of a list route: `{ <key>: item[], next: cursor | null }`, the cursor a string unless given. */
export function pageSchema<K extends string, I extends TSchema, C extends TSchema = TString>(key: K, item: I, cursor?: C): TObject<{ [P in K]: TArray<I> } & { next: TUnion<[C, TNull]> }> {
  return Type.Object({ [key]: Type.Array(item), next: Type.Union([cursor ?? Type.String(), Type.Null()]) }) as unknown as TObject<{ [P in K]: TArray<I> } & { next: TUnion<[C, TNull]> }>;
}
