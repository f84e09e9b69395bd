// Scans the bytes received so far of an HTTP/1.x request head for the client
// address in one header, the twin of native/http_head.cc (docs/internals.md
// "scanHead"). Reads left to right; the first decisive byte ends the scan.

import type { HeadRules, HeadScan, HeadStatus } from '../primitives';
import { parseAddressBytes } from '../address';
import { cidrContains, parseCidrList, type CidrSet } from '../cidr';

const MAX_METHOD_LENGTH = 20;
const SP = 0x20;
const HTAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

// RFC 9110 tchar: the characters of a method or a header name.
const TOKEN = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = TOKEN[c + 0x20] = 1;
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;

// Bytes that end a request target: CTLs, SP and DEL (bytes >= 0x80 are allowed).
const TARGET_END = new Uint8Array(256);
for (let c = 0; c <= 0x20; c++) TARGET_END[c] = 1;
TARGET_END[0x7f] = 1;

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

function toLower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

// Whether head[start, start + name.length) equals name, ASCII letters compared without case.
function sameName(head: Buffer, start: number, name: Buffer): boolean {
  for (let k = 0; k < name.length; k++) {
    if (toLower(head[start + k]) !== toLower(name[k])) return false;
  }
  return true;
}

function result(status: HeadStatus): HeadScan {
  return { status, address: null };
}

// One element of a header value, as far as routing cares.
type Element = { kind: 'empty' } | { kind: 'not-address' } | { kind: 'address'; address: Buffer };
const EMPTY: Element = { kind: 'empty' };
const NOT_ADDRESS: Element = { kind: 'not-address' };

function readNode(head: Buffer, start: number, end: number): Element {
  const address = Buffer.alloc(16);
  return parseAddressBytes(head, start, end, address) ? { kind: 'address', address } : NOT_ADDRESS;
}

// A list element in [start, end), which holds no ',': OWS trimmed; empty
// elements are legal in an RFC 9110 list and name nobody.
function readListElement(head: Buffer, start: number, end: number): Element {
  while (start < end && isOws(head[start])) start++;
  while (end > start && isOws(head[end - 1])) end--;
  return start === end ? EMPTY : readNode(head, start, end);
}

// Index of the first ',' in [i, end) outside a quoted string (where '\'
// escapes the next byte), or end.
function skipToElementEnd(head: Buffer, i: number, end: number): number {
  let quoted = false;
  for (; i < end; i++) {
    const c = head[i];
    if (quoted && c === BACKSLASH) {
      if (++i === end) break;
    } else if (c === QUOTE) {
      quoted = !quoted;
    } else if (c === COMMA && !quoted) {
      break;
    }
  }
  return i;
}

function endsForwardedToken(c: number): boolean {
  return c === SEMICOLON || c === COMMA || c === QUOTE || isOws(c);
}

// An RFC 7239 forwarded-element starting at i: ';'-separated name=value pairs,
// a value a token or a quoted string. Its node is the value of its one for=
// pair; an element without one, with two, or with bad syntax is not an
// address. Returns the element and the index of the ',' that ends it, or end.
function readForwardedElement(head: Buffer, i: number, end: number): [Element, number] {
  // Bad syntax at i: the element ends at the next ',' outside a quoted string.
  const malformed = (at: number): [Element, number] => [NOT_ADDRESS, skipToElementEnd(head, at, end)];
  let anyPair = false;
  let nodeStart = -1;
  let nodeEnd = -1;
  let nodeEscaped = false;
  for (;;) {
    while (i < end && isOws(head[i])) i++;
    if (i === end || head[i] === COMMA) break;
    anyPair = true;
    if (head[i] === SEMICOLON) {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < end && TOKEN[head[i]]) i++;
    const isFor = i - nameStart === 3 && toLower(head[nameStart]) === 0x66 &&
      toLower(head[nameStart + 1]) === 0x6f && toLower(head[nameStart + 2]) === 0x72;
    if (i === nameStart || i === end || head[i] !== EQUALS) return malformed(i);
    i++;
    let valueStart = i;
    let valueEnd: number;
    let escaped = false;
    if (i < end && head[i] === QUOTE) {
      valueStart = ++i;
      while (i < end && head[i] !== QUOTE) {
        if (head[i] === BACKSLASH) {
          escaped = true;
          if (++i === end) break;
        }
        i++;
      }
      if (i === end) return malformed(i);
      valueEnd = i++;
    } else {
      while (i < end && !endsForwardedToken(head[i])) i++;
      valueEnd = i;
      if (valueEnd === valueStart) return malformed(i);
    }
    while (i < end && isOws(head[i])) i++;
    if (i < end && head[i] !== SEMICOLON && head[i] !== COMMA) return malformed(i);
    if (isFor) {
      // RFC 7239 section 4: a parameter occurs at most once per element.
      if (nodeStart >= 0) return malformed(i);
      nodeStart = valueStart;
      nodeEnd = valueEnd;
      nodeEscaped = escaped;
    }
  }
  if (!anyPair) return [EMPTY, i];
  // No address needs an escape; an escaped node is a name at best.
  if (nodeStart < 0 || nodeEscaped) return [NOT_ADDRESS, i];
  return [readNode(head, nodeStart, nodeEnd), i];
}

// The elements of one line's value [start, end), which excludes the LF and the CR before it.
function* elements(head: Buffer, start: number, end: number, forwarded: boolean): Generator<Element> {
  for (let i = start; ; ) {
    let element: Element;
    let elementEnd: number;
    if (forwarded) {
      [element, elementEnd] = readForwardedElement(head, i, end);
    } else {
      const comma = head.indexOf(COMMA, i);
      elementEnd = comma >= 0 && comma < end ? comma : end;
      element = readListElement(head, i, elementEnd);
    }
    yield element;
    if (elementEnd === end) return;
    i = elementEnd + 1;
  }
}

