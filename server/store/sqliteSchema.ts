import type Database from 'better-sqlite3';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  case_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL,
  at TEXT NOT NULL, actor_user TEXT NOT NULL, actor_org TEXT NOT NULL,
  PRIMARY KEY (case_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orgs (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tables_ (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meetings (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meeting_rooms (meeting_id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS login_throttle (key TEXT PRIMARY KEY, count INTEGER NOT NULL, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS login_throttle_expiry ON login_throttle (expires_at);
CREATE TABLE IF NOT EXISTS login_devices (user_id TEXT NOT NULL, device_hash TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (user_id, device_hash)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS login_devices_expiry ON login_devices (expires_at);
CREATE TABLE IF NOT EXISTS access_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL, operation TEXT NOT NULL,
  case_id TEXT, item_id TEXT, user_id TEXT, org_id TEXT, role TEXT NOT NULL, purpose TEXT NOT NULL,
  address TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access_case_blocks (case_id TEXT NOT NULL, block INTEGER NOT NULL, PRIMARY KEY (case_id, block)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_user_blocks (user_id TEXT NOT NULL, block INTEGER NOT NULL, PRIMARY KEY (user_id, block)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seals (n INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS purges (case_id TEXT PRIMARY KEY, marker TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS register (kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS command_answers (user_id TEXT NOT NULL, command_id TEXT NOT NULL, answer TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (user_id, command_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS command_answers_expiry ON command_answers (expires_at);
CREATE TABLE IF NOT EXISTS doc_snapshots (doc_id TEXT PRIMARY KEY, version INTEGER NOT NULL, state BLOB NOT NULL);
`;

/**
 * The access log is read per case and per person through block indexes: which blocks of
 * ACCESS_BLOCK_ROWS consecutive records hold a record of that case (or person). A read of a case
 * scans only those blocks. An index entry per record would put every batch of read records into
 * as many index pages as it had cases and people: at 500 commands/s over 500 cases, most of the
 * pages the log writes and fsyncs. A block entry is written once per case per block; for every
 * other record the lookup finds it present and writes nothing.
 */
export const ACCESS_BLOCK_ROWS = 4096;

/** Both connections (the reader on the main thread, the writer in its thread) open the file alike. */
export function configure(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  // FULL: a command is acknowledged only once its events survive a crash or power loss.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  // Once checkpointed, a log that grew in a burst is cut back instead of kept at its largest.
  db.pragma('journal_size_limit = 67108864');
  // Each op of a batch runs in a savepoint; its journal of the pages it changes spilled to a
  // temporary file past 64 KiB (a batch of read records reaches that), a write held up whenever
  // the disk was busy. In memory it costs a copy of those pages, freed at commit.
  db.pragma('temp_store = MEMORY');
  // R-RETAIN: what is deleted is overwritten with zeros, not left in free pages to be read back.
  db.pragma('secure_delete = ON');
}
