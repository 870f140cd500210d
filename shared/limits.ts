// One place for every bound: the UI, the zod schemas and the transport caps read these.
export const MAX_ITEM_TEXT_CHARS = 8_000;
export const MAX_CASE_TITLE_CHARS = 120;
export const MAX_SUBJECT_NOTE_CHARS = 500;
export const MAX_GOAL_CHARS = 2_000;
export const MAX_GROUND_CHARS = 1_000;
export const MAX_PARTICIPANTS_PER_CASE = 30;
export const MAX_PEOPLE_PER_PARTICIPANT = 25;
export const MAX_ITEMS_PER_CASE = 5_000;
export const MAX_NAME_CHARS = 120;
export const MAX_SHORT_NAME_CHARS = 24;
export const MAX_TABLE_DESCRIPTION_CHARS = 500;
export const MAX_USERNAME_CHARS = 64;
export const MIN_PASSWORD_CHARS = 10;
export const MAX_PASSWORD_CHARS = 256;
/** Largest socket or HTTP message the server buffers before parsing. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_LOCK_MS = 15 * 60 * 1000;
export const SESSION_IDLE_MS = 2 * 60 * 60 * 1000;
/** However active, a session ends after a working day. */
export const SESSION_MAX_AGE_MS = 12 * 60 * 60 * 1000;
/** How often live sockets are checked against their session. */
export const SESSION_CHECK_EVERY_MS = 60 * 1000;
/** Commands one socket may send per second before it is told to slow down. */
export const MAX_COMMANDS_PER_SECOND = 50;
export const MAX_PURPOSE_CHARS = 1_000;
export const MAX_REASON_CHARS = 1_000;
export const MAX_DECISION_CHARS = 2_000;
/** Items one consent request or one intervention may name. */
export const MAX_ITEMS_PER_REQUEST = 100;
/** Collaborative text (Yjs): one update, and a whole document, as the server accepts them. */
export const MAX_DOC_UPDATE_BYTES = 64 * 1024;
export const MAX_DOC_BYTES = 512 * 1024;
/** Stored updates of one document before they are merged into one. */
export const DOC_COMPACT_AFTER_UPDATES = 200;
/** Keystrokes within this window count as one editing burst in the access log. */
export const EDIT_BURST_MS = 5_000;
/** Presence changes within this window go out as one update per case. */
export const PRESENCE_COALESCE_MS = 50;
/** How long a start waits for each Redis (REDIS_URL, REDIS_BUS_URL) to answer before it stops, naming it. */
export const REDIS_START_TIMEOUT_MS = 5_000;
