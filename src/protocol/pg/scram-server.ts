// Server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) checked against a stored verifier, plus the SCRAM primitives.
//
// Pure: strings in, strings out, no sockets. The caller relays the messages inside
// AuthenticationSASL / SASLContinue / SASLFinal and, on failure, sends authFailedError(user).

import { createHash, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ClientError } from '../../errors.js';
import { hmacSha256, sha256, xorBuffers } from '../../identity/digests.js';
import type { ScramVerifier } from '../../identity/types.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';
/** PostgreSQL's defaults (scram_iterations, SCRAM_DEFAULT_SALT_LEN); the mock verifier copies them so it looks real. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
const SALT_LENGTH = 16;
const NONCE_BYTES = 18;

// ---------------------------------------------------------------- primitives (RFC 5802 §2.2, §3)

export { hmacSha256, sha256, xorBuffers };

/**
 * The mapping steps of SASLprep (RFC 4013) that change bytes: non-ASCII spaces to U+0020, "mapped to
 * nothing" characters removed, NFKC. PostgreSQL and libpq apply the same before PBKDF2; like them we do
 * not reject prohibited characters, so any token still works.
 */
export function saslprep(password: string): string {
  return password
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .replace(/[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
    .normalize('NFKC');
}

/** Hi(Normalize(password), salt, i): PBKDF2 with HMAC-SHA-256, one 32-byte block. */
export function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(saslprep(password), salt, iterations, 32, 'sha256');
}

export interface ScramKeys {
  readonly clientKey: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export function scramKeys(salted: Buffer): ScramKeys {
  const clientKey = hmacSha256(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmacSha256(salted, 'Server Key') };
}

/** The verifier stored for a token; what `airlock users add` writes and what PostgreSQL keeps in pg_authid. */
export function deriveScramVerifier(
  password: string,
  opts: { salt?: Buffer; iterations?: number } = {},
): ScramVerifier {
  const salt = opts.salt ?? randomBytes(SALT_LENGTH);
  const iterations = opts.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  const keys = scramKeys(saltedPassword(password, salt, iterations));
  return {
    iterations,
    salt: salt.toString('base64'),
    stored_key: keys.storedKey.toString('base64'),
    server_key: keys.serverKey.toString('base64'),
  };
}

// ---------------------------------------------------------------- channel binding (RFC 5929 §4.1)

// DER-encoded signatureAlgorithm OIDs → the hash tls-server-end-point must use. MD5 and SHA-1 are
// upgraded to SHA-256 by the RFC. RSASSA-PSS and EdDSA are absent: PostgreSQL refuses them too.
const SIGNATURE_HASH_BY_OID: Readonly<Record<string, string>> = {
  '2a864886f70d010104': 'sha256', // md5WithRSAEncryption
  '2a864886f70d010105': 'sha256', // sha1WithRSAEncryption
  '2a864886f70d01010b': 'sha256', // sha256WithRSAEncryption
  '2a864886f70d01010c': 'sha384', // sha384WithRSAEncryption
  '2a864886f70d01010d': 'sha512', // sha512WithRSAEncryption
  '2a864886f70d01010e': 'sha224', // sha224WithRSAEncryption
  '2a8648ce3d0401': 'sha256', // ecdsa-with-SHA1
  '2a8648ce3d040301': 'sha224', // ecdsa-with-SHA224
  '2a8648ce3d040302': 'sha256', // ecdsa-with-SHA256
  '2a8648ce3d040303': 'sha384', // ecdsa-with-SHA384
  '2a8648ce3d040304': 'sha512', // ecdsa-with-SHA512
};

/**
 * tls-server-end-point channel-binding data: the hash of our DER certificate, with the hash named by the
 * certificate's own signature algorithm. Returns undefined when that algorithm has no defined hash, in
 * which case SCRAM-SHA-256-PLUS must not be offered.
 */
export function tlsServerEndPoint(certificateDer: Buffer): Buffer | undefined {
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE { OID, params }, ... }
  const outer = derHeader(certificateDer, 0);
  if (!outer) return undefined;
  const tbs = derHeader(certificateDer, outer.contentStart);
  if (!tbs) return undefined;
  const algorithm = derHeader(certificateDer, tbs.contentStart + tbs.length);
  if (!algorithm) return undefined;
  const oid = derHeader(certificateDer, algorithm.contentStart);
  if (!oid || certificateDer[algorithm.contentStart] !== 0x06) return undefined;
  const oidHex = certificateDer.subarray(oid.contentStart, oid.contentStart + oid.length).toString('hex');
  const hash = SIGNATURE_HASH_BY_OID[oidHex];
  return hash ? createHash(hash).update(certificateDer).digest() : undefined;
}

function derHeader(der: Buffer, at: number): { contentStart: number; length: number } | undefined {
  if (at + 2 > der.length) return undefined;
  const first = der[at + 1]!;
  if (first < 0x80) return { contentStart: at + 2, length: first };
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || at + 2 + octets > der.length) return undefined;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + der[at + 2 + i]!;
  return { contentStart: at + 2 + octets, length };
}

