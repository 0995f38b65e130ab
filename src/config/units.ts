// Human-written durations ("10m", "1h30m", "500ms") and byte sizes ("64MiB") turned into numbers.

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Accepted by the JSON schemas so ajv can point at a malformed duration with its line. */
export const DURATION_PATTERN = '^(0|([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+)$';

const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)/g;

/** Milliseconds in a duration such as "10m", "30s", "1h30m" or "500ms"; "0" is zero. Throws on anything else. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (!new RegExp(DURATION_PATTERN).test(s)) {
    throw new Error(`invalid duration "${text}" (use e.g. 500ms, 30s, 10m, 1h, 1h30m)`);
  }
  let total = 0;
  for (const [, amount, unit] of s.matchAll(DURATION_PART)) {
    total += Number(amount) * DURATION_UNITS_MS[unit!]!;
  }
  return Math.round(total);
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1_000,
  kib: 1024,
  mb: 1_000_000,
  mib: 1024 ** 2,
  gb: 1_000_000_000,
  gib: 1024 ** 3,
};

export const BYTES_PATTERN = '^[0-9]+(\\.[0-9]+)? ?([bB]|[kKmMgG][iI]?[bB])?$';

/** Bytes in a size such as 65536, "64MiB", "10MB" or "512KiB". Throws on anything else. */
export function parseBytes(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`invalid byte size ${value}`);
    return value;
  }
  const m = /^([0-9]+(?:\.[0-9]+)?) ?([a-zA-Z]*)$/.exec(value.trim());
  const factor = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || factor === undefined) {
    throw new Error(`invalid byte size "${value}" (use e.g. 65536, 512KiB, 64MiB, 1GiB)`);
  }
  return Math.round(Number(m[1]) * factor);
}

/** The shortest spelling parseDuration reads back to the same value: 5_400_000 → "1h30m". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
