// parseDuration and parseBytes: accepted spellings and rejected ones.
import t from 'tap';
import { formatDuration, parseBytes, parseDuration } from '../../../src/config/units.js';

t.test('parseDuration', async (t) => {
  const ok: [string, number][] = [
    ['0', 0],
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    [' 15s ', 15_000],
  ];
  for (const [text, ms] of ok) t.equal(parseDuration(text), ms, text);
  for (const bad of ['', '10', 'm', '1 h', '-1s', '10x', '1h 30m', 'ms10']) {
    t.throws(() => parseDuration(bad), /invalid duration/, JSON.stringify(bad));
  }
});

t.test('parseBytes', async (t) => {
  const ok: [string | number, number][] = [
    [65536, 65536],
    ['100', 100],
    ['64MiB', 64 * 1024 * 1024],
    ['64 MiB', 64 * 1024 * 1024],
    ['10MB', 10_000_000],
    ['512KiB', 524_288],
    ['1GiB', 1024 ** 3],
    ['1gb', 1e9],
    ['8B', 8],
  ];
  for (const [text, n] of ok) t.equal(parseBytes(text), n, String(text));
  for (const bad of ['', 'MiB', '1XB', '-1', 1.5, -3]) {
    t.throws(() => parseBytes(bad), /invalid byte size/, JSON.stringify(bad));
  }
});

t.test('formatDuration reads back through parseDuration', async (t) => {
  const cases: [number, string][] = [[0, '0'], [500, '500ms'], [90_000, '1m30s'], [3_600_000, '1h'], [86_400_000 + 1, '1d1ms']];
  for (const [ms, text] of cases) {
    t.equal(formatDuration(ms), text);
    t.equal(parseDuration(text), ms);
  }
});
