/**
 * --plugin FILE: an ES module whose default export is an interceptor or an array of them,
 * loaded at start (in every --workers process). Whatever is wrong with a plugin is found here,
 * before the broker listens, and said in one line naming the file.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InterceptorError, resolveInterceptors } from './check.js';
import type { Interceptor } from './interceptor.js';

export class PluginError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`plugin ${file}: ${problem}`);
    this.name = 'PluginError';
  }
}

/** Loads the plugins in order; their interceptors, in order. */
export async function loadPlugins(files: readonly string[], cwd = process.cwd()): Promise<Interceptor[]> {
  const out: Interceptor[] = [];
  for (const file of files) out.push(...(await loadPlugin(file, cwd)));
  return out;
}

async function loadPlugin(file: string, cwd: string): Promise<Interceptor[]> {
  const path = resolve(cwd, file);
  if (!existsSync(path)) throw new PluginError(file, 'no such file');
  if (!statSync(path).isFile()) throw new PluginError(file, 'not a file');
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof SyntaxError) throw new PluginError(file, `syntax error: ${err.message}`);
    throw new PluginError(file, `its top level threw: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!('default' in module) || module.default === undefined) {
    throw new PluginError(file, 'has no default export (export default an interceptor or an array of them)');
  }
  const list = Array.isArray(module.default) ? (module.default as unknown[]) : [module.default];
  try {
    resolveInterceptors(list);
  } catch (err) {
    if (err instanceof InterceptorError) throw new PluginError(file, `its default export is not a valid interceptor: ${err.message}`);
    throw err;
  }
  return list as Interceptor[];
}
