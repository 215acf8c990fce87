import { Cron } from 'croner';
import { AiosError } from '../../core/index.ts';

/**
 * A compiled cron expression in a time zone. Only computes instants (croner without a callback
 * arms no timer); "now" is always passed in, from the injected clock.
 */
export interface CronSpec {
  /** The first occurrence strictly after `afterMs`, or null when the expression has none. */
  next(afterMs: number): number | null;
}

/**
 * Compiles `expr` in `timezone` (an IANA name such as "Europe/Berlin"). A bad expression or
 * time zone is an AIOS_VALIDATION error naming the field.
 *
 * @example
 * compileCron('0 9 * * *', 'Europe/Berlin').next(Date.UTC(2026, 0, 1)); // 08:00 UTC
 */
export function compileCron(expr: string, timezone: string): CronSpec {
  if (typeof expr !== 'string' || !expr.trim()) throw invalid('cron', 'must be a non-empty cron expression such as "*/5 * * * *"');
  if (typeof timezone !== 'string' || !timezone) throw invalid('timezone', 'must be an IANA time zone such as "UTC" or "Europe/Berlin"');
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw invalid('timezone', `"${timezone}" is not an IANA time zone; use a name such as "UTC" or "Europe/Berlin"`);
  }
  let cron: Cron;
  try {
    cron = new Cron(expr, { timezone });
  } catch (e) {
    throw invalid('cron', `"${expr}" is not a valid cron expression: ${(e as Error).message}`);
  }
  return {
    next(afterMs: number): number | null {
      return cron.nextRun(new Date(afterMs))?.getTime() ?? null;
    },
  };
}

function invalid(field: string, message: string): AiosError {
  return new AiosError('AIOS_VALIDATION', `schedule ${field} ${message}`, { errors: [{ path: `/${field}`, message }] });
}