// The leftmost element of one line's value [start, end).
function firstElement(head: Buffer, start: number, end: number, forwarded: boolean): Element {
  if (forwarded) return readForwardedElement(head, start, end)[0];
  const comma = head.indexOf(COMMA, start);
  return readListElement(head, start, comma >= 0 && comma < end ? comma : end);
}

function found(element: Element): HeadScan {
  return element.kind === 'address' ? { status: 'found', address: element.address } : result('invalid');
}

// Reads the elements of every line of the header left to right and keeps
// what a right-to-left walk over them would stop at: the last element that is
// not a trusted address.
class RightmostUntrusted {
  private seenLine = false;
  private leftmost: Element = EMPTY; // the first non-empty element
  private untrusted: Element = EMPTY; // the last one not trusted

  constructor(private readonly trusted: CidrSet | null) {}

  addLine(head: Buffer, start: number, end: number, forwarded: boolean): void {
    this.seenLine = true;
    for (const element of elements(head, start, end, forwarded)) {
      if (element.kind === 'empty') continue;
      if (this.leftmost.kind === 'empty') this.leftmost = element;
      const trusted = element.kind === 'address' && this.trusted !== null && cidrContains(this.trusted, element.address);
      if (!trusted) this.untrusted = element;
    }
  }

  // At the end of the head.
  decide(): HeadScan {
    if (!this.seenLine) return result('missing');
    if (this.leftmost.kind === 'empty') return result('invalid'); // names nobody
    // Every address trusted: the leftmost is as far as the proxies' word goes.
    return found(this.untrusted.kind !== 'empty' ? this.untrusted : this.leftmost);
  }
}

// The trust list parsed once per rules object: the reader passes the same one for every connection.
const parsedTrust = new WeakMap<HeadRules, CidrSet>();
function trustOf(rules: HeadRules): CidrSet | null {
  if (rules.trusted === undefined) return null;
  let set = parsedTrust.get(rules);
  if (!set) parsedTrust.set(rules, (set = parseCidrList(rules.trusted)));
  return set;
}

// The header name as the addon sees it (UTF-8), kept for the next call: the
// primary asks about the same header on every connection.
let cachedName = '';
let cachedBytes = Buffer.alloc(0);
function headerBytes(headerLower: string): Buffer {
  if (headerLower !== cachedName) {
    cachedName = headerLower;
    cachedBytes = Buffer.from(headerLower, 'utf8');
  }
  return cachedBytes;
}

export function scanHead(head: Buffer, headerLower: string, limit: number, rules: HeadRules = {}): HeadScan {
  // Bytes past the limit are never looked at: the peeker cannot see them, and
  // a reader that happened to receive more must decide the same.
  const len = Math.min(head.length, limit);
  // What to answer when the bytes run out before anything was decided.
  const outOfBytes = (): HeadScan => result(len >= limit ? 'too-large' : 'need-more');
  const notHttp = (): HeadScan => result('not-http');
  let i = 0;

  // Request line: method SP target SP "HTTP/" DIGIT "." DIGIT [CR] LF
  for (let methodLength = 0; ; i++, methodLength++) {
    if (i === len) return outOfBytes();
    if (head[i] === SP && methodLength > 0) break;
    if (!TOKEN[head[i]] || methodLength === MAX_METHOD_LENGTH) return notHttp();
  }
  i++;
  const targetStart = i;
  while (i < len && !TARGET_END[head[i]]) i++;
  if (i === len) return outOfBytes();
  if (head[i] !== SP || i === targetStart) return notHttp();
  i++;
  const version = 'HTTP/#.#'; // '#' is any digit
  for (let k = 0; k < version.length; k++, i++) {
    if (i === len) return outOfBytes();
    const c = head[i];
    const ok = version[k] === '#' ? c >= 0x30 && c <= 0x39 : c === version.charCodeAt(k);
    if (!ok) return notHttp();
  }
  if (i < len && head[i] === CR) i++;
  if (i === len) return outOfBytes();
  if (head[i] !== LF) return notHttp();
  i++;

  const header = headerBytes(headerLower);
  const forwarded = rules.format === 'forwarded';
  const leftmost = rules.pick !== 'rightmost-untrusted';
  const rightmost = leftmost ? null : new RightmostUntrusted(trustOf(rules));
  const headEnd = (): HeadScan => (rightmost ? rightmost.decide() : result('missing'));
  // Header lines, up to the empty line.
  for (;;) {
    if (i < len && head[i] === CR) {
      i++;
      if (i === len) return outOfBytes();
      return head[i] === LF ? headEnd() : notHttp();
    }
    if (i === len) return outOfBytes();
    if (head[i] === LF) return headEnd();

    // Name: one or more token characters, then ':'. Compared with the wanted
    // name only when the lengths are equal.
    const nameStart = i;
    while (i !== len && TOKEN[head[i]]) i++;
    if (i === len) return outOfBytes();
    if (head[i] !== COLON || i === nameStart) return notHttp();
    const matches = i - nameStart === header.length && sameName(head, nameStart, header);
    i++;

    const lineEnd = head.indexOf(LF, i);
    if (lineEnd < 0 || lineEnd >= len) return outOfBytes();
    if (matches) {
      const valueEnd = lineEnd > i && head[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
      if (!rightmost) return found(firstElement(head, i, valueEnd, forwarded));
      rightmost.addLine(head, i, valueEnd, forwarded);
    }
    i = lineEnd + 1;
  }
}
