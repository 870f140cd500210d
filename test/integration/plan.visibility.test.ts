import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, DecisionId, InterventionId, MeetingId, OrgId } from '../../shared/ids.js';
import type { Visibility } from '../../shared/domain.js';
import type { CaseMetaView, CasePatch, CaseView } from '../../shared/protocol.js';
import { TestClient } from '../support/client.js';
import { createCase, discuss, endDiscussion } from '../support/meetings.js';
import { startTestServer, type TestServer } from '../support/server.js';

// R-NEED for the plan: a decision or an intervention the chair restricts reaches only those it
// names, the organisation that wrote it (and, for an intervention, the one that carries it out)
// and the chair; the boards follow every change at once.
let srv: TestServer;
const c: Record<string, TestClient> = {};
let caseId: CaseId;
let meetingId: MeetingId;

const OM_ONLY: Visibility = { kind: 'orgs', orgIds: ['org_om' as OrgId] };

const decisionTexts = async (u: string) => (await fresh(u)).decisions.map((d) => d.text);
/** A fresh snapshot: leaves and opens again, so the answer is a whole view. */
async function fresh(u: string): Promise<CaseMetaView> {
  await c[u]!.cmd('case:leave', { caseId });
  const r = await c[u]!.cmd('case:open', { caseId });
  if (!r.ok) throw new Error(r.error.code);
  return (r.data as { view: CaseView }).view.meta;
}

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 10_000 });
  for (const u of ['regisseur', 'politie', 'om', 'ggz']) c[u] = await TestClient.connect(srv.url, u);
  caseId = await createCase(c.regisseur!, 'Casus S.', [
    ['zvh', 'voorzitter', 'regisseur'],
    ['politie', 'aanmelder', 'politie'],
    ['om', 'deelnemer', 'om'],
    ['ggz', 'deelnemer', 'ggz'],
  ]);
  meetingId = await discuss(c.regisseur!, caseId);
  for (const phase of ['oordelen', 'besluiten'] as const) await c.regisseur!.cmd('case:setPhase', { caseId, phase });
  // Every board is open, so every change reaches it as a patch.
  for (const u of Object.keys(c)) await fresh(u);
});

afterAll(async () => {
  for (const cl of Object.values(c)) cl.close();
  await srv?.close();
});

