// Client side of SCRAM-SHA-256 (RFC 5802 §3, RFC 7677) for logging in to an upstream PostgreSQL; no sockets.

import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { AirlockError } from '../errors.js';
import { hmacSha256, saslprep, scramKeys, xorBuffers } from '../protocol/pg/scram-server.js';

// libpq has no limit; pg-node stops at 100 000. A hostile upstream could otherwise pin a CPU in PBKDF2.
const MAX_SCRAM_ITERATIONS = 1_000_000;

const pbkdf2Async = promisify(pbkdf2);

export class ScramClient {
  /** The client-first-message for SASLInitialResponse. */
  readonly clientFirst: string;
  /** True once the server proved it holds the verifier (valid server signature). */
  verified = false;
  private readonly clientNonce: string;
  private expectedServerSignature: Buffer | undefined;

  /**
   * user defaults to empty, as libpq sends it: PostgreSQL authenticates the StartupMessage's user.
   * nonce is for reproducing published test vectors only.
   */
  constructor(
    private readonly password: string,
    opts: { user?: string; nonce?: string } = {},
  ) {
    this.clientNonce = opts.nonce ?? randomBytes(18).toString('base64');
    // RFC 5802 §5.1: "," and "=" in the user name are escaped as =2C and =3D
    const user = (opts.user ?? '').replaceAll('=', '=3D').replaceAll(',', '=2C');
    this.clientFirst = `n,,n=${user},r=${this.clientNonce}`;
  }

  /** Answers the server-first-message with the client-final-message (proof included). */
  async clientFinal(serverFirst: string): Promise<string> {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r') ?? '';
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterationsText = attrs.get('i') ?? '';
    const iterations = /^[1-9][0-9]{0,9}$/.test(iterationsText) ? Number(iterationsText) : 0;
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw new AirlockError('AIRLOCK_ERR_UPSTREAM_AUTH', 'upstream SCRAM nonce does not extend ours');
    }
    if (salt.length === 0 || iterations === 0 || iterations > MAX_SCRAM_ITERATIONS) {
      throw new AirlockError('AIRLOCK_ERR_UPSTREAM_AUTH', 'upstream SCRAM salt or iteration count is invalid');
    }
    const salted = await pbkdf2Async(saslprep(this.password), salt, iterations, 32, 'sha256');
    const keys = scramKeys(salted);
    const withoutProof = `c=biws,r=${nonce}`; // biws = base64("n,,"): no channel binding
    const authMessage = `${this.clientFirst.slice(3)},${serverFirst},${withoutProof}`;
    const proof = xorBuffers(keys.clientKey, hmacSha256(keys.storedKey, authMessage));
    this.expectedServerSignature = hmacSha256(keys.serverKey, authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Returns a problem description, or undefined when the server proved it holds the verifier. */
  verifyServerFinal(serverFinal: string): string | undefined {
    const attrs = attributes(serverFinal);
    if (attrs.has('e')) return `upstream SCRAM error: ${attrs.get('e')}`;
    const signature = Buffer.from(attrs.get('v') ?? '', 'base64');
    const expected = this.expectedServerSignature;
    if (!expected || signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      return 'upstream SCRAM server signature is invalid: it does not know this password';
    }
    this.verified = true;
    return undefined;
  }
}

function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length >= 2 && part[1] === '=') map.set(part[0]!, part.slice(2));
  }
  return map;
}
