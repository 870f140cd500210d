import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, type CaseId, type ItemId, type OrgId } from '../../shared/ids.js';
import { CollabClose } from '../../shared/protocol.js';
import { redisKeys } from '../../server/store/keys.js';
import { login, TestClient } from '../support/client.js';
import { provider, synced, textWhere } from '../support/collab.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Two servers on one Redis, in this process, so the test can hold one back: a process that has not
// yet applied a narrowing must not hand text typed after it to a reader the narrowing excludes.
let redis: PrivateRedis;
let bus: PrivateRedis;
const prefix = newId('t');
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  [redis, bus] = await Promise.all([startRedis(), startRedis()]);
  const env = { REDIS_URL: redis.url, REDIS_BUS_URL: bus.url, REDIS_PREFIX: prefix };
  a = await startTestServer({ env, commandsPerSecond: 10_000 });
  b = await startTestServer({ env, commandsPerSecond: 10_000 });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
  await bus?.stop();
});

describe('R-NEED co-editing across processes in log order', () => {
  it('R-NEED: text typed after a narrowing never reaches, through a lagging process, a reader it excludes', async () => {
    const polCookie = await login(a.url, 'politie');
    const pol = await TestClient.connect(a.url, 'politie', polCookie);
    try {
      const caseId = [...a.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id as CaseId;
      await pol.cmd('case:open', { caseId });
      const added = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: 'Open.', visibility: { kind: 'table' } });
      if (!added.ok) throw new Error(added.error.code);
      const itemId = (added.data as { itemId: ItemId }).itemId;
      const docId = a.app.cases.get(caseId)!.items.get(itemId)!.textDocId;
      const writer = provider(a.url, docId, polCookie);
      const reader = provider(b.url, docId, await login(b.url, 'om'));
      const closed = new Promise<number>((resolve) => reader.on('connection-close', (e: { code?: number } | null) => resolve(e?.code ?? 0)));
      try {
        await Promise.all([synced(writer), synced(reader)]);
        await textWhere(reader.doc, (t) => t === 'Open.');
        // Process b busy with this case: the narrowing's notice waits in its queue.
        let release!: () => void;
        void b.app.cases.withCase(caseId, () => new Promise<void>((r) => (release = r)));
        const relayed = new Promise<void>((resolve) => {
          const sub = createClient({ url: bus.url });
          void sub.connect().then(() =>
            sub.subscribe(redisKeys(prefix).docChannel(docId), () => {
              resolve();
              void sub.quit();
            }),
          );
        });
        expect((await pol.cmd('item:setVisibility', { caseId, itemId, visibility: { kind: 'orgs', orgIds: ['org_politie' as OrgId] } })).ok).toBe(true);
        writer.doc.getText('text').insert(5, ' GEHEIM');
        // The typing has crossed to b (it is in this process: two more turns and b has read it too).
        await relayed;
        for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
        release();
        expect(await closed).toBe(CollabClose.REVOKED);
        expect(reader.doc.getText('text').toString()).not.toContain('GEHEIM');
      } finally {
        writer.destroy();
        reader.destroy();
      }
    } finally {
      pol.close();
    }
  });
});
