import readline from 'node:readline';
import { spawnProc, type Proc } from './procs.js';
import type { FromGenerator, GeneratorSpec, OpenResult, StepCommand, StepResult, StormResult, ToGenerator } from './wire.js';

const GENERATOR_CORE = 1;

/** The harness's end of one load-generator process. */
export class Generator {
  private waiting: { resolve: (m: FromGenerator) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | null = null;

  private constructor(readonly proc: Proc) {
    readline.createInterface({ input: proc.proc.stdout! }).on('line', (line) => {
      let m: FromGenerator;
      try {
        m = JSON.parse(line) as FromGenerator;
      } catch {
        return;
      }
      if (m.type === 'error') return this.fail(new Error(`generator ${m.genId}: ${m.message}`));
      this.waiting.shift()?.resolve(m);
    });
    void proc.exited.then(({ code, signal }) => this.fail(new Error(`generator ${proc.name} exited (${code ?? signal}):\n${proc.output().slice(-3000)}`)));
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }

  private request(m: ToGenerator): Promise<FromGenerator> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.proc.proc.stdin!.write(`${JSON.stringify(m)}\n`);
    });
  }

  /** Starts a generator process and hands it its spec; resolves once its sockets are connected (or, for `open`, with the answer). */
  static async start(spec: GeneratorSpec, pinned: boolean): Promise<{ gen: Generator; ready: FromGenerator }> {
    const proc = spawnProc(`generator ${spec.genId}`, process.execPath, ['--import', 'tsx', 'bench/generator.ts'], {
      cpu: pinned ? GENERATOR_CORE : null,
      stdin: true,
    });
    const gen = new Generator(proc);
    try {
      return { gen, ready: await gen.request({ type: 'spec', spec }) };
    } catch (e) {
      await gen.close();
      throw e;
    }
  }

  async step(cmd: StepCommand): Promise<StepResult> {
    const m = await this.request(cmd);
    if (m.type !== 'step') throw new Error(`generator answered ${m.type} to a step`);
    return m.result;
  }

  /** The reconnect storm: resolves once every board socket here has lost its server. */
  async awaitDown(timeoutMs: number): Promise<void> {
    const m = await this.request({ type: 'await-down', timeoutMs });
    if (m.type !== 'down') throw new Error(`generator answered ${m.type} to await-down`);
  }

  /** The reconnect storm: every board socket here connects again at once and opens its case from its cursor. */
  async reconnect(timeoutMs: number): Promise<StormResult> {
    const m = await this.request({ type: 'reconnect', timeoutMs });
    if (m.type !== 'reconnected') throw new Error(`generator answered ${m.type} to reconnect`);
    return m.result;
  }

  async close(): Promise<void> {
    if (this.proc.proc.exitCode === null && this.proc.proc.signalCode === null && !this.proc.proc.stdin!.destroyed) {
      this.proc.proc.stdin!.write(`${JSON.stringify({ type: 'close' } satisfies ToGenerator)}\n`);
    }
    this.failed ??= new Error('closed');
    await this.proc.stop(3000);
  }
}

/** Runs `open` specs: the generator answers once and exits. */
export async function runOpen(spec: GeneratorSpec & { kind: 'open' }, pinned: boolean): Promise<OpenResult> {
  const { gen, ready } = await Generator.start(spec, pinned);
  await gen.close();
  if (ready.type !== 'open') throw new Error(`open generator answered ${ready.type}`);
  return ready.result;
}

/** Several generators running the same step at once; their results, one per generator. */
export async function stepAll(gens: Generator[], cmd: StepCommand): Promise<StepResult[]> {
  return Promise.all(gens.map((g) => g.step(cmd)));
}
