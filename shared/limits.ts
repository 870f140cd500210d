// One place for every bound: the UI, the zod schemas and the transport caps read these.
export const MAX_ITEM_TEXT_CHARS = 8_000;
export const MAX_CASE_TITLE_CHARS = 120;
export const MAX_SUBJECT_NOTE_CHARS = 500;
/**
 * R-RETAIN: days a closed case is kept before it is purged, counted from its closing day, unless
 * the house configures its own (RETENTION_DAYS): two years.
 */
export const DEFAULT_RETENTION_DAYS = 730;

/** The persons a case concerns (a family case has several). */
export const MAX_PERSONS_PER_CASE = 12;
export const MAX_PERSON_NAME_CHARS = 120;
export const MAX_GOAL_CHARS = 2_000;
export const MAX_GROUND_CHARS = 1_000;
export const MAX_PARTICIPANTS_PER_CASE = 30;
export const MAX_PEOPLE_PER_PARTICIPANT = 25;
export const MAX_ITEMS_PER_CASE = 5_000;
export const MAX_NAME_CHARS = 120;
export const MAX_SHORT_NAME_CHARS = 24;
export const MAX_TABLE_DESCRIPTION_CHARS = 500;
export const MAX_PLACE_CHARS = 200;
export const MAX_URL_CHARS = 500;
/** Slots of one case across meetings: a case discussed monthly for years stays well under. */
export const MAX_AGENDA_ENTRIES_PER_CASE = 200;
/** How often each process ends what still runs in meetings whose day has passed (and once at start). */
export const MEETING_SWEEP_MS = 60_000;
export const MAX_USERNAME_CHARS = 64;
export const MIN_PASSWORD_CHARS = 10;
export const MAX_PASSWORD_CHARS = 256;
/** Largest socket or HTTP message the server buffers before parsing. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * How failed logins are slowed down (OWASP ASVS 2.2.1, NIST SP 800-63B §5.2.2). A bucket counts
 * failures from its first one for `windowMs`, then forgets them. Past `freeFailures`, the next
 * attempt waits `firstDelayMs` after the last failure, doubling with each further failure up to
 * `maxDelayMs`; at `maxFailures` nothing more is tried until the window ends. A refused attempt
 * is not counted, and no password is checked for it.
 */
