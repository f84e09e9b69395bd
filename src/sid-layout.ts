// The layout of the session ids src/session-id.ts mints, read back by
// native/sid.h and src/fallback/sid.ts: index | random | tag.

export const SID_INDEX_BYTES = 2;
export const SID_RANDOM_BYTES = 10;
export const SID_TAG_BYTES = 6;
/** The id's length in base64url characters (18 bytes: no padding). */
export const SID_TEXT_LENGTH = ((SID_INDEX_BYTES + SID_RANDOM_BYTES + SID_TAG_BYTES) / 3) * 4;
