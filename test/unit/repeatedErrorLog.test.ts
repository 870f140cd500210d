import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RepeatedErrorLog } from '../../server/log.js';

interface Line {
  link?: string;
  err: string;
  repeated?: number;
  msg: string;
}

function setup(everyMs = 1_000): { errors: RepeatedErrorLog; lines: Line[]; advance: (ms: number) => void } {
  const lines: Line[] = [];
  let t = 0;
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Line) });
  return { errors: new RepeatedErrorLog(log, { link: 'store' }, 'Redis client error', everyMs, () => t), lines, advance: (ms) => (t += ms) };
}

const refused = new Error('connect ECONNREFUSED 127.0.0.1:6390');

describe('P-REDIS: a flood of one Redis error is logged thinned out, nothing of it lost', () => {
  it('P-REDIS: the first is logged at once, repeats within the interval are counted into the next line', () => {
    const { errors, lines, advance } = setup();
    for (let i = 0; i < 5; i++) {
      errors.report(refused);
      advance(100);
    }
    expect(lines.map((l) => [l.link, l.err, l.repeated])).toEqual([['store', refused.message, undefined]]);
    advance(600);
    errors.report(refused);
    expect(lines.map((l) => [l.err, l.repeated])).toEqual([
      [refused.message, undefined],
      [refused.message, 4],
    ]);
  });

  it('P-REDIS: another message is logged at once, beside the one being counted', () => {
    const { errors, lines } = setup();
    errors.report(refused);
    errors.report(refused);
    errors.report(new Error('Socket closed unexpectedly'));
    expect(lines.map((l) => l.err)).toEqual([refused.message, 'Socket closed unexpectedly']);
  });

  it('P-REDIS: flush tells what was left out, and the next error is logged at once again', () => {
    const { errors, lines } = setup();
    errors.report(refused);
    errors.report(refused);
    errors.report(refused);
    errors.flush();
    expect(lines.map((l) => [l.msg, l.err, l.repeated])).toEqual([
      ['Redis client error', refused.message, undefined],
      ['Redis client error: repeats', refused.message, 2],
    ]);
    errors.flush();
    expect(lines).toHaveLength(2);
    errors.report(refused);
    expect(lines.at(-1)).toMatchObject({ err: refused.message });
    expect(lines.at(-1)!.repeated).toBeUndefined();
  });
});
