import type Database from 'better-sqlite3';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  case_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL,
  at TEXT NOT NULL, actor_user TEXT NOT NULL, actor_org TEXT NOT NULL,
  PRIMARY KEY (case_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orgs (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tables_ (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS login_failures (key TEXT PRIMARY KEY, count INTEGER NOT NULL, locked_until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS access_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL, operation TEXT NOT NULL,
  case_id TEXT, item_id TEXT, user_id TEXT, org_id TEXT, role TEXT NOT NULL, purpose TEXT NOT NULL,
  address TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS access_case ON access_log (case_id, seq);
CREATE INDEX IF NOT EXISTS access_user ON access_log (user_id, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doc_updates (doc_id TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT, update_bytes BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS doc_updates_doc ON doc_updates (doc_id, seq);
`;

/** Both connections (the reader on the main thread, the writer in its thread) open the file alike. */
export function configure(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  // FULL: a command is acknowledged only once its events survive a crash or power loss.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  // Once checkpointed, a log that grew in a burst is cut back instead of kept at its largest.
  db.pragma('journal_size_limit = 67108864');
}