describe('R-NEED: decisions and interventions restricted like items', () => {
  let decisionId: DecisionId;

  it('R-NEED: a decision for the OM alone reaches the OM and the chair, with its author organisation, and nobody else', async () => {
    const r = await c.regisseur!.cmd('decision:add', { caseId, text: 'Voorwaardelijk sepot wordt voorbereid.', visibility: OM_ONLY });
    expect(r.ok).toBe(true);
    const chairs = await fresh('regisseur');
    const d = chairs.decisions.find((x) => x.text === 'Voorwaardelijk sepot wordt voorbereid.')!;
    decisionId = d.id;
    expect(d).toMatchObject({ byOrgId: 'org_zvh', visibility: OM_ONLY });
    expect(await decisionTexts('om')).toEqual(['Voorwaardelijk sepot wordt voorbereid.']);
    expect(await decisionTexts('politie')).toEqual([]);
    expect(await decisionTexts('ggz')).toEqual([]);
    // Nothing of it went to the police's or GGZ's boards either.
    for (const u of ['politie', 'ggz']) expect(JSON.stringify(c[u]!.received)).not.toContain('sepot');
  });

  it('R-NEED: only the chair changes who reads it; the boards follow at once, both ways', async () => {
    expect(await c.om!.cmd('decision:setVisibility', { caseId, decisionId, visibility: { kind: 'table' } })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    // Hidden from the police: the refusal is the one for an unknown decision (P-EXIST).
    const hidden = await c.politie!.cmd('decision:setVisibility', { caseId, decisionId, visibility: { kind: 'table' } });
    const unknown = await c.politie!.cmd('decision:setVisibility', { caseId, decisionId: 'dc_onbekend' as DecisionId, visibility: { kind: 'table' } });
    expect(hidden).toEqual(unknown);
    expect(
      await c.regisseur!.cmd('decision:setVisibility', { caseId, decisionId, visibility: { kind: 'orgs', orgIds: ['org_reclassering' as OrgId] } }),
    ).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });

    const from = c.ggz!.nextSeq;
    expect((await c.regisseur!.cmd('decision:setVisibility', { caseId, decisionId, visibility: { kind: 'table' } })).ok).toBe(true);
    await c.ggz!.waitFor(
      (m) => m.event === 'case:patch' && (m.args[0] as CasePatch).ops.some((o) => o.op === 'meta' && o.meta.decisions.some((d) => d.id === decisionId)),
      5000,
      from,
    );
    const back = c.ggz!.nextSeq;
    expect((await c.regisseur!.cmd('decision:setVisibility', { caseId, decisionId, visibility: OM_ONLY })).ok).toBe(true);
    await c.ggz!.waitFor(
      (m) => m.event === 'case:patch' && (m.args[0] as CasePatch).ops.some((o) => o.op === 'meta' && o.meta.decisions.length === 0),
      5000,
      back,
    );
  });

  it('R-NEED R-TAKEHOME: an intervention restricted to its executor reaches it and the chair; after the discussion only they keep it', async () => {
    expect(
      (
        await c.regisseur!.cmd('intervention:add', {
          caseId,
          what: 'Huisbezoek wijkagent.',
          orgId: 'org_politie' as OrgId,
          itemIds: [],
          visibility: { kind: 'orgs', orgIds: [] },
        })
      ).ok,
    ).toBe(true);
    expect((await c.regisseur!.cmd('intervention:add', { caseId, what: 'Zorgaanbod FACT.', orgId: 'org_ggz' as OrgId, itemIds: [] })).ok).toBe(true);
    const whats = async (u: string) => (await fresh(u)).interventions.map((i) => i.what).sort();
    expect(await whats('politie')).toEqual(['Huisbezoek wijkagent.', 'Zorgaanbod FACT.']);
    expect(await whats('om')).toEqual(['Zorgaanbod FACT.']);
    expect(await whats('ggz')).toEqual(['Zorgaanbod FACT.']);
    const iv = (await fresh('regisseur')).interventions.find((i) => i.what === 'Huisbezoek wijkagent.')!;
    expect(iv).toMatchObject({ byOrgId: 'org_zvh', visibility: { kind: 'orgs', orgIds: [] } });
    expect(await c.regisseur!.cmd('intervention:setVisibility', { caseId, interventionId: iv.id as InterventionId, visibility: OM_ONLY })).toMatchObject({
      ok: true,
    });
    expect(await whats('om')).toEqual(['Huisbezoek wijkagent.', 'Zorgaanbod FACT.']);

    // Its take-home request reaches the OM for the OM's item, but not what the intervention is.
    const omItem = await c.om!.cmd('item:add', { caseId, phase: 'beeldvorming', text: 'Proces-verbaal van de zitting.', visibility: { kind: 'table' } });
    if (!omItem.ok) throw new Error(omItem.error.code);
    expect(
      (
        await c.regisseur!.cmd('intervention:add', {
          caseId,
          what: 'Gesprek over de zitting.',
          orgId: 'org_politie' as OrgId,
          itemIds: [omItem.data.itemId],
          visibility: { kind: 'orgs', orgIds: [] },
        })
      ).ok,
    ).toBe(true);
    const asked = (await fresh('om')).consents.find((r) => r.kind === 'takehome' && r.forOrgId === 'org_politie')!;
    expect(asked).toMatchObject({ interventionId: null, deadline: null });
    expect(JSON.stringify(asked)).not.toContain('Gesprek over de zitting');
    expect((await fresh('politie')).consents.find((r) => r.kind === 'takehome')!.purpose).toBe('Gesprek over de zitting.');
    for (const u of ['om', 'ggz']) expect(JSON.stringify(c[u]!.received)).not.toContain('Gesprek over de zitting');

    await endDiscussion(c.regisseur!, caseId, meetingId);
    expect(await whats('om')).toEqual([]);
    expect(await whats('politie')).toEqual(['Gesprek over de zitting.', 'Huisbezoek wijkagent.']);
    expect(await whats('regisseur')).toEqual(['Gesprek over de zitting.', 'Huisbezoek wijkagent.', 'Zorgaanbod FACT.']);
  });
});
