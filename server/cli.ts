import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline/promises';
import { newId, type OrgId, type UserId } from '../shared/ids.js';
import { MIN_PASSWORD_CHARS } from '../shared/limits.js';
import { hashPassword } from './auth/passwords.js';
import { loadConfig } from './config.js';
import { SqliteStore } from './store/sqlite.js';

/**
 * Bootstraps a house without demo data: its own organisation and a first admin, who then does
 * everything else on the admin page. Run it while the server is stopped.
 *   npm run admin -- bootstrap --org "Zorg- en Veiligheidshuis Fryslân" --short ZVH --username beheer --name "Anke Visser"
 *   npm run admin -- reset-password --username beheer
 * The password comes from CASUSBORD_ADMIN_PASSWORD or is asked for.
 */
const USAGE =
  'usage: npm run admin -- bootstrap --org NAME --short SHORT --username USER --name "Full Name"\n       npm run admin -- reset-password --username USER';

async function password(): Promise<string> {
  const fromEnv = process.env.CASUSBORD_ADMIN_PASSWORD;
  const pw = fromEnv ?? (await createInterface({ input: process.stdin, output: process.stdout }).question('Wachtwoord: '));
  if (pw.length < MIN_PASSWORD_CHARS) throw new Error(`password must have at least ${MIN_PASSWORD_CHARS} characters`);
  return pw;
}

async function main(): Promise<void> {
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
