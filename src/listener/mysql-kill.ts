// KILL [QUERY|CONNECTION] n aimed at an airlock MySQL connection id: who may, and what it stops.
//
// Connection ids: the greeting carries airlock's own id, so `KILL [QUERY] n` from a second connection
// names an airlock session. KILL is session control airlock answers itself, not a database statement:
// policy does not judge it and it needs no database (mysql's Ctrl-C and mysql2 send it on a fresh
// connection opened without one). A requester may kill only their own sessions (ERR 1094/1095 otherwise).
// A KILL QUERY aimed at a held statement cancels the hold (the held client gets ERR 1317); otherwise
// airlock sends KILL QUERY <upstream thread id> on a fresh upstream connection with the resource's credentials.

import { ClientError } from '../errors.js';
import type { ResourceSpec } from '../policy/types.js';
import { Errno } from '../protocol/mysql/codes.js';
import type { MysqlRelay } from '../protocol/mysql/relay.js';
import type { KillTarget } from '../protocol/mysql/session-text.js';
import { killUpstream } from '../upstream/mysql-connect.js';
import type { ListenerLog } from './session-listener.js';

/** A live MySQL session, by the connection id its client saw. */
export interface LiveSession {
  readonly relay: MysqlRelay;
  readonly upstreamThreadId: number;
  readonly resource: ResourceSpec;
}

/** KILL from `requester` (with or without a resource chosen) aimed at airlock connection `target.id`. */
export async function killSession(
  sessions: ReadonlyMap<number, LiveSession>,
  target: KillTarget,
  requester: string,
  deps: { readonly timeoutMs: number; readonly log: ListenerLog },
): Promise<ClientError | undefined> {
  const { log } = deps;
  const live = sessions.get(target.id);
  if (!live) return new ClientError({ sqlstate: 'HY000', mysqlErrno: Errno.UnknownThread, message: `Unknown thread id: ${target.id}` });
  if (live.relay.identity.requester.email.toLowerCase() !== requester.toLowerCase()) {
    return new ClientError({ sqlstate: 'HY000', mysqlErrno: Errno.NotOwnerOfThread, message: `You are not owner of thread ${target.id} (airlock: only your own connections)` });
  }
  const timeout = deps.timeoutMs;
  if (target.what === 'CONNECTION') {
    live.relay.terminate(new ClientError({ sqlstate: '70100', mysqlErrno: Errno.ConnectionKilled, message: 'Connection was killed', fatal: true }));
    killUpstream(live.resource, live.upstreamThreadId, 'CONNECTION', timeout).catch(() => {});
    return undefined;
  }
  if (live.relay.cancel() === 'cancelled-hold') {
    log.info({ target: target.id }, 'KILL QUERY cancelled a held statement');
    return undefined;
  }
  try {
    await killUpstream(live.resource, live.upstreamThreadId, 'QUERY', timeout);
    return undefined;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'forwarding KILL QUERY failed');
    return new ClientError({ sqlstate: 'HY000', mysqlErrno: Errno.UnknownThread, message: `airlock could not kill the query of thread ${target.id}` });
  }
}
