import { createHash } from 'node:crypto';
import fs from 'node:fs';

/** Digest of the files' contents as they are now; an unreadable file is part of the digest too. */
export function filesDigest(files: readonly string[]): string {
  const h = createHash('sha256');
  for (const file of files) {
    try {
      h.update(fs.readFileSync(file));
    } catch {
      h.update(`unreadable:${file}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}

export interface FileWatchOptions {
  /** How often the files' stats are polled. */
  readonly pollMs?: number;
  /** How long the contents must stay the same before a reload. */
  readonly settleMs?: number;
}

/**
 * Calls `reload` when watched files have changed and then stayed the same for `settleMs`.
 *
 * A writer truncates a file before it writes it, and editors write in several steps: reading a
 * file the moment its stat changes can catch it empty or half written, and refusing that
 * transient state would be a false alarm in the log, the metrics and the audit trail.
 */
export class ConfigFileWatcher {
  private timer: NodeJS.Timeout | null = null;
  private lastSeen: string | null = null;
  private readonly watching: string[] = [];
  private readonly pollMs: number;
  private readonly settleMs: number;

  constructor(
    private readonly files: readonly string[],
    /** Digest of the contents last loaded (by this watcher or by a SIGHUP). */
    private readonly loadedDigest: () => string,
    private readonly reload: () => void,
    opts: FileWatchOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 500;
    this.settleMs = opts.settleMs ?? 200;
  }

  /** Returns the files that cannot be watched (reload those with SIGHUP). */
  start(): string[] {
    const unwatchable: string[] = [];
    for (const file of this.files) {
      try {
        // Editors replace files (rename), so watch the directory entry by polling its stats.
        fs.watchFile(file, { interval: this.pollMs }, (cur, prev) => {
          if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) this.schedule();
        });
        this.watching.push(file);
      } catch {
        unwatchable.push(file);
      }
    }
    return unwatchable;
  }

  stop(): void {
    for (const file of this.watching.splice(0)) fs.unwatchFile(file);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * One look at the files: reload only when they differ from what is loaded and read the same as
   * at the previous look. Returns what it did, for tests that step it by hand.
   */
  check(): 'unchanged' | 'settling' | 'reloaded' {
    const now = filesDigest(this.files);
    if (now === this.loadedDigest()) {
      this.lastSeen = null;
      return 'unchanged';
    }
    if (now !== this.lastSeen) {
      this.lastSeen = now;
      return 'settling';
    }
    this.lastSeen = null;
    this.reload();
    return 'reloaded';
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.check() === 'settling') this.schedule();
    }, this.settleMs);
  }
}
