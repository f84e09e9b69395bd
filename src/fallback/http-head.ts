// Scans the bytes received so far of an HTTP/1.x request head for the first
// line of one header, the twin of native/http_head.cc (docs/internals.md
// "scanHead"). Reads left to right; the first decisive byte ends the scan.

import type { HeadScan, HeadStatus } from '../primitives';
import { parseAddressBytes } from './address';

export type { HeadScan, HeadStatus };

const MAX_METHOD_LENGTH = 20;
const SP = 0x20;
const HTAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const COMMA = 0x2c;

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

// Leftmost element of a header value: OWS trimmed, cut at the first ',',
// trimmed again. [start, end) excludes the LF and the CR before it.
function decideValue(head: Buffer, start: number, end: number): HeadScan {
  while (start < end && isOws(head[start])) start++;
  const comma = head.indexOf(COMMA, start);
  if (comma >= 0 && comma < end) end = comma;
  while (end > start && isOws(head[end - 1])) end--;
  const address = Buffer.alloc(16);
  return parseAddressBytes(head, start, end, address) ? { status: 'found', address } : result('invalid');
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

export function scanHead(head: Buffer, headerLower: string, limit: number): HeadScan {
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
  // Header lines, up to the empty line.
  for (;;) {
    if (i < len && head[i] === CR) {
      i++;
      if (i === len) return outOfBytes();
      return head[i] === LF ? result('missing') : notHttp();
    }
    if (i === len) return outOfBytes();
    if (head[i] === LF) return result('missing');

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
      return decideValue(head, i, valueEnd);
    }
    i = lineEnd + 1;
  }
}
