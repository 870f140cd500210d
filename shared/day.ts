/** The house's local day, `days` from today (YYYY-MM-DD): meetings are planned by the day in the Netherlands. */
export function houseDay(days = 0, now = new Date()): string {
  const d = new Date(now.getTime() + days * 86_400_000);
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Amsterdam', year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

/** The instant (ISO, UTC) the house's day `ymd` begins: midnight in the Netherlands, summer time or not. */
export function houseMidnight(ymd: string): string {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const utcMidnight = Date.UTC(y, m - 1, d);
  // The Netherlands is one or two hours ahead of UTC: its midnight is one of these two instants.
  for (const hours of [1, 2]) {
    const t = new Date(utcMidnight - hours * 3_600_000);
    const local = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Amsterdam', dateStyle: 'short', timeStyle: 'short' }).format(t);
    if (local === `${ymd} 00:00`) return t.toISOString();
  }
  return new Date(utcMidnight).toISOString();
}

/** The calendar day `days` after `ymd` (YYYY-MM-DD), whatever the clocks do in between. */
export function addDays(ymd: string, days: number): string {
  const d = new Date(`${ymd}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The same day `months` later (YYYY-MM-DD); the month's last day where it has no such day (31 January + 1: 28 February). */
export function addMonths(ymd: string, months: number): string {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const last = new Date(Date.UTC(y, m - 1 + months + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, m - 1 + months, Math.min(d, last))).toISOString().slice(0, 10);
}
