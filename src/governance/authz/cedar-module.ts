import { createRequire } from 'node:module';

/** Cedar's WebAssembly build for Node: its functions, over one WebAssembly instance. */
export type CedarModule = typeof import('@cedar-policy/cedar-wasm/nodejs');

const MODULE = '@cedar-policy/cedar-wasm/nodejs';

/**
 * Loads a fresh copy of Cedar: its own WebAssembly instance, with memory no other copy shares.
 * The package is a CommonJS module that instantiates WebAssembly when it is evaluated, so it is
 * evaluated again, out of the require cache (V8 reuses the compiled code for the same bytes:
 * about 7 ms and 20 MB of memory per copy here, freed with the copy). A copy whose stack
 * overflowed is corrupt for good; it is dropped and another loaded.
 *
 * @example
 * const cedar = loadCedarModule();
 * cedar.policySetTextToParts('permit (principal, action, resource);');
 */
export function loadCedarModule(): CedarModule {
  // A require of its own each time: the module it loads is recorded as a child of the require's
  // module, which would otherwise keep every copy alive.
  const require = createRequire(import.meta.url);
  const path = require.resolve(MODULE);
  delete require.cache[path];
  try {
    return require(path) as CedarModule;
  } finally {
    delete require.cache[path];
  }
}
