// Byte-exact checks of the messages airlock synthesizes, against hex written by hand from PostgreSQL docs §55.7.
import t from 'tap';
import * as m from '../../../../src/protocol/pg/messages.js';

// Spaces are for the reader: they separate type, length and fields.
const hex = (s: string): string => s.replace(/\s+/g, '');
const SCRAM = '5343 52414d 2d 534841 2d 323536'; // "SCRAM-SHA-256"
const PLUS = SCRAM + ' 2d 504c5553'; // "-PLUS"

const fixtures: Array<[string, Buffer, string]> = [
  ['AuthenticationOk', m.authenticationOk(), '52 00000008 00000000'],
  ['AuthenticationSASL one mechanism', m.authenticationSasl(['SCRAM-SHA-256']), `52 00000017 0000000a ${SCRAM} 00 00`],
  [
    'AuthenticationSASL two mechanisms',
    m.authenticationSasl(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']),
    `52 0000002a 0000000a ${PLUS} 00 ${SCRAM} 00 00`,
  ],
  ['AuthenticationSASLContinue', m.authenticationSaslContinue('r=abc'), '52 0000000d 0000000b 723d616263'],
  ['AuthenticationSASLFinal', m.authenticationSaslFinal(Buffer.from('v=xyz')), '52 0000000d 0000000c 763d78797a'],
  [
    'ParameterStatus',
    m.parameterStatus('client_encoding', 'UTF8'),
    '53 00000019 636c69656e745f656e636f64696e67 00 55544638 00',
  ],
  ['BackendKeyData', m.backendKeyData(1234, 5678), '4b 0000000c 000004d2 0000162e'],
  ['BackendKeyData unsigned secret', m.backendKeyData(1, 0xdeadbeef), '4b 0000000c 00000001 deadbeef'],
  ['BackendKeyData negative secret', m.backendKeyData(1, -1), '4b 0000000c 00000001 ffffffff'],
  ['ReadyForQuery idle', m.readyForQuery('I'), '5a 00000005 49'],
  ['ReadyForQuery in transaction', m.readyForQuery('T'), '5a 00000005 54'],
  ['ReadyForQuery failed transaction', m.readyForQuery('E'), '5a 00000005 45'],
  [
    'ErrorResponse',
    m.errorResponse({ severity: 'FATAL', sqlstate: '28P01', message: 'bad' }),
    '45 0000001f 53 464154414c 00 56 464154414c 00 43 3238503031 00 4d 626164 00 00',
  ],
  [
    'ErrorResponse with detail and hint',
    m.errorResponse({ severity: 'ERROR', sqlstate: '42501', message: 'bad', detail: 'd', hint: 'h' }),
    '45 00000025 53 4552524f52 00 56 4552524f52 00 43 3432353031 00 4d 626164 00 44 64 00 48 68 00 00',
  ],
  [
    'NoticeResponse',
    m.noticeResponse({ severity: 'NOTICE', sqlstate: '00000', message: 'hi' }),
    '4e 00000020 53 4e4f54494345 00 56 4e4f54494345 00 43 3030303030 00 4d 6869 00 00',
  ],
  ['EmptyQueryResponse', m.emptyQueryResponse(), '49 00000004'],
  ['CommandComplete', m.commandComplete('SELECT 1'), '43 0000000d 53454c4543542031 00'],
  ['ParseComplete', m.parseComplete(), '31 00000004'],
  ['BindComplete', m.bindComplete(), '32 00000004'],
  ['CloseComplete', m.closeComplete(), '33 00000004'],
  ['NoData', m.noData(), '6e 00000004'],
  [
    'StartupMessage',
    m.startupMessage({ user: 'postgres', database: 'test' }),
    '00000025 00030000 75736572 00 706f737467726573 00 6461746162617365 00 74657374 00 00',
  ],
  ['PasswordMessage', m.passwordMessage('pw'), '70 00000007 7077 00'],
  [
    'SASLInitialResponse',
    m.saslInitialResponse('SCRAM-SHA-256', 'n,,n=,r=x'),
    `70 0000001f ${SCRAM} 00 00000009 6e2c2c6e3d2c723d78`,
  ],
  ['SASLInitialResponse without data', m.saslInitialResponse('SCRAM-SHA-256', null), `70 00000016 ${SCRAM} 00 ffffffff`],
  ['SASLResponse', m.saslResponse('c=biws'), '70 0000000a 633d62697773'],
  ['SSLRequest', m.sslRequest(), '00000008 04d2162f'],
  ['CancelRequest', m.cancelRequest(1234, 5678), '00000010 04d2162e 000004d2 0000162e'],
  ['Terminate', m.terminate(), '58 00000004'],
];

for (const [name, actual, expected] of fixtures) {
  t.equal(actual.toString('hex'), hex(expected), name);
}

t.test('a message larger than the initial buffer gets its length right', async (t) => {
  const tag = 'x'.repeat(5000);
  const msg = m.commandComplete(tag);
  t.equal(msg.length, 1 + 4 + 5000 + 1);
  t.equal(msg.readInt32BE(1), 4 + 5000 + 1);
  t.equal(msg.subarray(5, 5005).toString(), tag);
  // the shared writer is reset afterwards: the next message is not polluted by the big one
  t.equal(m.noData().toString('hex'), '6e00000004');
});

t.test('multi-byte UTF-8 is counted in bytes, not characters', async (t) => {
  const msg = m.parameterStatus('application_name', 'é');
  t.equal(msg.readInt32BE(1), 4 + 17 + 3);
  t.equal(msg.subarray(msg.length - 3).toString('hex'), 'c3a900');
});

t.test('a NUL inside a startup parameter is refused instead of splitting the field', async (t) => {
  t.throws(() => m.startupMessage({ user: 'a\0b' }), { code: 'AIRLOCK_ERR_PROTOCOL' });
});

t.test('a NUL inside error text is replaced so building an error never fails', async (t) => {
  const msg = m.errorResponse({ severity: 'ERROR', sqlstate: '42501', message: 'a\0b' });
  t.equal(msg.readInt32BE(1), msg.length - 1);
  t.ok(msg.includes(Buffer.from('a\uFFFDb')));
});

t.test('returned buffers are independent copies', async (t) => {
  const first = m.readyForQuery('I');
  m.readyForQuery('E');
  t.equal(first.toString('hex'), '5a0000000549');
});
