// The in-memory user directory: lookups by email (case-insensitive) and Slack id, and token checks.
import type { UserDirectory, UserRecord } from './types.js';
import { scramVerifier, verifyScramToken } from './verifiers.js';

// Unknown and disabled users still pay for one PBKDF2 run, so response time does not reveal who exists.
const DECOY = scramVerifier('decoy-token-never-issued');

export class StaticUserDirectory implements UserDirectory {
  readonly #byEmail = new Map<string, UserRecord>();
  readonly #bySlack = new Map<string, UserRecord>();
  readonly #all: readonly UserRecord[];

  constructor(records: readonly UserRecord[]) {
    this.#all = records;
    for (const r of records) {
      this.#byEmail.set(r.email.toLowerCase(), r);
      if (r.slack_id) this.#bySlack.set(r.slack_id, r);
    }
  }

  get(email: string): UserRecord | undefined {
    return this.#byEmail.get(email.toLowerCase());
  }

  bySlackId(slackId: string): UserRecord | undefined {
    return this.#bySlack.get(slackId);
  }

  all(): readonly UserRecord[] {
    return this.#all;
  }

  verifyToken(email: string, token: string): boolean {
    const user = this.get(email);
    const usable = user !== undefined && !user.disabled;
    const ok = verifyScramToken(usable ? user.scram : DECOY, token);
    return usable && ok;
  }
}
