import type { CaseId, ItemId } from '../../shared/ids.js';
import type { CasePatch, CaseView, PatchOp } from '../../shared/protocol.js';
import type { TestClient } from './client.js';

/** What a well-behaved client would hold for one case after applying what it received. */
export class ClientModel {
  items = new Map<ItemId, string>();
  open = false;
  cursor: string | undefined;

  private apply(op: PatchOp): void {
    if (op.op === 'snapshot') this.load(op.view);
    else if (op.op === 'item') this.items.set(op.item.id, op.item.text);
    else if (op.op === 'itemRemoved') this.items.delete(op.itemId);
    else if (op.op === 'revoked') {
      this.items.clear();
      this.open = false;
    }
  }

  load(view: CaseView): void {
    this.items = new Map(view.items.map((i) => [i.id, i.text]));
    this.open = true;
    this.cursor = view.cursor;
  }

  patch(p: CasePatch): void {
    for (const op of p.ops) this.apply(op);
    if (this.open) this.cursor = p.cursor;
  }
}

export interface OpenRecord {
  caseId: CaseId;
  /** The client's message count when the answer arrived: it sits before message `seq`. */
  seq: number;
  data: unknown;
}

/** Replays one client's recording of one case, opens and patches in the order they arrived. */
export function replayInto(model: ClientModel, client: TestClient, caseId: CaseId, opens: OpenRecord[], leaves: number[] = []): void {
  type Step = { seq: number; order: number; run: () => void };
  const steps: Step[] = [];
  for (const o of opens.filter((x) => x.caseId === caseId)) {
    steps.push({
      seq: o.seq,
      order: 0,
      run: () => {
        const d = o.data as { view?: CaseView; patch?: CasePatch };
        if (d.view) model.load(d.view);
        if (d.patch) {
          model.open = true;
          model.patch(d.patch);
        }
      },
    });
  }
  for (const seq of leaves) steps.push({ seq, order: 0, run: () => void (model.open = false) });
  for (const r of client.received) {
    if (r.event !== 'case:patch') continue;
    const p = r.args[0] as CasePatch;
    if (p.caseId === caseId) steps.push({ seq: r.seq, order: 1, run: () => model.patch(p) });
  }
  steps.sort((a, b) => a.seq - b.seq || a.order - b.order);
  for (const s of steps) s.run();
}
