// Bounded LRU in front of a Classifier, so a statement repeated with other literals is parsed once.

import type { Classification, Classifier, ClassifyContext, Dialect } from './types.js';

/** Text with literals replaced by placeholders, and where those literals were (UTF-8 byte offsets). */
export interface Normalised {
  key: string;
  literalOffsets: number[];
  /** Per literal, the offset of a unary minus the parser folds into the constant, or -1. */
  signOffsets?: number[];
}

export type Normaliser = (sql: string) => Normalised | undefined;

export interface DetailedClassification {
  classification: Classification;
  /**
   * Byte offsets of the constants whose values the result does not depend on. Absent when the result
   * depends on some constant's value (search_path, SQL inside strings, EXPLAIN options...).
   */
  constantOffsets?: ReadonlySet<number>;
}

/** A classifier that can say which literals its answer ignored; needed to reuse a result across literal values. */
export interface LiteralAwareClassifier extends Classifier {
  classifyDetailed(sql: string, ctx?: ClassifyContext): DetailedClassification;
}

export interface CacheOptions {
  /** Entries kept; the least recently used goes first. */
  max?: number;
  /** Dialect-aware literal normaliser; without one only identical text hits. */
  normalise?: Normaliser;
  /**
   * Reuse results across normalised literals even though the inner classifier cannot confirm it ignored
   * them. Only for normalisers replacing values no classification reads (MySQL plain integers).
   */
  trustNormaliser?: boolean;
  /** Longer texts are classified without caching, so one huge query cannot hold much memory. */
  maxSqlLength?: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
}

function isLiteralAware(c: Classifier): c is LiteralAwareClassifier {
  return typeof (c as Partial<LiteralAwareClassifier>).classifyDetailed === 'function';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Everything in the context that can change a result goes into the key. */
function contextKey(dialect: Dialect, ctx: ClassifyContext | undefined): string {
  if (!ctx) return dialect;
  const settings = ctx.settings ? Object.entries(ctx.settings).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : [];
  return JSON.stringify([dialect, ctx.server ?? '', ctx.database ?? '', settings]);
}

export class CachedClassifier implements Classifier {
  readonly dialect: Dialect;
  private readonly entries = new Map<string, Classification>();
  private readonly max: number;
  private readonly maxSqlLength: number;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly inner: Classifier,
    private readonly options: CacheOptions = {},
  ) {
    this.dialect = inner.dialect;
    this.max = Math.max(1, options.max ?? 10_000);
    this.maxSqlLength = options.maxSqlLength ?? 16_384;
  }

  /**
   * Results are shared between callers and therefore deeply frozen: do not mutate them.
   */
  classify(sql: string, ctx?: ClassifyContext): Classification {
    if (typeof sql !== 'string' || sql.length > this.maxSqlLength) {
      this.misses++;
      return this.inner.classify(sql, ctx);
    }
    const prefix = contextKey(this.dialect, ctx);
    let normalised: Normalised | undefined;
    try {
      normalised = this.options.normalise?.(sql);
    } catch {
      normalised = undefined;
    }
    const normalisedKey = normalised ? `n${prefix}\u0000${normalised.key}` : undefined;
    const exactKey = `x${prefix}\u0000${sql}`;
    const cached = (normalisedKey !== undefined ? this.get(normalisedKey) : undefined) ?? this.get(exactKey);
    if (cached) {
      this.hits++;
      return cached;
    }
    this.misses++;
    let result: Classification;
    let reusable = false;
    if (isLiteralAware(this.inner)) {
      const detailed = this.inner.classifyDetailed(sql, ctx);
      result = detailed.classification;
      reusable = normalised !== undefined && detailed.constantOffsets !== undefined && literalsIgnored(normalised, detailed.constantOffsets);
    } else {
      result = this.inner.classify(sql, ctx);
      reusable = normalised !== undefined && this.options.trustNormaliser === true;
    }
    if (result.unparseable) reusable = false;
    this.set(reusable && normalisedKey !== undefined ? normalisedKey : exactKey, deepFreeze(result));
    return result;
  }

  stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }

  private get(key: string): Classification | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  private set(key: string, value: Classification): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

/**
 * Every literal the normaliser replaced must be a constant the parser saw and the classifier ignored.
 * This check is what makes the lexer's opinion safe: where it disagrees with the parser we only miss.
 */
function literalsIgnored(normalised: Normalised, constantOffsets: ReadonlySet<number>): boolean {
  return normalised.literalOffsets.every((offset, i) => {
    if (constantOffsets.has(offset)) return true;
    const sign = normalised.signOffsets?.[i] ?? -1;
    return sign >= 0 && constantOffsets.has(sign);
  });
}
