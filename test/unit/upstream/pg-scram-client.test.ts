// SCRAM-SHA-256 client pinned to RFC 7677's published exchange, plus the checks a hostile upstream must not pass.
import t from 'tap';
import { ScramClient } from '../../../src/upstream/pg-scram-client.js';

// RFC 7677 §3: user "user", password "pencil".
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const rfcClient = () => new ScramClient('pencil', { user: 'user', nonce: 'rOprNGfwEbeRWgbNEkqO' });

t.test('RFC 7677 §3 test vector reproduces byte for byte', async (t) => {
  const client = rfcClient();
  t.equal(client.clientFirst, 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  t.equal(
    await client.clientFinal(SERVER_FIRST),
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  );
  t.equal(client.verified, false, 'not verified before the server signature');
  t.equal(client.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), undefined);
  t.equal(client.verified, true);
});

t.test('a wrong or missing server signature is refused', async (t) => {
  for (const final of ['v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', 'v=', '', 'v=AAAA']) {
    const client = rfcClient();
    await client.clientFinal(SERVER_FIRST);
    t.match(client.verifyServerFinal(final), /server signature is invalid/, JSON.stringify(final));
    t.equal(client.verified, false);
  }
  const early = rfcClient();
  t.match(early.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), /invalid/, 'before clientFinal');
  const refused = rfcClient();
  await refused.clientFinal(SERVER_FIRST);
  t.equal(refused.verifyServerFinal('e=invalid-proof'), 'upstream SCRAM error: invalid-proof');
});

t.test('a server-first-message that does not extend our nonce or is unusable is refused', async (t) => {
  const cases = [
    'r=someoneElse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    'r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', // no server part
    'r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096',
    'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0',
    'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999',
    'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==',
  ];
  for (const serverFirst of cases) {
    await t.rejects(rfcClient().clientFinal(serverFirst), { code: 'AIRLOCK_ERR_UPSTREAM_AUTH' }, serverFirst);
  }
});

t.test('the user name is escaped and defaults to empty', async (t) => {
  t.match(new ScramClient('x').clientFirst, /^n,,n=,r=[A-Za-z0-9+/]{24}$/);
  t.match(new ScramClient('x', { user: 'a,b=c' }).clientFirst, /^n,,n=a=2Cb=3Dc,r=/);
});