// ---------------------------------------------------------------- client-visible failures

/** The one message for a wrong token, unknown user or disabled user alike (PostgreSQL's wording). */
export function authFailedError(user: string): ClientError {
  return new ClientError({
    sqlstate: '28P01',
    mysqlErrno: 1045,
    message: `password authentication failed for user "${user}"`,
    fatal: true,
  });
}

function protocolError(message: string, detail?: string): ClientError {
  return new ClientError({ sqlstate: '08P01', mysqlErrno: 1043, message, detail, fatal: true });
}

const malformed = (detail: string): ClientError => protocolError('malformed SCRAM message', detail);

// ---------------------------------------------------------------- the exchange

export interface ScramServerOptions {
  /** The user name from the StartupMessage; seeds the mock verifier so an unknown user sees the same salt every time. */
  readonly user?: string;
  /** Secret behind mock salts; pass a stable one so mock salts survive restarts like real ones do. */
  readonly mockSecret?: Buffer;
  /** Iterations the mock verifier claims; set it to what real verifiers use. */
  readonly mockIterations?: number;
  /** tls-server-end-point data of our certificate (see tlsServerEndPoint) when the client leg is TLS; enables -PLUS. */
  readonly channelBinding?: Buffer;
  /** Fixed server nonce part, for reproducing published test vectors only. */
  readonly serverNonce?: string;
}

export type ScramStartResult = { readonly serverFirst: string } | { readonly error: ClientError };
export type ScramFinishResult =
  | { readonly ok: true; readonly serverFinal: string }
  /** reason is for the operator log; the client only ever gets authFailedError. */
  | { readonly ok: false; readonly reason: string };

// One secret per process when none is given: unknown users still get a stable salt for the process lifetime.
const processMockSecret = randomBytes(32);

interface ServerKeys {
  readonly iterations: number;
  readonly salt: string;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** One SCRAM-SHA-256 authentication: start() with the client-first-message, finish() with the client-final-message. */
export class ScramServerExchange {
  private readonly keys: ServerKeys;
  private readonly isMock: boolean;
  private readonly channelBinding: Buffer | undefined;
  private readonly fixedServerNonce: string | undefined;
  private state: 'new' | 'started' | 'done' = 'new';
  private gs2Header = '';
  private nonce = '';
  private clientFirstBare = '';
  private serverFirst = '';

  constructor(verifier: ScramVerifier | undefined, opts: ScramServerOptions = {}) {
    this.isMock = verifier === undefined;
    this.keys = verifier ? fromVerifier(verifier) : mockKeys(opts);
    this.channelBinding = opts.channelBinding;
    this.fixedServerNonce = opts.serverNonce;
  }

  /** Mechanisms to list in AuthenticationSASL, strongest first. */
  mechanisms(): string[] {
    return this.channelBinding ? [SCRAM_SHA_256_PLUS, SCRAM_SHA_256] : [SCRAM_SHA_256];
  }

  start(clientFirstMessage: string | Buffer, mechanism: string = SCRAM_SHA_256): ScramStartResult {
    if (this.state !== 'new') return { error: malformed('The SCRAM exchange was already started.') };
    this.state = 'done'; // until proven otherwise: a failed start ends the exchange
    if (!this.mechanisms().includes(mechanism)) {
      return { error: protocolError('client selected an invalid SASL authentication mechanism') };
    }
    const message = typeof clientFirstMessage === 'string' ? clientFirstMessage : clientFirstMessage.toString('utf8');

    const header = parseGs2Header(message);
    if ('error' in header) return header;
    const bindingError = this.checkBindingFlag(header.flag, mechanism);
    if (bindingError) return { error: bindingError };

    const bare = message.slice(header.length);
    if (bare.startsWith('m=')) return { error: malformed('Unsupported SCRAM extension.') };
    const attrs = bare.split(',');
    // The user name attribute is required but ignored: the StartupMessage's user is the one authenticated.
    if (attrs.length < 2 || !attrs[0]!.startsWith('n=')) return { error: malformed('Expected attribute "n".') };
    const clientNonce = attrs[1]!.startsWith('r=') ? attrs[1]!.slice(2) : '';
    if (!isPrintableNonce(clientNonce)) return { error: malformed('Expected a printable client nonce.') };
    // Extensions after the nonce are ignored, but each must still be an attribute (ALPHA "=" value).
    if (attrs.slice(2).some((ext) => !/^[A-Za-z]=/.test(ext))) return { error: malformed('Malformed SCRAM attribute.') };

    this.gs2Header = message.slice(0, header.length);
    this.clientFirstBare = bare;
    this.nonce = clientNonce + (this.fixedServerNonce ?? randomBytes(NONCE_BYTES).toString('base64'));
    this.serverFirst = `r=${this.nonce},s=${this.keys.salt},i=${this.keys.iterations}`;
    this.state = 'started';
    return { serverFirst: this.serverFirst };
  }

