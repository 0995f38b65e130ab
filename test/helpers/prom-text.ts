// Reads values out of a Prometheus text exposition scraped from a running airlock's /metrics.

export interface Scrape {
  readonly text: string;
  /** The value of the series with exactly these labels (0 when absent, as Prometheus would treat a counter). */
  value(name: string, labels?: Record<string, string>): number;
  /** Whether any series of this name exists. */
  has(name: string): boolean;
  /** Sum over every series of the name whose labels include these. */
  sum(name: string, labels?: Record<string, string>): number;
}

interface Series {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

function parse(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const includes = (have: Record<string, string>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => have[k] === v);

export async function scrape(adminUrl: string): Promise<Scrape> {
  const res = await fetch(`${adminUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  const series = parse(text);
  return {
    text,
    has: (name) => series.some((s) => s.name === name),
    value: (name, labels = {}) =>
      series.find((s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && includes(s.labels, labels))?.value ?? 0,
    sum: (name, labels = {}) => series.filter((s) => s.name === name && includes(s.labels, labels)).reduce((a, s) => a + s.value, 0),
  };
}

/** Scrapes until `ready` holds (metrics some component syncs on a timer), at most `tries` times. */
export async function scrapeUntil(adminUrl: string, ready: (s: Scrape) => boolean, tries = 100): Promise<Scrape> {
  let last = await scrape(adminUrl);
  for (let i = 0; i < tries && !ready(last); i++) {
    await new Promise((r) => setTimeout(r, 50));
    last = await scrape(adminUrl);
  }
  return last;
}
