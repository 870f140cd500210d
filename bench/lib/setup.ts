import { io, type Socket } from 'socket.io-client';
import { newCommandId } from '../../shared/ids.js';
import { PROTOCOL_VERSION, SOCKET_PATH, type Ack, type OpenResult } from '../../shared/protocol.js';
import { login } from '../../test/support/client.js';

/**
 * Preparing a Casusbord server for a scenario, through its public interface only: log the demo
 * accounts in, let the chair create cases with every demo partner at the table, add items.
 */

export const USERS = ['regisseur', 'politie', 'politie2', 'om', 'ggz', 'ggz2', 'gemeente', 'woning', 'reclassering', 'veiligthuis'] as const;
export type DemoUser = (typeof USERS)[number];
/** Sends the commands of every case: any participant may add an item in the first phase. */
export const SENDER: DemoUser = 'politie';
/** Everyone else at the table, in the order viewers are handed out. */
export const VIEWERS: DemoUser[] = USERS.filter((u) => u !== SENDER);
/** May type in the minutes while the meeting is open, like every participant: five organisations. */
export const WRITERS: DemoUser[] = ['politie', 'politie2', 'ggz', 'om', 'gemeente'];

export type Cookies = Record<DemoUser, string>;

/**
 * Ten people at one table, one per seat of the demo cases. Family 0 is the demo accounts; further
 * families are accounts the benchmark creates through the admin API, so that in the many-cases
 * scenario a user takes part in tens of cases rather than in all of them (every case a user takes
 * part in is one more entry in the case list sent to each of their sockets at connect).
 */
export interface Family {
  cookies: Cookies;
  userIds: Record<DemoUser, string>;
}

const ORG_OF: Record<DemoUser, string> = {
  regisseur: 'org_zvh',
  politie: 'org_politie',
  politie2: 'org_politie',
  om: 'org_om',
  ggz: 'org_ggz',
  ggz2: 'org_ggz',
  gemeente: 'org_leeuwarden',
  woning: 'org_elkien',
  reclassering: 'org_reclassering',
  veiligthuis: 'org_veiligthuis',
};

function participants(f: Family): { orgId: string; role: string; userIds: string[] }[] {
  const u = f.userIds;
  return [
    { orgId: 'org_zvh', role: 'voorzitter', userIds: [u.regisseur] },
    { orgId: 'org_politie', role: 'aanmelder', userIds: [u.politie, u.politie2] },
    { orgId: 'org_ggz', role: 'deelnemer', userIds: [u.ggz, u.ggz2] },
    { orgId: 'org_om', role: 'deelnemer', userIds: [u.om] },
    { orgId: 'org_leeuwarden', role: 'deelnemer', userIds: [u.gemeente] },
    { orgId: 'org_elkien', role: 'deelnemer', userIds: [u.woning] },
    { orgId: 'org_reclassering', role: 'deelnemer', userIds: [u.reclassering] },
    { orgId: 'org_veiligthuis', role: 'deelnemer', userIds: [u.veiligthuis] },
  ];
}

async function loginFamily(url: string, names: Record<DemoUser, string>, password?: string): Promise<Cookies> {
  const entries = await Promise.all(USERS.map(async (u) => [u, await login(url, names[u], password)] as const));
  return Object.fromEntries(entries) as Cookies;
}

/** The demo accounts, logged in. */
export async function demoFamily(url: string): Promise<Family> {
  const names = Object.fromEntries(USERS.map((u) => [u, u])) as Record<DemoUser, string>;
  return { cookies: await loginFamily(url, names), userIds: Object.fromEntries(USERS.map((u) => [u, `usr_${u}`])) as Record<DemoUser, string> };
}

const BENCH_PASSWORD = 'bench-wachtwoord-1';

/** `count` families: the demo accounts and `count - 1` sets created by the functional admin. */
export async function families(url: string, count: number): Promise<Family[]> {
  const out = [await demoFamily(url)];
  if (count <= 1) return out;
  const admin = await login(url, 'beheer');
  for (let f = 1; f < count; f++) {
    const names = Object.fromEntries(USERS.map((u) => [u, `b${f}-${u}`])) as Record<DemoUser, string>;
    const ids = await Promise.all(
      USERS.map(async (u) => {
        const res = await fetch(`${url}/api/admin/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie: admin },
          body: JSON.stringify({
            username: names[u],
            displayName: `Bench ${f} ${u}`,
            orgId: ORG_OF[u],
            roles: u === 'regisseur' ? ['chair'] : [],
            password: BENCH_PASSWORD,
          }),
        });
        if (res.status !== 201) throw new Error(`creating ${names[u]}: ${res.status} ${await res.text()}`);
        return [u, ((await res.json()) as { user: { id: string } }).user.id] as const;
      }),
    );
    out.push({ cookies: await loginFamily(url, names, BENCH_PASSWORD), userIds: Object.fromEntries(ids) as Record<DemoUser, string> });
  }
  return out;
}

export async function connect(url: string, cookie: string): Promise<Socket> {
  const s = io(url, {
    path: SOCKET_PATH,
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: { protocolVersion: PROTOCOL_VERSION },
    extraHeaders: { cookie },
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

async function ok<T>(s: Socket, name: string, input: unknown): Promise<T> {
  const ack = (await s.timeout(120_000).emitWithAck(name, { commandId: newCommandId(), input })) as Ack<T>;
  if (!ack.ok) throw new Error(`${name}: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

/** Creates `n` cases, case i with family i % families at the table (its chair creates it). */
export async function createCases(url: string, fams: Family[], n: number, concurrency = 20): Promise<string[]> {
  const chairs = await Promise.all(fams.map((f) => connect(url, f.cookies.regisseur)));
  try {
    const ids: string[] = new Array<string>(n);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const f = i % fams.length;
        const { caseId } = await ok<{ caseId: string }>(chairs[f]!, 'case:create', {
          tableId: 'tbl_topx',
          title: `Benchcasus ${i + 1}`,
          subjectNote: 'Aangemaakt door de benchmark.',
          goal: 'Meten hoe snel het bord is.',
          participants: participants(fams[f]!),
          informerOrgId: 'org_politie',
          persons: [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
          informDueDate: '2030-01-01',
        });
        ids[i] = caseId;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    return ids;
  } finally {
    for (const c of chairs) c.disconnect();
  }
}

/** Adds `n` items to a case (every fifth only for the OM, so views differ per organisation). */
export async function addItems(url: string, cookies: Cookies, caseId: string, n: number, textChars: number): Promise<void> {
  const s = await connect(url, cookies[SENDER]);
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const text = `Bevinding ${i + 1}: `.padEnd(textChars, 'x');
        const visibility = i % 5 === 4 ? { kind: 'orgs', orgIds: ['org_om'] } : { kind: 'table' };
        await ok(s, 'item:add', { caseId, phase: 'beeldvorming', text, visibility });
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
  } finally {
    s.disconnect();
  }
}

/** The name of the minutes document of a case under discussion (every participant writes them then). */
export async function minutesDocId(url: string, cookie: string, caseId: string): Promise<string> {
  const s = await connect(url, cookie);
  try {
    const r = await ok<OpenResult>(s, 'case:open', { caseId });
    if (!('view' in r)) throw new Error('case:open gave no view');
    if (!r.view.meta.minutesDocId) throw new Error('the case is not under discussion');
    return r.view.meta.minutesDocId;
  } finally {
    s.disconnect();
  }
}
