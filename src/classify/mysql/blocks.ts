// Tracks BEGIN...END bodies of stored programs so the splitter knows which ';' ends a CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT.

import type { Token } from './lexer.js';

/**
 * Tracks BEGIN...END blocks of stored-program bodies so that ';' inside them does not end the
 * statement. Block words count only where a body statement can start (not inside a simple
 * statement, where CASE...END is an expression and "begin" may be an alias), so the text cannot
 * make us swallow statements the server runs on their own; a miscount leaves the string
 * unbalanced, which is rejected.
 */
export class BlockTracker {
  depth = 0;
  private readonly routine: boolean;
  private routineSeen = false;
  private bodySeen = false;
  private parens = 0;
  private prev: Token | undefined;
  private atStatementStart = false;
  private inSimple = false;
  private inCondition = false;
  private expressionCases = 0;
  private handler = false;
  private endCounted = false;

  constructor(first: Token) {
    this.routine = first.up === 'CREATE' || first.up === 'ALTER';
  }

  /** Whether this token ends the statement (a top-level ';'). */
  feed(t: Token): boolean {
    const prev = this.prev;
    const startPos = this.atStatementStart;
    const prevEndCounted = this.endCounted;
    this.prev = t;
    this.atStatementStart = false;
    this.endCounted = false;
    if (t.type === 'op') {
      if (t.value === '(') this.parens++;
      else if (t.value === ')') this.parens--;
      else if (t.value === ';') {
        if (this.depth === 0) return true;
        this.atStatementStart = true;
        this.inSimple = this.inCondition = this.handler = false;
      } else if (t.value === ':' && this.depth > 0 && this.labelCandidate) {
        // "label: BEGIN" / "label: LOOP"
        this.atStatementStart = true;
        this.inSimple = false;
      }
      this.labelCandidate = false;
      return false;
    }
    this.labelCandidate = false;
    if (t.type !== 'word' || !this.routine) return false;
    const up = t.up;
    const prevUp = prev?.up ?? '';
    if (this.depth === 0) return this.header(up, prev, prevUp);
    if (this.inCondition) {
      if (up === 'CASE') this.expressionCases++;
      else if (up === 'END' && this.expressionCases > 0) this.expressionCases--;
      else if (up === 'END') {
        // REPEAT ... UNTIL cond END REPEAT
        this.depth--;
        this.inCondition = false;
        this.endCounted = true;
      } else if ((up === 'THEN' || up === 'DO') && this.expressionCases === 0) {
        this.inCondition = false;
        this.atStatementStart = true;
      }
      return false;
    }
    if (prevUp === 'END' && BLOCK_KINDS.has(up)) {
      if (up === 'REPEAT' && !prevEndCounted) this.depth--;
      return false;
    }
    if (startPos) {
      if (up === 'END') {
        this.depth--;
        this.endCounted = true;
      } else if (up === 'BEGIN' || up === 'LOOP' || up === 'REPEAT') {
        this.depth++;
        this.atStatementStart = true;
      } else if (up === 'IF' || up === 'CASE' || up === 'WHILE') {
        this.depth++;
        this.inCondition = true;
        this.expressionCases = 0;
      } else if (up === 'ELSEIF' || up === 'WHEN' || up === 'UNTIL') {
        this.inCondition = true;
        this.expressionCases = 0;
      } else if (up === 'ELSE') {
        this.atStatementStart = true;
      } else {
        this.inSimple = true;
        this.labelCandidate = true;
        if (up === 'DECLARE') this.handler = true;
      }
      return false;
    }
    if (up === 'BEGIN' && this.handler && this.parens === 0 && !isPunct(prev) && prevUp !== 'AS') {
      this.depth++;
      this.atStatementStart = true;
      this.inSimple = this.handler = false;
    }
    return false;
  }

  private labelCandidate = false;

  /** Before the body: only a BEGIN right after the routine's header opens a block. */
  private header(up: string, prev: Token | undefined, prevUp: string): boolean {
    if (ROUTINE_WORDS.has(up) && !this.bodySeen) this.routineSeen = true;
    // An event's DO is followed by its body: a single statement unless it is BEGIN.
    if (prevUp === 'DO' && up !== 'BEGIN') this.bodySeen = true;
    if (BODY_MARKERS.has(up) && !(prevUp === 'BEFORE' || prevUp === 'AFTER')) this.bodySeen = true;
    if (up === 'BEGIN' && this.routineSeen && this.parens === 0 && !this.bodySeen && !HEADER_NAME_PREFIX.has(prevUp) && !isPunct(prev)) {
      this.depth = 1;
      this.atStatementStart = true;
    }
    return false;
  }
}

const ROUTINE_WORDS = new Set(['PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT']);
const BODY_MARKERS = new Set(['SELECT', 'SET', 'CALL', 'RETURN', 'REPLACE', 'WITH', 'VALUES', 'TABLE', 'INSERT', 'UPDATE', 'DELETE', 'AS']);
const HEADER_NAME_PREFIX = new Set(['PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT', 'AS', 'IN', 'OUT', 'INOUT']);
const BLOCK_KINDS = new Set(['IF', 'CASE', 'LOOP', 'WHILE', 'REPEAT']);

function isPunct(t: Token | undefined): boolean {
  return t !== undefined && t.type === 'op' && t.value !== ')';
}
