// What the proxy loads at run time must be installed by `npm ci --omit=dev`:
// every package src/ imports is a node builtin or one of package.json's
// `dependencies` (capnp-ts, say, is a devDependency: tests and benchmarks
// write Cap'n Proto with it, the proxy reads it itself).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers.js';

/** The package a bare import specifier names (`@scope/name/sub` -> `@scope/name`); undefined for relative paths and builtins. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Every module specifier a TypeScript source imports: static imports and re-exports, dynamic import() and require() with a string literal. */
function importedSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/\bfrom\s+'([^']+)'|\bimport\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)|\brequire\(\s*'([^']+)'\s*\)/g)) out.push((m[1] ?? m[2] ?? m[3] ?? m[4])!);
  return out;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

test('importedSpecifiers and packageOf find the packages a source names', () => {
  const source = "import a from 'fastify';\nimport type { B } from '@iarna/toml';\nexport { c } from './c.js';\nimport 'side-effect';\nconst d = await import('undici');\nconst e = createRequire(x)('capnp-ts/lib/x');\nimport f from 'node:fs';\n";
  assert.deepEqual(importedSpecifiers(source), ['fastify', '@iarna/toml', './c.js', 'side-effect', 'undici', 'node:fs']);
  assert.deepEqual(importedSpecifiers("require('capnp-ts')"), ['capnp-ts']);
  assert.deepEqual(['fastify', '@iarna/toml/lib/x', './c.js', 'node:fs', 'capnp-ts/lib/x'].map(packageOf), ['fastify', '@iarna/toml', undefined, undefined, 'capnp-ts']);
});

test('src/ imports only node builtins and package.json dependencies, never a devDependency', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  assert.ok('capnp-ts' in pkg.devDependencies, 'capnp-ts is a devDependency');
  const wrong: string[] = [];
  const used = new Set<string>();
  for (const file of sourceFiles(path.join(ROOT, 'src'))) {
    for (const spec of importedSpecifiers(fs.readFileSync(file, 'utf8'))) {
      const name = packageOf(spec);
      if (name === undefined) continue;
      used.add(name);
      if (!(name in pkg.dependencies)) wrong.push(`${path.relative(ROOT, file)}: ${spec}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(used.has('fastify') && used.has('prom-client'), `the scan found the proxy's imports (${[...used].join(', ')})`);
});
