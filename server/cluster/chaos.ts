/**
 * Tests only (TEST_LINK_CHAOS, with NODE_ENV=test): a lossy link between processes. What a
 * process hears from the others is held back for a random while and some case notices are
 * dropped, so a test can show that nothing rests on the bus being timely or complete
 * (test/integration/cluster.chaos.test.ts). Per sender and lane the order is kept, as Redis
 * pub/sub keeps it; between senders and lanes anything goes.
 */
export interface ChaosSettings {
  seed: number;
  /** Chance that a case notice is lost (0 to 1). */
  dropRate: number;
  /** A message waits between 0 and this many milliseconds. */
  maxDelayMs: number;
}

const DEFAULT_DROP_RATE = 0.2;
const DEFAULT_MAX_DELAY_MS = 50;

/** `<seed>` or `<seed>,<drop rate>,<max delay ms>`. */
export const CHAOS_PATTERN = /^\d{1,10}(,(0(\.\d+)?|1),\d{1,5})?$/;

export function chaosSettings(spec: string): ChaosSettings {
  const [seed, dropRate, maxDelayMs] = spec.split(',').map(Number);
  return { seed: seed!, dropRate: dropRate ?? DEFAULT_DROP_RATE, maxDelayMs: maxDelayMs ?? DEFAULT_MAX_DELAY_MS };
}

interface Lane {
  queue: { due: number; deliver: () => void }[];
  lastDue: number;
}

export class LinkChaos {
  private readonly lanes = new Map<string, Lane>();
  private state: number;

  constructor(private readonly s: ChaosSettings) {
    this.state = s.seed >>> 0;
  }

  /** mulberry32: the same seed gives the same choices. */
  private random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /**
   * Hands `deliver` on after a random wait, never before what the same lane (a sender's channel)
   * handed on earlier; `droppable` ones are lost at the drop rate.
   */
  pass(lane: string, droppable: boolean, deliver: () => void): void {
    if (droppable && this.random() < this.s.dropRate) return;
    let l = this.lanes.get(lane);
    if (!l) this.lanes.set(lane, (l = { queue: [], lastDue: 0 }));
    const due = Math.max(performance.now() + this.random() * this.s.maxDelayMs, l.lastDue);
    l.lastDue = due;
    l.queue.push({ due, deliver });
    if (l.queue.length === 1) this.schedule(lane, l);
  }

  private schedule(name: string, l: Lane): void {
    const head = l.queue[0];
    if (!head) {
      this.lanes.delete(name);
      return;
    }
    setTimeout(
      () => {
        const now = performance.now();
        while (l.queue[0] && l.queue[0].due <= now) l.queue.shift()!.deliver();
        this.schedule(name, l);
      },
      Math.max(0, head.due - performance.now()),
    );
  }
}
