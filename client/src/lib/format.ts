import type { CaseRole, ConsentKind, InformingStatus, Phase, UserRole } from '../../../shared/domain.js';
import { addDays, houseDay } from '../../../shared/day.js';

export const PHASE_LABEL: Record<Phase, string> = {
  beeldvorming: 'Beeldvorming',
  oordelen: 'Oordelen',
  besluiten: 'Besluiten',
};

export const PHASE_HINT: Record<Phase, string> = {
  beeldvorming: 'Wat is er aan de hand?',
  oordelen: 'Welke interventies zijn mogelijk en wenselijk?',
  besluiten: 'Welke aanpak spreken we af?',
};

export const ROLE_LABEL: Record<CaseRole, string> = {
  voorzitter: 'Voorzitter',
  aanmelder: 'Aanmelder',
  deelnemer: 'Deelnemer',
};

export const USER_ROLE_LABEL: Record<UserRole, string> = {
  chair: 'Procesregisseur',
  admin: 'Beheerder',
  privacy: 'Privacyfunctionaris',
};

export const INFORMING_STATUS_LABEL: Record<InformingStatus, string> = {
  open: 'Open',
  done: 'Gedaan',
  postponed: 'Uitgesteld',
};

export const CONSENT_KIND_LABEL: Record<ConsentKind, string> = {
  reuse: 'Hergebruik',
  takehome: 'Mee naar huis',
  goal: 'Doelwijziging',
};

/** The start of a partner's text, on one line, for lists that point at an item. */
export function excerpt(text: string, max = 90): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`;
}

const listFormat = new Intl.ListFormat('nl-NL', { type: 'conjunction' });

/** "GGZ, OM en Politie". */
export const listNl = (parts: readonly string[]): string => listFormat.format(parts);

/** "1 vraag" / "3 vragen". */
export const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

const dateTime = new Intl.DateTimeFormat('nl-NL', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
const timeOnly = new Intl.DateTimeFormat('nl-NL', { hour: '2-digit', minute: '2-digit' });
const dateLong = new Intl.DateTimeFormat('nl-NL', { day: 'numeric', month: 'long', year: 'numeric' });

/**
 * Today as YYYY-MM-DD in the house's time zone, as the server counts meeting days: a laptop set to
 * another zone must not see this afternoon's meeting as tomorrow's.
 */
export const todayYmd = (): string => houseDay();

/** The house's day `days` after the one `from` falls on. */
export const addDaysYmd = (days: number, from = new Date()): string => addDays(houseDay(0, from), days);

/** A calendar date (YYYY-MM-DD) as a local date, without a time-zone shift. */
function parseYmd(ymd: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(ymd);
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null;
}

export function formatDate(ymd: string | null): string {
  if (!ymd) return '—';
  const d = parseYmd(ymd);
  return d ? dateLong.format(d) : ymd;
}

/** "vandaag 14:05" or "3 mrt 2025 14:05". */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return houseDay(0, d) === todayYmd() ? `vandaag ${timeOnly.format(d)}` : dateTime.format(d);
}

/** A calendar date that has passed (the day itself still counts as in time). */
export function isPast(ymd: string | null): boolean {
  return ymd !== null && ymd.slice(0, 10) < todayYmd();
}

export function daysBetween(fromYmd: string, toYmd: string): number {
  const a = parseYmd(fromYmd);
  const b = parseYmd(toYmd);
  return a && b ? Math.round((b.getTime() - a.getTime()) / 86_400_000) : 0;
}

const weekday = new Intl.DateTimeFormat('nl-NL', { weekday: 'long', day: 'numeric', month: 'long' });

/** A meeting's day: "vandaag", "morgen" or "dinsdag 8 december". */
export function formatMeetingDay(ymd: string): string {
  if (ymd === todayYmd()) return 'vandaag';
  if (ymd === addDaysYmd(1)) return 'morgen';
  const d = parseYmd(ymd);
  return d ? weekday.format(d) : ymd;
}

export const AGENDA_STATE_LABEL = { planned: 'Gepland', running: 'Nu in bespreking', done: 'Besproken' } as const;
