import type { CaseMetaView } from '../../../shared/protocol.js';

/** R-RETAIN: a closed case is kept as it is: nothing on it is changed any more, but a later purge day. */
export const isOpenCase = (meta: CaseMetaView | null | undefined): boolean => meta?.closure === null;

/** The chair's controls on a case that is still open. */
export const chairActs = (meta: CaseMetaView): boolean => meta.iAmChair && isOpenCase(meta);
