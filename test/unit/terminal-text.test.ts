import t from 'tap';
import { visible, visibleBlock } from '../../src/terminal-text.js';

t.equal(visible('SELECT 1'), 'SELECT 1', 'ordinary text is unchanged');
t.equal(visible('naïve 表 \\n'), 'naïve 表 \\n', 'non-ASCII letters and a literal backslash-n stay');
t.equal(visible('a\rb\nc\td'), 'a\\rb\\nc\\td');
t.equal(visible('\x1b[31mred\x1b[0m'), '\\x1b[31mred\\x1b[0m', 'ANSI escapes');
t.equal(visible('\x00\x7f\x9b'), '\\x00\\x7f\\x9b', 'NUL, DEL and the C1 CSI');
t.equal(visible('abc\u202edef\u2066\u200b\ufeff'), 'abc\\u202edef\\u2066\\u200b\\ufeff', 'bidi overrides and zero-width marks');
t.equal(visibleBlock('a\r\nb\nc\rd', '  '), 'a\n  b\n  c\\rd', 'line breaks kept and indented; a lone CR escaped');
