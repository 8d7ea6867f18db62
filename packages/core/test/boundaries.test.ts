/**
 * Package boundaries, checked on every `.ts` under `packages/*\/src` (issue 13, item 5):
 *
 * - `@hapg/core` imports no `node:` module and reads no clock or randomness
 *   (`Date.now()`, `new Date()`, `Date()`, `Math.random()`, `performance`, `process`);
 *   the system clock and file reading are `@hapg/platform`'s;
 * - a package imports only the bare modules and `@hapg/*` packages its own package.json lists
 *   under `dependencies` (`node:` builtins are allowed outside core);
 * - a relative import stays inside its package's `src/`, and no string names a path into
 *   another package (`'../../agent/dist/main.js'`): reach another package through its exports.
 *
 * Imports are read with the TypeScript parser: `import`, `import type`, `export … from`,
 * `import()` and `import('x').T` types.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const CORE = '@hapg/core';

interface PackageInfo {
  /** `packages/<dir>` */
  readonly dir: string;
  readonly name: string;
  readonly dependencies: ReadonlySet<string>;
}

interface Reference {
  readonly kind: 'import' | 'string';
  readonly text: string;
  readonly line: number;
}

/** The package a bare specifier names: `yaml`, `@hapg/core` (of `@hapg/core/x`). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const isRelative = (s: string) => s === '.' || s === '..' || s.startsWith('./') || s.startsWith('../');
const isBuiltin = (s: string) => s.startsWith('node:') || builtinModules.includes(packageOf(s));

/** Every module specifier and every string that looks like a relative path, with its line. */
function references(fileName: string, text: string): { refs: Reference[]; source: ts.SourceFile } {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const refs: Reference[] = [];
  const lineOf = (n: ts.Node) => source.getLineAndCharacterOfPosition(n.getStart(source)).line + 1;
  const specifiers = new Set<ts.Node>();
  const addImport = (n: ts.Expression | undefined) => {
    if (n === undefined || !ts.isStringLiteralLike(n)) return;
    specifiers.add(n);
    refs.push({ kind: 'import', text: n.text, line: lineOf(n) });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) addImport(n.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference))
      addImport(n.moduleReference.expression);
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword)
      addImport(n.arguments[0]);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument))
      addImport(n.argument.literal as ts.Expression);
    else if (ts.isStringLiteralLike(n) && !specifiers.has(n) && /(^|\/)\.\.\//.test(n.text))
      refs.push({ kind: 'string', text: n.text, line: lineOf(n) });
    ts.forEachChild(n, visit);
  };
  visit(source);
  return { refs, source };
}

/** Reads of the clock, of randomness or of the process in core. */
function impurities(source: ts.SourceFile): { what: string; line: number }[] {
  const out: { what: string; line: number }[] = [];
  const lineOf = (n: ts.Node) => source.getLineAndCharacterOfPosition(n.getStart(source)).line + 1;
  const named = (n: ts.Node, name: string) => ts.isIdentifier(n) && n.text === name;
  const visit = (n: ts.Node): void => {
    if (ts.isPropertyAccessExpression(n)) {
      if (named(n.expression, 'Date') && n.name.text === 'now')
        out.push({ what: 'Date.now', line: lineOf(n) });
      if (named(n.expression, 'Math') && n.name.text === 'random')
        out.push({ what: 'Math.random', line: lineOf(n) });
    }
    if (ts.isNewExpression(n) && named(n.expression, 'Date') && (n.arguments?.length ?? 0) === 0)
      out.push({ what: 'new Date()', line: lineOf(n) });
    if (ts.isCallExpression(n) && named(n.expression, 'Date')) out.push({ what: 'Date()', line: lineOf(n) });
    if (ts.isIdentifier(n) && ['performance', 'process'].includes(n.text)) {
      const p = n.parent;
      // a property or key of that name is fine (`x.process`, `{ process: 1 }`); the global is not
      const isName =
        (ts.isPropertyAccessExpression(p) && p.name === n) ||
        ((ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isMethodDeclaration(p)) &&
          p.name === n);
      if (!isName) out.push({ what: n.text, line: lineOf(n) });
    }
    ts.forEachChild(n, visit);
  };
  visit(source);
  return out;
}

/**
 * The boundary problems of one source file of `pkg`, each naming the file, the line and the
 * specifier. `file` is relative to the repository root (`packages/core/src/x.ts`).
 */
function boundaryProblems(pkg: PackageInfo, file: string, text: string): string[] {
  const problems: string[] = [];
  const { refs, source } = references(file, text);
  const srcDir = posix.join(pkg.dir, 'src');
  const pkgDir = pkg.dir;
  for (const r of refs) {
    const at = `${file}:${r.line}`;
    if (r.kind === 'string') {
      const target = posix.normalize(posix.join(posix.dirname(file), r.text));
      if (!target.startsWith(`${pkgDir}/`))
        problems.push(
          `${at}: the string '${r.text}' is a path into ${target.split('/').slice(0, 2).join('/')}: reach another package through its exports (import.meta.resolve('@hapg/<name>/...'))`,
        );
      continue;
    }
    if (isRelative(r.text)) {
      const target = posix.normalize(posix.join(posix.dirname(file), r.text));
      if (!target.startsWith(`${srcDir}/`))
        problems.push(
          `${at}: '${r.text}' leaves ${srcDir}: import another package by its name, from its exports`,
        );
      continue;
    }
    if (isBuiltin(r.text)) {
      if (pkg.name === CORE)
        problems.push(
          `${at}: '${r.text}': ${CORE} imports no Node module (files and clocks are @hapg/platform's)`,
        );
      else if (!r.text.startsWith('node:'))
        problems.push(`${at}: '${r.text}': write Node's builtins as 'node:${r.text}'`);
      continue;
    }
    const name = packageOf(r.text);
    if (!pkg.dependencies.has(name))
      problems.push(`${at}: '${r.text}': ${name} is not in the dependencies of ${pkgDir}/package.json`);
  }
  if (pkg.name === CORE) {
    for (const i of impurities(source))
      problems.push(`${file}:${i.line}: ${i.what}: ${CORE} reads no clock, randomness or process state`);
  }
  return problems;
}

