import { describe, expect, it } from 'vitest';
import { BodyBudget, bodyBudgetLimits } from './body-budget.ts';

const MiB = 1024 * 1024;

describe('BodyBudget', () => {
  const limits = { totalBytes: 8 * MiB, namespaceBytes: 4 * MiB, principalBytes: 2 * MiB };

  it('holds one principal to its share, then its namespace to its share, then everyone to the total', () => {
    const b = new BodyBudget(limits);
    const held = [b.reserve('a', 'a1', MiB), b.reserve('a', 'a1', MiB)];
    expect(held.every((r) => r.ok)).toBe(true);
    expect(b.reserve('a', 'a1', 1)).toEqual({ ok: false, bound: 'principal', limitBytes: 2 * MiB });
    expect(b.reserve('a', 'a2', 2 * MiB).ok).toBe(true);
    expect(b.reserve('a', 'a3', 1)).toEqual({ ok: false, bound: 'namespace', limitBytes: 4 * MiB });
    // Another namespace has its own share while the total has room.
    expect(b.reserve('b', 'b1', 2 * MiB).ok).toBe(true);
    expect(b.reserve('c', 'c1', 2 * MiB).ok).toBe(true);
    expect(b.inflightBytes).toBe(8 * MiB);
    expect(b.reserve('d', 'd1', 1)).toEqual({ ok: false, bound: 'total', limitBytes: 8 * MiB });
    expect(b.namespaceBytes('a')).toBe(4 * MiB);
    expect(b.principalBytes('a1')).toBe(2 * MiB);
  });

  it('a refused reservation takes nothing', () => {
    const b = new BodyBudget(limits);
    expect(b.reserve('a', 'a1', 3 * MiB).ok).toBe(false);
    expect(b.inflightBytes).toBe(0);
    expect(b.namespaceBytes('a')).toBe(0);
    expect(b.principalBytes('a1')).toBe(0);
  });

  it('gives each reservation back exactly once, however often it is released', () => {
    const b = new BodyBudget(limits);
    const one = b.reserve('a', 'a1', MiB);
    const two = b.reserve('a', 'a1', MiB);
    if (!one.ok || !two.ok) throw new Error('expected both to fit');
    one.release();
    one.release();
    one.release();
    expect(b.inflightBytes).toBe(MiB);
    expect(b.principalBytes('a1')).toBe(MiB);
    expect(b.reserve('a', 'a1', MiB + 1).ok).toBe(false);
    two.release();
    expect(b.inflightBytes).toBe(0);
    expect(b.namespaceBytes('a')).toBe(0);
    expect(b.reserve('a', 'a1', 2 * MiB).ok).toBe(true);
  });
});

describe('bodyBudgetLimits', () => {
  it('takes the shares as percentages of the total', () => {
    expect(bodyBudgetLimits({ totalBytes: 64 * MiB, namespacePercent: 50, principalPercent: 25, bodyLimitBytes: MiB })).toEqual({ totalBytes: 64 * MiB, namespaceBytes: 32 * MiB, principalBytes: 16 * MiB });
  });

  it('lets every bound hold at least one body of the largest size', () => {
    expect(bodyBudgetLimits({ totalBytes: 8 * MiB, namespacePercent: 10, principalPercent: 5, bodyLimitBytes: 4 * MiB })).toEqual({ totalBytes: 8 * MiB, namespaceBytes: 4 * MiB, principalBytes: 4 * MiB });
    expect(bodyBudgetLimits({ totalBytes: MiB, namespacePercent: 50, principalPercent: 25, bodyLimitBytes: 16 * MiB })).toEqual({ totalBytes: 16 * MiB, namespaceBytes: 16 * MiB, principalBytes: 16 * MiB });
  });

  it('never gives a principal more than its namespace, nor either more than the total', () => {
    expect(bodyBudgetLimits({ totalBytes: 64 * MiB, namespacePercent: 20, principalPercent: 100, bodyLimitBytes: MiB })).toEqual({ totalBytes: 64 * MiB, namespaceBytes: 64 * MiB, principalBytes: 64 * MiB });
  });

  it('0 is no bound', () => {
    const l = bodyBudgetLimits({ totalBytes: 0, namespacePercent: 50, principalPercent: 25, bodyLimitBytes: MiB });
    expect(new BodyBudget(l).reserve('a', 'a1', 1024 * MiB).ok).toBe(true);
  });
});
