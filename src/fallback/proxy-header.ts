// Scans the bytes received so far of a connection for a PROXY protocol header,
// version 1 (text) or 2 (binary), the twin of native/proxy_header.cc
// (docs/internals.md "scanProxyHeader"). Reads left to right; the first
// decisive byte ends the scan, so an answer other than 'need-more' never
// changes when more bytes arrive.

import type { ProxyScan, ProxySignature, ProxyStatus } from '../primitives';
import { parseAddressBytes } from '../address';

/** v1: the longest line the spec allows, CRLF included. */
export const PROXY_V1_MAX_LENGTH = 107;
/** v2: 16 + the length field, capped so that a peeking primary needs one bounded buffer. */
export const PROXY_V2_MAX_LENGTH = 4096;

// The bytes a header of each version starts with. Any other first bytes mean
// the connection carries no PROXY header at all.
const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const V2_FIXED_LENGTH = 16; // signature, version/command, family/transport, length

// v2 byte 13: the address family (high nibble) and transport (low nibble);
// 0 is UNSPEC in both.
const FAMILY_INET = 1;
const FAMILY_INET6 = 2;
const FAMILY_UNIX = 3;
const TRANSPORT_STREAM = 1;
const TRANSPORT_DGRAM = 2;
// Bytes of the address block for a stream transport, by family (UNSPEC has none).
const ADDRESS_BLOCK_LENGTH = [0, 12, 36, 216];

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const DOT = 0x2e;
const ZERO = 0x30;

const enum Step {
  Ok,
  OutOfBytes,
  Mismatch,
}

function result(status: ProxyStatus): ProxyScan {
  return { status, headerLength: 0, source: null, sourcePort: 0, destination: null, destinationPort: 0, family: 0 };
}

