import { AccessRow } from './rows.js';
import type { AccessRecord } from './types.js';

/**
 * The Redis layout of the access log. Records come in runs that share their moment and action
 * (a delivery: one case, one item, several viewers; a case list: one user, many cases), so a run
 * is kept as one group: the shared fields once, then per record only the fields that differ.
 * A group is one hash field, `g<seq>`, and each case and user list holds the group's name once.
 * Five thousand people connecting write half a million case-list reads; kept a record at a time
 * they filled Redis, and its append-only file, several times faster.
 */

const HEAD = ['at', 'action', 'operation', 'purpose', 'outcome'] as const;
const ROW = ['caseId', 'itemId', 'userId', 'orgId', 'role', 'address'] as const;
/** In a group's shared row: "this field differs per record" (every real value is a string or null). */
const VARIES = 0;

type Head = Pick<AccessRecord, (typeof HEAD)[number]>;
type RowValue = AccessRecord[(typeof ROW)[number]];

export interface AccessGroup {
  /** [at, action, operation, purpose, outcome, shared row, rows of the varying fields]. */
  packed: string;
  records: AccessRecord[];
}

const sameHead = (a: Head, b: Head): boolean => HEAD.every((f) => a[f] === b[f]);

/** Splits records into runs that share their head fields, in order, and packs each. */
export function groupAccess(records: readonly AccessRecord[]): AccessGroup[] {
  const runs: AccessRecord[][] = [];
  for (const r of records) {
    const run = runs.at(-1);
    if (run && sameHead(run[0]!, r)) run.push(r);
    else runs.push([r]);
  }
  return runs.map((run) => {
    const first = run[0]!;
    const shared: (RowValue | typeof VARIES)[] = ROW.map((f) => (run.every((r) => r[f] === first[f]) ? first[f] : VARIES));
    const rows = run.map((r) => ROW.filter((_, i) => shared[i] === VARIES).map((f) => r[f]));
    return { packed: JSON.stringify([...HEAD.map((f) => first[f]), shared, rows]), records: run };
  });
}

/** The records of a group, from its stored text. */
export function unpackAccess(json: string): AccessRecord[] {
  const values = JSON.parse(json) as unknown[];
  const head = Object.fromEntries(HEAD.map((f, i) => [f, values[i]]));
  const shared = values[HEAD.length] as unknown[];
  const rows = values[HEAD.length + 1] as unknown[][];
  return rows.map((row) => {
    let next = 0;
    const fields = Object.fromEntries(ROW.map((f, i) => [f, shared[i] === VARIES ? row[next++] : shared[i]]));
    return AccessRow.parse({ ...head, ...fields }) as AccessRecord;
  });
}
