/**
 * Every Redis key and channel Casusbord uses, in one place, under one prefix per environment or
 * test run, so two deployments (or two test files) never share a key by accident.
 */
export function redisKeys(prefix: string) {
  const k = (...parts: string[]): string => [prefix, ...parts].join(':');
  return {
    caseEvents: (caseId: string) => k('case', caseId, 'events'),
    cases: k('cases'),
    orgs: k('orgs'),
    users: k('users'),
    usernames: k('usernames'),
    tables: k('tables'),
    meetings: k('meetings'),
    /** The meetings with a room recorded (a set), and each one's people (a set). */
    meetingRooms: k('meeting-rooms'),
    meetingRoom: (meetingId: string) => k('meeting-room', meetingId),
    /** Per meeting, how many times its room changed. */
    meetingRoomVersions: k('meeting-room-versions'),
    session: (idHash: string) => k('session', idHash),
    userSessions: (userId: string) => k('user-sessions', userId),
    /** A login bucket's failures (hash: count, firstAt, lastAt); expires with its window. */
    loginThrottle: (key: string) => k('login-throttle', key),
    /** A device known to an account (sha256 of its cookie): until when, in the store's clock. */
    loginDevice: (userId: string, deviceHash: string) => k('login-device', userId, deviceHash),
    /** The access log: runs of records as groups (`g<seq>`, redisAccess.ts), and per case and per user the groups' names. */
    accessSeq: k('audit', 'seq'),
    accessRecords: k('audit', 'records'),
    accessByCase: (caseId: string) => k('audit', 'case', caseId),
    accessByUser: (userId: string) => k('audit', 'user', userId),
    /** A user's committed command and its answer (P-ONCE): "<until> <answer>", expiring with its keep. */
    commandAnswer: (userId: string, commandId: string) => k('command', userId, commandId),
    doc: (docId: string) => k('doc', docId),
    meta: k('meta'),
    /** Seals over the access log and the case logs (audit/chain.ts), by number. */
    seals: k('seals'),
    /** R-RETAIN: purge markers, by case (audit/chain.ts). */
    purges: k('purges'),
    /** The house's registers, by kind: a hash of records by id. */
    register: (kind: string) => k('register', kind),
    /** Pub/sub: "a case log grew" and collaborative-text relays between processes. */
    caseChannel: k('chan', 'case'),
    docChannel: (docId: string) => k('chan', 'doc', docId),
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