  finish(clientFinalMessage: string | Buffer): ScramFinishResult {
    if (this.state !== 'started') return { ok: false, reason: 'SCRAM exchange not in progress' };
    this.state = 'done';
    const message = typeof clientFinalMessage === 'string' ? clientFinalMessage : clientFinalMessage.toString('utf8');

    // client-final-message = channel-binding "," nonce ["," extensions] "," proof; the proof is always last.
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) return { ok: false, reason: 'client-final-message has no proof' };
    const withoutProof = message.slice(0, proofAt);
    const attrs = withoutProof.split(',');
    if (attrs.length < 2 || !attrs[0]!.startsWith('c=') || !attrs[1]!.startsWith('r=')) {
      return { ok: false, reason: 'client-final-message is malformed' };
    }
    const expectedBinding = Buffer.concat([
      Buffer.from(this.gs2Header, 'utf8'),
      this.gs2Header.startsWith('p=') ? this.channelBinding! : Buffer.alloc(0),
    ]);
    if (!Buffer.from(attrs[0]!.slice(2), 'base64').equals(expectedBinding)) {
      return { ok: false, reason: 'channel binding data does not match' };
    }
    if (attrs[1]!.slice(2) !== this.nonce) return { ok: false, reason: 'nonce does not match' };
    const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
    if (proof.length !== this.keys.storedKey.length) return { ok: false, reason: 'proof has the wrong length' };

    // RFC 5802 §3: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the client knew the token iff H(ClientKey) = StoredKey.
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientKey = xorBuffers(proof, hmacSha256(this.keys.storedKey, authMessage));
    const proofMatches = timingSafeEqual(sha256(clientKey), this.keys.storedKey);
    if (!proofMatches || this.isMock) return { ok: false, reason: 'wrong password or unknown user' };
    const serverSignature = hmacSha256(this.keys.serverKey, authMessage);
    return { ok: true, serverFinal: `v=${serverSignature.toString('base64')}` };
  }

  // RFC 5802 §6 and PostgreSQL's read_client_first_message: the flag must agree with the mechanism and with
  // what we offered, or a man in the middle could strip -PLUS and downgrade the client.
  private checkBindingFlag(flag: string, mechanism: string): ClientError | undefined {
    if (mechanism === SCRAM_SHA_256_PLUS) {
      if (flag !== 'p=tls-server-end-point') {
        return flag.startsWith('p=')
          ? malformed(`Unsupported SCRAM channel-binding type "${flag.slice(2)}".`)
          : malformed('The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.');
      }
      return undefined;
    }
    if (flag.startsWith('p=')) {
      return malformed(
        'The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.',
      );
    }
    if (flag === 'y' && this.channelBinding) {
      return protocolError(
        'SCRAM channel binding negotiation error',
        'The client supports SCRAM channel binding but thinks the server does not. However, this server does support channel binding.',
      );
    }
    return undefined;
  }
}

/** gs2-header = gs2-cbind-flag "," [authzid] ","; returns the flag and the header's length. */
function parseGs2Header(message: string): { flag: string; length: number } | { error: ClientError } {
  const firstComma = message.indexOf(',');
  if (firstComma < 0) return { error: malformed('Expected a GS2 header.') };
  const flag = message.slice(0, firstComma);
  if (flag !== 'n' && flag !== 'y' && !flag.startsWith('p=')) {
    return { error: malformed(`Unexpected channel-binding flag "${flag.slice(0, 20)}".`) };
  }
  if (message[firstComma + 1] !== ',') {
    const authzid = message.startsWith('a=', firstComma + 1);
    return { error: malformed(authzid ? 'Client uses authorization identity, but it is not supported.' : 'Expected a GS2 header.') };
  }
  return { flag, length: firstComma + 2 };
}

// printable = %x21-2B / %x2D-7E (RFC 5802 §7): printable ASCII except ","
function isPrintableNonce(nonce: string): boolean {
  return nonce.length > 0 && /^[\x21-\x2b\x2d-\x7e]+$/.test(nonce);
}

function fromVerifier(v: ScramVerifier): ServerKeys {
  return {
    iterations: v.iterations,
    salt: v.salt,
    storedKey: Buffer.from(v.stored_key, 'base64'),
    serverKey: Buffer.from(v.server_key, 'base64'),
  };
}

// Like PostgreSQL's scram_mock_salt: a salt derived from a secret and the user name, stable across attempts,
// so probing a name twice cannot tell "unknown" (fresh random salt) from "known" (same salt).
function mockKeys(opts: ScramServerOptions): ServerKeys {
  const secret = opts.mockSecret ?? processMockSecret;
  const user = opts.user ?? '';
  return {
    iterations: opts.mockIterations ?? DEFAULT_SCRAM_ITERATIONS,
    salt: hmacSha256(secret, `salt\0${user}`).subarray(0, SALT_LENGTH).toString('base64'),
    storedKey: hmacSha256(secret, `stored\0${user}`),
    serverKey: hmacSha256(secret, `server\0${user}`),
  };
}
