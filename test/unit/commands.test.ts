import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../server/cases/commands/index.js';
import { namedIds } from '../../shared/rules/commands.js';
import { COMMAND_NAMES, CommandSchemas, READ_COMMANDS, type CommandName } from '../../shared/schemas.js';
import { idKindsOf, PROBES, UNKNOWN } from '../support/existence.js';

// The command table: one module per command of the protocol's schema map, under its own name.
// The types demand as much; this holds the running table to it, so a command added with a loose
// type or a spread of the wrong group is found too.

const moduleOf = (name: CommandName) => COMMANDS[name];

describe('the command table', () => {
  it('has one module for every command of the protocol, and nothing else', () => {
    expect(Object.keys(COMMANDS).sort()).toEqual([...COMMAND_NAMES].sort());
    for (const name of COMMAND_NAMES) {
      const m = moduleOf(name);
      expect([name, m.name, m.schema === CommandSchemas[name]]).toEqual([name, name, true]);
    }
  });

  it('declares the reads, and only them, as reads, logged as reads (a print as an export)', () => {
    const reads = COMMAND_NAMES.filter((n) => moduleOf(n).kind === 'read');
    expect(reads.sort()).toEqual([...READ_COMMANDS].sort());
    for (const name of COMMAND_NAMES) {
      const { action, kind } = moduleOf(name);
      const expected = name === 'case:print' ? 'export' : kind === 'read' ? 'read' : expect.stringMatching(/^(create|update|delete)$/);
      expect([name, action]).toEqual([name, expected]);
    }
  });

  it('P-EXIST: each module names, by its naming fields, every kind of id of a case its schema has', () => {
    const fromNames = (name: CommandName): string[] => {
      const n = namedIds(moduleOf(name).names, PROBES[name].payload(UNKNOWN));
      const kinds: [string, boolean][] = [
        ['CaseId', n.caseId !== null],
        ['ConsentId', n.requestId !== null],
        ['InterventionId', n.interventionId !== null],
        ['ItemId', n.itemIds.length + n.ownItemIds.length > 0],
      ];
      return kinds.filter(([, named]) => named).map(([k]) => k);
    };
    const inCase = ['CaseId', 'ConsentId', 'InterventionId', 'ItemId'];
    for (const name of COMMAND_NAMES) expect([name, fromNames(name)]).toEqual([name, idKindsOf(name).filter((k) => inCase.includes(k))]);
  });
});

describe('the protocol page', () => {
  it('lists in its command table every command of the table, and nothing else', () => {
    const page = fs.readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
    const section = page.slice(page.indexOf('### Commands (client → server)'), page.indexOf('**Adding a command**'));
    const rows = section.split('\n').filter((l) => l.startsWith('| `'));
    const listed = rows.flatMap((row) => [...row.split(' | ')[0]!.matchAll(/`([a-z]+:[a-zA-Z]+)`/g)].map((m) => m[1]!));
    expect(listed.sort()).toEqual(Object.keys(COMMANDS).sort());
  });
});
