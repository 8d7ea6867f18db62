import { createRequire } from 'node:module';
import ts from 'typescript';

/**
 * Offline validation of Kubernetes manifests (no API server, no kubeconform here):
 * 1. kubernetes-models' JSON-schema validator for the object's apiVersion and kind (types,
 *    enums, required fields, formats);
 * 2. unknown fields, which those schemas let through (the API's OpenAPI has no
 *    `additionalProperties: false`) but a real `kubectl apply` refuses (strict field
 *    validation): every key is looked up in kubernetes-models' TypeScript declaration of
 *    its type, walked with the TypeScript compiler's checker.
 */
const require = createRequire(import.meta.url);

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

/** `kubernetes-models/<apiVersion>/<Kind>` (`v1/Service`, `apps/v1/StatefulSet`, ...) */
function modelPath(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function schemaProblems(m: { apiVersion: string; kind: string }): string[] {
  let Model: ModelClass;
  try {
    Model = (require(modelPath(m.apiVersion, m.kind)) as Record<string, ModelClass>)[m.kind]!;
  } catch {
    return [`no Kubernetes API object ${m.apiVersion} ${m.kind}`];
  }
  try {
    new Model(m).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    return errors ? errors.map((x) => `${x.instancePath || '/'}: ${x.message}`) : [String(e)];
  }
}

let program: ts.Program | null = null;
const roots = new Set<string>();

function checkerFor(dts: string): ts.TypeChecker {
  if (program === null || !roots.has(dts)) {
    roots.add(dts);
    program = ts.createProgram({
      rootNames: [...roots],
      options: {
        noEmit: true,
        skipLibCheck: true,
        types: [],
        // the declarations import each other by file path, which `exports` maps do not list
        moduleResolution: ts.ModuleResolutionKind.Node10,
        module: ts.ModuleKind.CommonJS,
      },
      ...(program === null ? {} : { oldProgram: program }),
    });
  }
  return program.getTypeChecker();
}

/** The declared interface `I<Kind>` of kubernetes-models, or null when it cannot be found. */
function declaredType(apiVersion: string, kind: string): { checker: ts.TypeChecker; type: ts.Type } | null {
  const dts = require.resolve(modelPath(apiVersion, kind)).replace(/\.js$/, '.d.ts');
  const checker = checkerFor(dts);
  const file = program!.getSourceFile(dts);
  const moduleSymbol = file && checker.getSymbolAtLocation(file);
  const symbol = moduleSymbol && checker.getExportsOfModule(moduleSymbol).find((s) => s.name === `I${kind}`);
  return symbol ? { checker, type: checker.getDeclaredTypeOfSymbol(symbol) } : null;
}

const OPAQUE = ts.TypeFlags.Any | ts.TypeFlags.Unknown;

function unknownFields(
  value: unknown,
  type: ts.Type,
  checker: ts.TypeChecker,
  path: string,
  out: string[],
): void {
  if (value === null || typeof value !== 'object') return;
  let t = checker.getNonNullableType(type);
  if (t.flags & OPAQUE) return;
  if (Array.isArray(value)) {
    const element = checker.getIndexInfoOfType(t, ts.IndexKind.Number)?.type;
    if (element)
      for (const [i, v] of value.entries()) unknownFields(v, element, checker, `${path}[${i}]`, out);
    return;
  }
  if (t.isUnion()) {
    const objects = t.types.filter((m) => m.flags & ts.TypeFlags.Object);
    if (objects.length !== 1) return;
    t = objects[0]!;
  }
  const index = checker.getIndexInfoOfType(t, ts.IndexKind.String);
  if (checker.getPropertiesOfType(t).length === 0 && !index) return;
  for (const [key, v] of Object.entries(value)) {
    const prop = checker.getPropertyOfType(t, key);
    const declaration = prop?.valueDeclaration ?? prop?.declarations?.[0];
    if (prop && declaration)
      unknownFields(v, checker.getTypeOfSymbolAtLocation(prop, declaration), checker, `${path}.${key}`, out);
    else if (index) unknownFields(v, index.type, checker, `${path}.${key}`, out);
    else out.push(`${path}.${key}: unknown field`);
  }
}

/** Every problem of one manifest, `path: message`; empty when valid. */
export function validateManifest(m: {
  readonly apiVersion: string;
  readonly kind: string;
  readonly [k: string]: unknown;
}): string[] {
  const problems = schemaProblems(m);
  if (problems.length > 0 && problems[0]!.startsWith('no Kubernetes API object')) return problems;
  const declared = declaredType(m.apiVersion, m.kind);
  if (declared === null) return [...problems, `no type declaration for ${m.apiVersion} ${m.kind}`];
  unknownFields(m, declared.type, declared.checker, '', problems);
  return problems;
}
