/** Every error a client can receive, by name. The server never uses another shape. */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'UNKNOWN_COMMAND',
  'UNAUTHENTICATED',
  'PROTOCOL_OUTDATED',
  // Used alike for "does not exist" and "exists but hidden from you": it never tells them apart.
  'NOT_FOUND',
  'FORBIDDEN',
  'NOT_SIGNED',
  'WRONG_PHASE',
  'GOAL_FROZEN',
  'MEETING_CLOSED',
  'CONFLICT',
  'TOO_LARGE',
  'RATE_LIMITED',
  // The server cannot serve this now (it is stopping, its store is away, or its access log
  // cannot be written): nothing was done; try again shortly.
  'UNAVAILABLE',
  'LOGIN_FAILED',
  'LOGIN_THROTTLED',
  // The store may or may not have committed the command (its answer was lost): resend it with
  // the same command id to learn which (P-ONCE). INTERNAL means nothing was changed.
  'OUTCOME_UNKNOWN',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface AppError {
  code: ErrorCode;
  message: string;
}

/** Plain Dutch for the people at the table; the code is for programs. */
export const ERROR_TEXT_NL: Record<ErrorCode, string> = {
  BAD_REQUEST: 'Deze invoer klopt niet. Controleer de velden en probeer het opnieuw.',
  UNKNOWN_COMMAND: 'Deze opdracht kent Casusbord niet.',
  UNAUTHENTICATED: 'U bent niet (meer) ingelogd. Log opnieuw in.',
  PROTOCOL_OUTDATED: 'Er is een nieuwe versie van Casusbord. Herlaad de pagina.',
  NOT_FOUND: 'Niet gevonden, of u heeft hier geen toegang toe.',
  FORBIDDEN: 'Dit mag u niet doen in deze casus.',
  NOT_SIGNED: 'Deze organisatie heeft het privacyprotocol niet ondertekend en kan niet deelnemen.',
  WRONG_PHASE: 'Dat kan niet in de huidige fase van de casus.',
  GOAL_FROZEN: 'Het doel wordt gewijzigd. Eerst bevestigen alle inbrengers hun gegevens opnieuw; tot dan wordt er niets besloten.',
  MEETING_CLOSED: 'Het overleg is gesloten. De voorzitter kan het opnieuw openen.',
  CONFLICT: 'Iemand anders wijzigde dit tegelijk. Probeer het opnieuw.',
  TOO_LARGE: 'Dit is te groot om op te slaan.',
  RATE_LIMITED: 'Te veel opdrachten tegelijk. Wacht even en probeer het opnieuw.',
  UNAVAILABLE: 'Casusbord is tijdelijk niet beschikbaar. Uw opdracht is niet uitgevoerd; probeer het zo opnieuw.',
  LOGIN_FAILED: 'Gebruikersnaam of wachtwoord onjuist.',
  LOGIN_THROTTLED: 'Te veel mislukte pogingen om in te loggen. Wacht even en probeer het dan opnieuw.',
  OUTCOME_UNKNOWN: 'Het is niet zeker of uw wijziging is opgeslagen. Casusbord gaat het na; voer haar niet nog eens in.',
  INTERNAL: 'Er ging iets mis aan onze kant. Probeer het opnieuw.',
};

export const appError = (code: ErrorCode, message: string = ERROR_TEXT_NL[code]): AppError => ({
  code,
  message,
});

/** A wait in plain Dutch, rounded up: "45 seconden", "1 minuut", "3 uur", "29 dagen". */
export function waitTextNl(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  const unit = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  if (s < 60) return unit(s, 'seconde', 'seconden');
  const minutes = Math.ceil(s / 60);
  if (minutes < 60) return unit(minutes, 'minuut', 'minuten');
  const hours = Math.ceil(s / 3_600);
  if (hours < 48) return unit(hours, 'uur', 'uur');
  return unit(Math.ceil(s / 86_400), 'dag', 'dagen');
}

/**
 * LOGIN_THROTTLED with the wait (the same as its Retry-After). `otherDevices`: the refusal came
 * from the allowance of devices new to the account, which a device that logged in before does
 * not share.
 */
export function loginThrottledText(retryAfterSeconds: number, otherDevices: boolean): string {
  const text = `Te veel mislukte pogingen om in te loggen. Probeer het over ${waitTextNl(retryAfterSeconds)} opnieuw.`;
  return otherDevices ? `${text} Op een apparaat waarop u eerder inlogde, kunt u wel meteen inloggen.` : text;
}