function packages(): PackageInfo[] {
  const base = join(ROOT, 'packages');
  return readdirSync(base)
    .filter((d) => statSync(join(base, d, 'package.json'), { throwIfNoEntry: false })?.isFile())
    .map((d) => {
      const json = JSON.parse(readFileSync(join(base, d, 'package.json'), 'utf8')) as {
        name: string;
        dependencies?: Record<string, string>;
      };
      return {
        dir: `packages/${d}`,
        name: json.name,
        dependencies: new Set(Object.keys(json.dependencies ?? {})),
      };
    });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const toRepoPath = (abs: string) => relative(ROOT, abs).split(sep).join('/');

describe('package boundaries', () => {
  const all = packages();

  it('finds every package and its sources', () => {
    expect(all.map((p) => p.name)).toEqual(expect.arrayContaining([CORE, '@hapg/platform', '@hapg/agent']));
    for (const p of all) expect(sourceFiles(join(ROOT, p.dir, 'src')).length).toBeGreaterThan(0);
  });

  it.each(all.map((p) => [p.name, p] as const))(
    '%s: imports only what it declares, stays in its package',
    (_n, p) => {
      const problems = sourceFiles(join(ROOT, p.dir, 'src')).flatMap((f) =>
        boundaryProblems(p, toRepoPath(f), readFileSync(f, 'utf8')),
      );
      expect(problems, problems.join('\n')).toEqual([]);
    },
  );
});

describe('the boundary check has teeth', () => {
  const core: PackageInfo = { dir: 'packages/core', name: CORE, dependencies: new Set(['yaml', 'zod']) };
  const agent: PackageInfo = {
    dir: 'packages/agent',
    name: '@hapg/agent',
    dependencies: new Set(['@hapg/core', 'pino']),
  };
  const testkit: PackageInfo = { dir: 'packages/testkit', name: '@hapg/testkit', dependencies: new Set() };
  const check = (pkg: PackageInfo, text: string, file = `${pkg.dir}/src/sub/x.ts`) =>
    boundaryProblems(pkg, file, text);

  it('core importing a Node module, statically, by export or dynamically', () => {
    expect(check(core, "import { readFileSync } from 'node:fs';")).toEqual([
      "packages/core/src/sub/x.ts:1: 'node:fs': @hapg/core imports no Node module (files and clocks are @hapg/platform's)",
    ]);
    expect(check(core, "export { join } from 'path';\nconst m = await import('node:os');")).toHaveLength(2);
    expect(check(core, "type T = import('node:fs').Stats;")).toHaveLength(1);
  });

  it('core reading the clock, randomness or the process', () => {
    const text = [
      'const a = Date.now();',
      'const b = new Date();',
      'const c = Math.random();',
      'const d = performance.now();',
      'const e = process.env;',
      'const f = new Date(0); const g = { process: 1 }.process;',
    ].join('\n');
    expect(check(core, text).map((p) => p.split(': ')[1])).toEqual([
      'Date.now',
      'new Date()',
      'Math.random',
      'performance',
      'process',
    ]);
  });

  it('a bare module or @hapg package not in the dependencies', () => {
    expect(check(agent, "import type { X } from 'lodash/fp';")).toEqual([
      "packages/agent/src/sub/x.ts:1: 'lodash/fp': lodash is not in the dependencies of packages/agent/package.json",
    ]);
    expect(check(agent, "import { EtcdStore } from '@hapg/dcs';")).toHaveLength(1);
    expect(check(agent, "import { x } from '@hapg/core';\nimport pino from 'pino';")).toEqual([]);
    expect(check(agent, "import { join } from 'path';")).toEqual([
      "packages/agent/src/sub/x.ts:1: 'path': write Node's builtins as 'node:path'",
    ]);
    expect(check(agent, "import { join } from 'node:path';")).toEqual([]);
  });

  it('a relative import out of the package, or out of its src/', () => {
    expect(check(agent, "import { x } from '../../../dcs/src/store.js';")).toEqual([
      "packages/agent/src/sub/x.ts:1: '../../../dcs/src/store.js' leaves packages/agent/src: import another package by its name, from its exports",
    ]);
    expect(check(agent, "export * from '../../test/helpers.js';")).toHaveLength(1);
    expect(check(agent, "import { x } from '../y.js';\nimport { z } from './z.js';")).toEqual([]);
  });

  it("a string naming a path into another package (testkit's old AGENT_MAIN)", () => {
    const text = "const AGENT_MAIN = resolve(here, '../../agent/dist/main.js');";
    expect(check(testkit, text, 'packages/testkit/src/cluster.ts')).toEqual([
      "packages/testkit/src/cluster.ts:1: the string '../../agent/dist/main.js' is a path into packages/agent: reach another package through its exports (import.meta.resolve('@hapg/<name>/...'))",
    ]);
    expect(check(testkit, "const up = join(dir, '../data');", 'packages/testkit/src/cluster.ts')).toEqual([]);
  });
});
