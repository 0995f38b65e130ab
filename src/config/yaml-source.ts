// Reading a YAML file with node positions, ${env:NAME} substitution, and ajv errors mapped to file:line:col.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Document, LineCounter, isMap, isScalar, isSeq, parseDocument, visit, type Node } from 'yaml';
import { AirlockError, type AirlockErrorCode } from '../errors.js';

export type KeyPath = readonly (string | number)[];

export interface YamlSource {
  /** The path as the operator gave it; used in messages so they can be clicked on. */
  readonly name: string;
  readonly absolutePath: string;
  readonly bytes: Buffer;
  readonly doc: Document;
  readonly lineCounter: LineCounter;
  /** Plain JS value after env substitution. */
  readonly data: unknown;
}

interface Problem {
  readonly line: number;
  readonly col: number;
  readonly text: string;
}

/** Collects every error in a file so the operator sees all of them at once, in file order. */
export class Problems {
  readonly #items: Problem[] = [];
  /** Positions already explained by a root cause (an unset env variable); later errors there are noise. */
  readonly #silenced = new Set<string>();
  constructor(readonly fileName: string) {}

  add(line: number, col: number, text: string): void {
    if (this.#items.some((p) => p.line === line && p.col === col && p.text === text)) return;
    this.#items.push({ line, col, text });
  }

  /** An error about the value at `path` (or, with `key`, about that key inside the map at `path`). */
  at(source: YamlSource, path: KeyPath, message: string, key?: string): void {
    const { line, col } = positionOf(source, path, key);
    if (this.#silenced.has(`${line}:${col}`)) return;
    const where = formatPath(key === undefined ? path : [...path, key]);
    this.add(line, col, where ? `${where}: ${message}` : message);
  }

  silence(line: number, col: number): void {
    this.#silenced.add(`${line}:${col}`);
  }

  get size(): number {
    return this.#items.length;
  }

  lines(): string[] {
    return [...this.#items]
      .sort((a, b) => a.line - b.line || a.col - b.col)
      .map((p) => `${this.fileName}:${p.line}:${p.col}: ${p.text}`);
  }

  throwIfAny(code: AirlockErrorCode): void {
    if (this.size > 0) throw new AirlockError(code, this.lines().join('\n'));
  }
}

/** `rules[0].match.commands[2]` */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Reads and parses `file`. YAML syntax errors and unset env variables go to `problems`;
 * returns undefined when the file cannot be read or parsed at all. `env: null` turns substitution off.
 */
export function readYamlSource(file: string, problems: Problems, env: NodeJS.ProcessEnv | null = process.env): YamlSource | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    problems.add(1, 1, `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return undefined;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(bytes.toString('utf8'), { lineCounter, prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) {
    const pos = lineCounter.linePos(e.pos[0]);
    problems.add(pos.line, pos.col, e.message.split('\n')[0]!);
  }
  if (doc.errors.length > 0) return undefined;

  // Substitute in place on the nodes so every later error still points at the right line.
  if (env) substituteEnv(doc, lineCounter, problems, env);
  return {
    name: file,
    absolutePath: resolve(file),
    bytes,
    doc,
    lineCounter,
    data: doc.toJS({ maxAliasCount: 100 }),
  };
}

function substituteEnv(doc: Document, lineCounter: LineCounter, problems: Problems, env: NodeJS.ProcessEnv): void {
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const pos = node.range ? lineCounter.linePos(node.range[0]) : { line: 1, col: 1 };
      const original = node.value;
      const withoutRefs = original.replace(ENV_REF, '');
      if (withoutRefs.includes('${env:')) {
        problems.add(pos.line, pos.col, 'malformed env reference (write ${env:NAME})');
        return;
      }
      node.value = original.replace(ENV_REF, (_all, name: string) => {
        const value = env[name];
        if (value === undefined) {
          problems.add(pos.line, pos.col, `environment variable ${name} is not set`);
          problems.silence(pos.line, pos.col);
          return '';
        }
        return value;
      });
    },
  });
}

/** 1-based line and column of the node at `path`, or of the nearest ancestor that exists. */
export function positionOf(source: YamlSource, path: KeyPath, key?: string): { line: number; col: number } {
  let node: unknown = source.doc.contents;
  let best: unknown = node;
  for (const part of path) {
    node = childOf(node, part);
    if (node === undefined) break;
    best = node;
  }
  if (key !== undefined && node !== undefined && isMap(node)) {
    const pair = node.items.find((p) => keyValue(p.key) === key);
    if (pair && isScalar(pair.key)) best = pair.key;
  }
  const range = (best as Node | null)?.range;
  if (!range) return { line: 1, col: 1 };
  return source.lineCounter.linePos(range[0]);
}

function keyValue(k: unknown): unknown {
  return isScalar(k) ? k.value : k;
}

function childOf(node: unknown, part: string | number): unknown {
  if (isMap(node)) {
    const pair = node.items.find((p) => String(keyValue(p.key)) === String(part));
    return pair?.value ?? undefined;
  }
  if (isSeq(node)) {
    const idx = typeof part === 'number' ? part : Number(part);
    return Number.isInteger(idx) ? node.items[idx] : undefined;
  }
  return undefined;
}

/** One validator per schema; allErrors so a file's problems are reported together. */
export function compileSchema(schema: object): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true, strict: true });
  return ajv.compile(schema);
}

/** Runs an ajv validator and reports each error at the position of the offending YAML node. */
export function reportSchemaErrors(source: YamlSource, validate: ValidateFunction, problems: Problems): boolean {
  if (validate(source.data)) return true;
  for (const err of validate.errors ?? []) {
    const path = pointerToPath(err.instancePath, source.data);
    const { message, key } = describe(err);
    problems.at(source, path, message, key);
  }
  return false;
}

/** JSON pointer to key path; array indices become numbers so they print as [n]. */
function pointerToPath(pointer: string, data: unknown): (string | number)[] {
  if (pointer === '') return [];
  const out: (string | number)[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      out.push(Number(part));
      cur = cur[Number(part)];
    } else {
      out.push(part);
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
    }
  }
  return out;
}

function describe(err: ErrorObject): { message: string; key?: string } {
  const p = err.params as Record<string, unknown>;
  const hint = (err.parentSchema as { description?: string } | undefined)?.description;
  switch (err.keyword) {
    case 'additionalProperties':
      return { message: 'unknown key', key: String(p.additionalProperty) };
    case 'required':
      return { message: `missing required key "${String(p.missingProperty)}"` };
    case 'enum':
      return { message: `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'const':
      return { message: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'pattern':
    case 'format':
      return { message: hint ? `must be ${hint}` : (err.message ?? 'invalid value') };
    case 'type':
      return { message: `must be ${String(p.type)}${hint ? ` (${hint})` : ''}` };
    default:
      return { message: err.message ?? 'invalid value' };
  }
}
