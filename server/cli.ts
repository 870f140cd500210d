import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline/promises';
import { newId, type OrgId, type UserId } from '../shared/ids.js';
import { MIN_PASSWORD_CHARS } from '../shared/limits.js';
import { hashPassword } from './auth/passwords.js';
import { loadConfig } from './config.js';
import { verifyAndRecord } from './audit/chain.js';
import { createLogger } from './log.js';
import { openStore } from './store/open.js';
import { SqliteStore } from './store/sqlite.js';

/**
 * Bootstraps a house without demo data: its own organisation and a first admin, who then does
 * everything else on the admin page. Run it while the server is stopped.
 *   npm run admin -- bootstrap --org "Zorg- en Veiligheidshuis Fryslân" --short ZVH --username beheer --name "Anke Visser"
 *   npm run admin -- reset-password --username beheer
 * The password comes from CASUSBORD_ADMIN_PASSWORD or is asked for.
 */
const USAGE =
  'usage: npm run admin -- bootstrap --org NAME --short SHORT --username USER --name "Full Name"\n       npm run admin -- reset-password --username USER\n       npm run admin -- verify';

/**
 * R-ACCESS: recomputes the hash chains of the access log and the case logs and checks them against
 * every seal (SEAL_KEY, of the store the configuration names: SQLite or Redis); reports the first
 * broken link and keeps the result for the privacy officer's screen. Exit code 1 when broken.
 */
async function verify(): Promise<void> {
  const config = loadConfig();
  if (!config.SEAL_KEY) throw new Error('SEAL_KEY is not set: there is nothing to verify against');
  const opened = await openStore(config, createLogger('warn'));
  try {
    const v = await verifyAndRecord(opened.store, Buffer.from(config.SEAL_KEY, 'base64'));
    const counted = `${v.seals} seals, ${v.accessEntries} access-log entries, ${v.events} case events`;
    if (v.ok) process.stdout.write(`OK: ${counted}; sealed up to ${v.sealedUpTo ?? 'nothing yet'}\n`);
    else {
      const b = v.broken!;
      const where =
        b.what === 'access' ? `access log between positions ${b.from} and ${b.to}` : b.what === 'case' ? `case ${b.caseId} up to version ${b.to}` : 'the seals';
      process.stdout.write(`BROKEN at seal ${b.seal}: ${where}: ${b.reason}\n`);
      process.exitCode = 1;
    }
  } finally {
    await opened.closeAdapter();
    await opened.cluster.close();
    await opened.store.close();
  }
}

async function password(): Promise<string> {
  const fromEnv = process.env.CASUSBORD_ADMIN_PASSWORD;
  const pw = fromEnv ?? (await createInterface({ input: process.stdin, output: process.stdout }).question('Wachtwoord: '));
  if (pw.length < MIN_PASSWORD_CHARS) throw new Error(`password must have at least ${MIN_PASSWORD_CHARS} characters`);
  return pw;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'verify') return verify();
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { org: { type: 'string' }, short: { type: 'string' }, username: { type: 'string' }, name: { type: 'string' } },
  });
  const store = new SqliteStore(loadConfig().dbFile);
  try {
    const users = await store.listUsers();
    if (positionals[0] === 'bootstrap' && values.org && values.short && values.username && values.name) {
      if (users.some((u) => u.username === values.username)) throw new Error(`user ${values.username} exists`);
      const orgId = newId<OrgId>('org');
      await store.putOrg({
        id: orgId,
        name: values.org,
        shortName: values.short,
        colour: '#2f4858',
        kind: 'zvh',
        protocolSignedAt: null,
        protocolSignedBy: null,
      });
      const passwordHash = await hashPassword(await password());
      await store.putUser({
        id: newId<UserId>('usr'),
        username: values.username,
        displayName: values.name,
        orgId,
        roles: ['admin', 'chair'],
        active: true,
        passwordHash,
      });
      process.stdout.write(`Created ${values.org} and admin ${values.username}. Record its protocol signature on the admin page.\n`);
    } else if (positionals[0] === 'reset-password' && values.username) {
      const u = users.find((x) => x.username === values.username);
      if (!u) throw new Error(`no user ${values.username}`);
      await store.putUser({ ...u, passwordHash: await hashPassword(await password()) });
      process.stdout.write(`Password of ${u.username} reset.\n`);
    } else {
      process.stderr.write(`${USAGE}\n`);
      process.exitCode = 2;
    }
  } finally {
    await store.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
