/** The house's local day, `days` from today (YYYY-MM-DD): meetings are planned by the day in the Netherlands. */
export function houseDay(days = 0, now = new Date()): string {
  const d = new Date(now.getTime() + days * 86_400_000);
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Amsterdam', year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}