export interface LoginThrottlePolicy {
  freeFailures: number;
  firstDelayMs: number;
  maxDelayMs: number;
  /** Absent: the bucket only slows attempts down, it never stops them. */
  maxFailures?: number;
  windowMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * One account, tried from any device that never logged in to it. Five typos cost nothing; then
 * 1 s, 2 s, 4 s … up to 15 minutes a guess: the 100th failure comes after some 22 hours, and
 * then guessing stops for the rest of the 30 days. That is the bound NIST sets (at most 100
 * failures) and far below ASVS's 100 an hour. Shared by a stranger and the owner's new devices,
 * so the owner's known devices do not use it (LOGIN_THROTTLE_DEVICE).
 */
export const LOGIN_THROTTLE_ACCOUNT: LoginThrottlePolicy = {
  freeFailures: 5,
  firstDelayMs: 1_000,
  maxDelayMs: 15 * 60 * 1000,
  maxFailures: 100,
  windowMs: 30 * DAY_MS,
};
/**
 * One account on one device that logged in to it before: throttled by its own failures only, so
 * a stranger's guesses never keep the owner out. The same numbers: its holder may be a thief.
 */
export const LOGIN_THROTTLE_DEVICE: LoginThrottlePolicy = LOGIN_THROTTLE_ACCOUNT;
/**
 * One network address (an IPv6 /64), over every account, for devices it does not know: it slows
 * down password spraying without a cap, since an office of fifty behind one NAT shares it. A
 * hundred failures an hour cost nothing (every one of them mistyping twice), then 1 s doubling
 * to a minute a guess.
 */
export const LOGIN_THROTTLE_ADDRESS: LoginThrottlePolicy = {
  freeFailures: 100,
  firstDelayMs: 1_000,
  maxDelayMs: 60 * 1000,
  windowMs: 60 * 60 * 1000,
};
/**
 * A device stays known to an account this long after its last login there: a partner who joins
 * a meeting each quarter keeps it.
 */
export const LOGIN_DEVICE_TRUST_MS = 180 * DAY_MS;
export const SESSION_IDLE_MS = 2 * 60 * 60 * 1000;
/** However active, a session ends after a working day. */
export const SESSION_MAX_AGE_MS = 12 * 60 * 60 * 1000;
/** How often live sockets are checked against their session. */
export const SESSION_CHECK_EVERY_MS = 60 * 1000;
/**
 * How long the answer of a committed command stays known by its command id (P-ONCE): a retry
 * within it is answered as the first time, not run again. A client resolves an unknown outcome
 * within COMMAND_RESOLVE_MS; the rest is room for a long outage, a laptop asleep.
 */
export const COMMAND_ANSWER_KEEP_MS = DAY_MS;
/** How long a client keeps resending a command whose outcome it does not know before it gives up and says so. */
export const COMMAND_RESOLVE_MS = 5 * 60 * 1000;
/** Commands one socket may send per second before it is told to slow down. */
export const MAX_COMMANDS_PER_SECOND = 50;
export const MAX_PURPOSE_CHARS = 1_000;
export const MAX_REASON_CHARS = 1_000;
export const MAX_DECISION_CHARS = 2_000;
/** Items one consent request or one intervention may name. */
export const MAX_ITEMS_PER_REQUEST = 100;
/** Collaborative text (Yjs): one update, and a whole document, as the server accepts them. */
export const MAX_DOC_UPDATE_BYTES = 64 * 1024;
export const MAX_DOC_BYTES = 2 * 1024 * 1024;
/** Minutes of one meeting: about fifty pages, more than a long afternoon needs. */
export const MAX_MINUTES_CHARS = 150_000;
/**
 * The server sends every co-editing connection a ping and a message this often: a lone writer
 * hears nothing else, and y-websocket reconnects after 30 s of silence. A peer that did not answer
 * the previous ping is cut off.
 */
export const COLLAB_KEEPALIVE_MS = 10_000;
/** Awareness client ids one co-editing connection may speak for (a browser tab uses one). */
export const MAX_CURSOR_IDS_PER_CONNECTION = 4;
/** Messages a co-editing connection may send before its document has loaded. */
export const MAX_COLLAB_MESSAGES_BEFORE_OPEN = 64;
/**
 * What one co-editing connection may write: updates a second (a fast typist sends one per key,
 * some 10–30) and bytes a second (a paste is at most MAX_DOC_UPDATE_BYTES), each with a burst of
 * four times that. Every update becomes an entry of the case log for good: past this, updates
 * wait, merged into one, until the budget allows one more.
 */
export const COLLAB_UPDATES_PER_S = 50;
export const COLLAB_UPDATE_BYTES_PER_S = MAX_DOC_UPDATE_BYTES;
/** Updates waiting for one case's next append, over all its writers: past this, a writer is told to come back (1013). */
export const MAX_DOC_UPDATES_WAITING = 2_000;
export const MAX_DOC_BYTES_WAITING = 4 * 1024 * 1024;
/** Entries of one document after its snapshot before a new snapshot is stored. */
export const DOC_COMPACT_AFTER_UPDATES = 200;
/** Keystrokes within this window count as one editing burst in the access log. */
export const EDIT_BURST_MS = 5_000;
/** Presence changes within this window go out as one update per case. */
export const PRESENCE_COALESCE_MS = 50;
/** Each process tells the others everything it has open this often; one silent for three times as long has stopped. */
export const PRESENCE_REFRESH_MS = 15_000;
/** How long a start waits for each Redis (REDIS_URL, REDIS_BUS_URL) to answer before it stops, naming it. */
export const REDIS_START_TIMEOUT_MS = 5_000;
/**
 * A call to the Redis store without an answer this long is answered UNAVAILABLE, and the store
 * counts as unavailable: later calls are refused at once, until a probe is answered again.
 */
export const STORE_UNAVAILABLE_AFTER_MS = 3_000;
/** Each Redis (store, bus) is sent a PING this often: readiness follows a hang, a restart or loading. */
export const REDIS_PROBE_EVERY_MS = 500;
/** One error repeated (a Redis away: every reconnect fails alike) is logged again at most this often, with its count. */
export const REPEATED_ERROR_LOG_EVERY_MS = 10_000;
/** The Retry-After of an UNAVAILABLE answer; a client waits at most this long between tries. */
export const UNAVAILABLE_RETRY_AFTER_MS = 5_000;
/** A client's first wait after an UNAVAILABLE answer; it doubles up to UNAVAILABLE_RETRY_AFTER_MS. */
export const UNAVAILABLE_FIRST_RETRY_MS = 1_000;
/**
 * With several processes, each reads every case's log past what it holds this often: a commit
 * notice lost on the way (a publish that failed) is otherwise made up only by the case's next one,
 * which may never come. Bounds how long a process can lag the log after such a loss.
 */
export const CLUSTER_CATCHUP_EVERY_MS = 5_000;
/** Access records that could not be written are tried again this often. */
export const ACCESS_LOG_RETRY_MS = 500;
/**
 * Access records kept in memory while they cannot be written. Reads are refused meanwhile, so
 * only refusals, logins and admin acts add to them; past this, the oldest are given up, logged.
 */
export const MAX_ACCESS_BACKLOG_RECORDS = 100_000;

/** People recorded in one meeting's room: a full table and its guests. */
export const MAX_ROOM_PEOPLE = 100;
