import type { z } from 'zod';

export type Checked<T> = { ok: true; data: T } | { ok: false; message: string };

/** Field names as the user sees them, by path ("title", "participants", "informing.ground"). */
export type FieldLabels = Record<string, string>;

function labelFor(path: readonly PropertyKey[], labels: FieldLabels): string {
  const keys = path.filter((p): p is string => typeof p === 'string');
  for (let n = keys.length; n > 0; n--) {
    const label = labels[keys.slice(0, n).join('.')];
    if (label) return label;
  }
  return 'Een veld';
}

function issueText(issue: z.core.$ZodIssue, labels: FieldLabels): string {
  const label = labelFor(issue.path, labels);
  switch (issue.code) {
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array' || issue.origin === 'set') return `Kies bij ${label.toLowerCase()} minstens ${min}.`;
      return min <= 1 ? `${label} is verplicht.` : `${label} moet minstens ${min} tekens hebben.`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array' || issue.origin === 'set') return `Bij ${label.toLowerCase()} kunnen hoogstens ${max} gekozen worden.`;
      return `${label} mag hoogstens ${max} tekens hebben.`;
    }
    case 'invalid_format':
      return `${label} heeft niet de juiste vorm.`;
    default:
      return `${label} klopt niet.`;
  }
}

/** Validate a form with the same zod schema the server uses; the first problem in plain Dutch. */
export function check<S extends z.ZodType>(schema: S, value: unknown, labels: FieldLabels): Checked<z.output<S>> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, data: parsed.data };
  const first = parsed.error.issues[0];
  return { ok: false, message: first ? issueText(first, labels) : 'Deze invoer klopt niet.' };
}
