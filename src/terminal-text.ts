// Text that came from a client (SQL, reasons, names) shown to a person in a terminal.
//
// A statement can carry a carriage return, ANSI escapes or a right-to-left override that make a
// terminal draw something other than what will run: an approver must see the bytes, not their effect.

// C0 controls, DEL, C1 controls (0x9b is a CSI on some terminals), zero-width and bidi format marks,
// line/paragraph separators, and the BOM.
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g;

const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(ch: string): string {
  const short = SHORT[ch];
  if (short) return short;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Every control or invisible formatting character written as a visible escape (\r, \x1b, \u202e). */
export function visible(text: string): string {
  return text.replace(HIDDEN, escapeOne);
}

/**
 * Multi-line text under a label: line breaks stay line breaks, but each following line is indented
 * so no line of the text can pass for another field; everything else hidden is escaped.
 */
export function visibleBlock(text: string, indent: string): string {
  return text
    .split(/\r\n|\n/)
    .map((line) => visible(line))
    .join(`\n${indent}`);
}
