import type { Capability } from './define.ts';

/**
 * Checks of a capability list against the documentation, for the capability-list test. Each
 * takes the list (and the text it checks against) and returns what is wrong, one line each, so a
 * test can feed it a deliberately broken capability and see it fail.
 */

/** Error codes of the list that docs/errors.md has no row for (`| \`CODE\` |`). */
export function undocumentedErrorCodes(list: readonly Capability[], errorsDoc: string): string[] {
  return list.flatMap((c) => Object.keys(c.errors ?? {}).filter((code) => !errorsDoc.includes(`| \`${code}\` |`)).map((code) => `${c.id}: error code ${code} is not in docs/errors.md`));
}

/** Error codes not under their capability's prefix (`AIOS_<ID>_`, or the prefixes it declares). */
export function unprefixedErrorCodes(list: readonly Capability[]): string[] {
  return list.flatMap((c) => {
    const prefixes = c.errorPrefixes ?? [`AIOS_${c.id.toUpperCase()}_`];
    return Object.keys(c.errors ?? {}).filter((code) => !prefixes.some((p) => code.startsWith(p))).map((code) => `${c.id}: error code ${code} does not start with ${prefixes.join(' or ')}`);
  });
}

/** Config options of the list that the README's table has no row for (`| \`--flag\` | \`ENV\` |`). */
export function undocumentedConfigOptions(list: readonly Capability[], readme: string): string[] {
  return list.flatMap((c) => (c.config ?? []).filter((o) => !readme.includes(`| \`--${o.flag}\` | \`${o.env}\` |`)).map((o) => `${c.id}: config option --${o.flag} (${o.env}) is not in the README's table`));
}

/** Routes of a built server that declare no authorization action and are not public. */
export function routesWithoutAction(routes: readonly { method: string; url: string; action: string | undefined }[], isPublic: (url: string) => boolean): string[] {
  return routes.filter((r) => !r.action && !isPublic(r.url)).map((r) => `${r.method} ${r.url} declares no authorization action`);
}

/** Actions of the list on an entity type that no capability declares (nor the base types, `Namespace`). */
export function actionsOnUnknownTypes(list: readonly Capability[], baseTypes: readonly string[]): string[] {
  const types = new Set([...baseTypes, ...list.flatMap((c) => c.resourceTypes ?? [])]);
  return list.flatMap((c) => Object.entries(c.actions ?? {}).filter(([, a]) => !types.has(a.resource)).map(([name, a]) => `${c.id}: action ${name} applies to ${a.resource}, which no one declares`));
}