function local(headerLength: number): ProxyScan {
  return { ...result('local'), headerLength };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

// A cursor over the bytes, so that a match can advance it past what matched.
interface Cursor {
  i: number;
}

function match(buf: Buffer, at: Cursor, limit: number, bytes: Uint8Array): Step {
  for (let k = 0; k < bytes.length; k++, at.i++) {
    if (at.i === limit) return Step.OutOfBytes;
    if (buf[at.i] !== bytes[k]) return Step.Mismatch;
  }
  return Step.Ok;
}

// What a v1 field may hold. Any other byte than these and the field's
// delimiter makes the line malformed right there.
const enum V1Field {
  Ipv4,
  Ipv6,
  Port,
}

function fitsField(kind: V1Field, c: number): boolean {
  switch (kind) {
    case V1Field.Ipv4:
      return isDigit(c) || c === DOT;
    case V1Field.Ipv6:
      return isHex(c) || c === COLON || c === DOT;
    case V1Field.Port:
      return isDigit(c);
  }
}

interface Field {
  step: Step;
  start: number;
  /** The delimiter's position when step is Ok. */
  end: number;
}

function readField(buf: Buffer, i: number, limit: number, kind: V1Field, delimiter: number): Field {
  const start = i;
  for (; i < limit; i++) {
    if (buf[i] === delimiter) return { step: Step.Ok, start, end: i };
    if (!fitsField(kind, buf[i])) return { step: Step.Mismatch, start, end: i };
  }
  return { step: Step.OutOfBytes, start, end: i };
}

// A v1 address in the header's family. parseAddressBytes reads the text, after
// the checks it does not make: the spec forbids leading zeros in a dotted quad
// (parseAddressBytes reads "010" as ten), and an IPv6 field must be IPv6 text,
// which rules out "a.b.c.d" and "a.b.c.d:port" (parseAddressBytes accepts
// both). The field's characters (fitsField) already exclude brackets, zone ids
// and spaces.
function parseV1Address(buf: Buffer, start: number, end: number, ipv6: boolean, out: Buffer): boolean {
  let dotted = start; // where the dotted quad may start: all of IPv4, after the last ':' of IPv6
  if (ipv6) {
    let colon = false;
    for (let k = start; k < end; k++) {
      if (buf[k] === COLON) {
        colon = true;
        dotted = k + 1;
      }
    }
    if (!colon) return false;
    for (let k = start; k < dotted; k++) {
      if (buf[k] === DOT) return false;
    }
  }
  let hasDot = false;
  for (let k = dotted; k < end; k++) hasDot = hasDot || buf[k] === DOT;
  if (hasDot) {
    for (let k = dotted; k + 1 < end; k++) {
      const partStart = k === dotted || buf[k - 1] === DOT;
      if (partStart && buf[k] === ZERO && buf[k + 1] !== DOT) return false;
    }
  }
  return parseAddressBytes(buf, start, end, out);
}

// 1..5 decimal digits (fitsField checked them) without a leading zero, at most 65535; -1 otherwise.
function parsePort(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  if (len === 0 || len > 5 || (len > 1 && buf[start] === ZERO)) return -1;
  let value = 0;
  for (let k = start; k < end; k++) value = value * 10 + (buf[k] - ZERO);
  return value > 65535 ? -1 : value;
}

const UNKNOWN = Buffer.from('UNKNOWN', 'latin1');
const TCP = Buffer.from('TCP', 'latin1');

// After "PROXY ": "TCP4 " or "TCP6 ", source, destination, ports, CRLF; or
// "UNKNOWN", then either CRLF or a space and anything up to the first CR.
function scanV1(buf: Buffer): ProxyScan {
  const len = buf.length;
  // The line must end within its first 107 bytes, so they decide everything,
  // and running out of them without an answer is malformed.
  const limit = Math.min(len, PROXY_V1_MAX_LENGTH);
  const outOfBytes = (): ProxyScan => result(len >= PROXY_V1_MAX_LENGTH ? 'malformed' : 'need-more');
  const malformed = (): ProxyScan => result('malformed');
  const failed = (step: Step): ProxyScan => (step === Step.OutOfBytes ? outOfBytes() : malformed());
  const at: Cursor = { i: V1_SIGNATURE.length };

  if (at.i === limit) return outOfBytes();
  if (buf[at.i] === 0x55 /* U */) {
    const step = match(buf, at, limit, UNKNOWN);
    if (step !== Step.Ok) return failed(step);
    let i = at.i;
    if (i === limit) return outOfBytes();
    if (buf[i] === SP) {
      // The receiver ignores the rest of an UNKNOWN line; a bare LF still
      // cannot be inside a line.
      for (i++; i < limit && buf[i] !== CR; i++) {
        if (buf[i] === LF) return malformed();
      }
      if (i === limit) return outOfBytes();
    } else if (buf[i] !== CR) {
      return malformed();
    }
    i++;
    if (i === limit) return outOfBytes();
    return buf[i] === LF ? local(i + 1) : malformed();
  }

  const step = match(buf, at, limit, TCP);
  if (step !== Step.Ok) return failed(step);
  let i = at.i;
  if (i === limit) return outOfBytes();
  if (buf[i] !== 0x34 /* 4 */ && buf[i] !== 0x36 /* 6 */) return malformed();
  const ipv6 = buf[i] === 0x36;
  i++;
  if (i === limit) return outOfBytes();
  if (buf[i] !== SP) return malformed();
  i++;

  const addressKind = ipv6 ? V1Field.Ipv6 : V1Field.Ipv4;
  const source = Buffer.alloc(16);
  const destination = Buffer.alloc(16);

  let field = readField(buf, i, limit, addressKind, SP);
  if (field.step !== Step.Ok) return failed(field.step);
  if (!parseV1Address(buf, field.start, field.end, ipv6, source)) return malformed();

  field = readField(buf, field.end + 1, limit, addressKind, SP);
  if (field.step !== Step.Ok) return failed(field.step);
  if (!parseV1Address(buf, field.start, field.end, ipv6, destination)) return malformed();

  field = readField(buf, field.end + 1, limit, V1Field.Port, SP);
  if (field.step !== Step.Ok) return failed(field.step);
  const sourcePort = parsePort(buf, field.start, field.end);
  if (sourcePort < 0) return malformed();

  field = readField(buf, field.end + 1, limit, V1Field.Port, CR);
  if (field.step !== Step.Ok) return failed(field.step);
  const destinationPort = parsePort(buf, field.start, field.end);
  if (destinationPort < 0) return malformed();

  i = field.end + 1;
  if (i === limit) return outOfBytes();
  if (buf[i] !== LF) return malformed();
  return { status: 'found', headerLength: i + 1, source, sourcePort, destination, destinationPort, family: ipv6 ? 6 : 4 };
}

// TLVs after the address block must tile the rest of the header exactly:
// each a type byte, a two-byte length and that many value bytes.
function tlvsFit(buf: Buffer, i: number, end: number): boolean {
  while (i < end) {
    if (end - i < 3) return false;
    const valueLength = buf.readUInt16BE(i + 1);
    if (end - i - 3 < valueLength) return false;
    i += 3 + valueLength;
  }
  return true;
}

// After the 12-byte signature. Each fixed byte is judged as soon as it
// arrives; the header as a whole once all of its bytes have.
function scanV2(buf: Buffer): ProxyScan {
  const len = buf.length;
  if (len < 13) return result('need-more');
  // Version 2 only; command LOCAL (0) or PROXY (1).
  if ((buf[12] >> 4) !== 2 || (buf[12] & 0x0f) > 1) return result('malformed');
  const proxyCommand = (buf[12] & 0x0f) === 1;

  if (len < 14) return result('need-more');
  const family = buf[13] >> 4;
  const transport = buf[13] & 0x0f;
  let addressLength = 0; // the address block this header must hold
  // LOCAL ignores the family byte altogether, as the spec says.
  if (proxyCommand) {
    if (family > FAMILY_UNIX || transport > TRANSPORT_DGRAM) return result('malformed');
    // Our listener is TCP: a proxied datagram flow cannot be this connection.
    if (transport === TRANSPORT_DGRAM) return result('malformed');
    if (transport === TRANSPORT_STREAM) addressLength = ADDRESS_BLOCK_LENGTH[family];
  }

  if (len < V2_FIXED_LENGTH) return result('need-more');
  const headerLength = V2_FIXED_LENGTH + buf.readUInt16BE(14);
  if (headerLength > PROXY_V2_MAX_LENGTH || headerLength < V2_FIXED_LENGTH + addressLength) {
    return result('malformed');
  }

  if (len < headerLength) return result('need-more');
  if (addressLength > 0 && !tlvsFit(buf, V2_FIXED_LENGTH + addressLength, headerLength)) return result('malformed');
  // LOCAL, an UNSPEC family or transport, and AF_UNIX carry no IP address:
  // the caller routes by the peer.
  const hasIp = proxyCommand && transport === TRANSPORT_STREAM && (family === FAMILY_INET || family === FAMILY_INET6);
  if (!hasIp) return local(headerLength);

  const source = Buffer.alloc(16);
  const destination = Buffer.alloc(16);
  let block = V2_FIXED_LENGTH;
  if (family === FAMILY_INET) {
    source[10] = source[11] = 0xff;
    destination[10] = destination[11] = 0xff;
    buf.copy(source, 12, block, block + 4);
    buf.copy(destination, 12, block + 4, block + 8);
    block += 8;
  } else {
    buf.copy(source, 0, block, block + 16);
    buf.copy(destination, 0, block + 16, block + 32);
    block += 32;
  }
  return {
    status: 'found',
    headerLength,
    source,
    sourcePort: buf.readUInt16BE(block),
    destination,
    destinationPort: buf.readUInt16BE(block + 2),
    family: family === FAMILY_INET ? 4 : 6,
  };
}

/**
 * The signature the first bytes start with, which is all a peer not allowed
 * to send a header needs to be judged by: 'none' as soon as they cannot start
 * either signature (scanProxyHeader then says 'not-proxy'), 'v1' once they
 * hold "PROXY ", 'v2' once they hold its 12 bytes. Decided answers never change.
 */
export function proxySignature(buf: Buffer): ProxySignature {
  if (buf.length === 0) return 'need-more';
  // The two signatures differ in their first byte.
  const v1 = buf[0] === V1_SIGNATURE[0];
  const v2 = buf[0] === V2_SIGNATURE[0];
  if (!v1 && !v2) return 'none';
  switch (match(buf, { i: 0 }, buf.length, v1 ? V1_SIGNATURE : V2_SIGNATURE)) {
    case Step.OutOfBytes:
      return 'need-more';
    case Step.Mismatch:
      return 'none';
    default:
      return v1 ? 'v1' : 'v2';
  }
}

export function scanProxyHeader(buf: Buffer): ProxyScan {
  switch (proxySignature(buf)) {
    case 'need-more':
      return result('need-more');
    case 'none':
      return result('not-proxy');
    case 'v1':
      return scanV1(buf);
    case 'v2':
      return scanV2(buf);
  }
}
