import type { Organisation, Table } from '../../../shared/domain.js';
import type { OrgId, TableId } from '../../../shared/ids.js';
import type { Directory } from '../../../shared/protocol.js';
import type { Api } from './api.js';
import { errorText } from './errors.js';

type Person = Directory['people'][number];

const UNKNOWN_COLOUR = '#6b7280';

/** Organisations, tables and (for chairs) people: what every screen needs to name things. */
export class DirectoryStore {
  orgs = $state.raw<Organisation[]>([]);
  tables = $state.raw<Table[]>([]);
  people = $state.raw<Person[]>([]);
  /** Whether the house records the BSN of the persons of its cases. */
  recordsBsn = $state(false);
  loaded = $state(false);
  error = $state<string | null>(null);

  #orgById = $derived(Object.fromEntries(this.orgs.map((o) => [o.id, o])) as Partial<Record<OrgId, Organisation>>);
  #tableById = $derived(Object.fromEntries(this.tables.map((t) => [t.id, t])) as Partial<Record<TableId, Table>>);

  constructor(private readonly api: Api) {}

  async load(): Promise<void> {
    const res = await this.api.get<Directory>('/api/directory');
    if (!res.ok) {
      this.error = errorText(res.error);
      return;
    }
    this.orgs = res.data.orgs ?? [];
    this.tables = res.data.tables ?? [];
    this.people = res.data.people ?? [];
    this.recordsBsn = res.data.recordsBsn === true;
    this.error = null;
    this.loaded = true;
  }

  reset(): void {
    this.orgs = [];
    this.tables = [];
    this.people = [];
    this.loaded = false;
    this.error = null;
  }

  org(id: OrgId): Organisation | undefined {
    return this.#orgById[id];
  }

  orgShort(id: OrgId): string {
    return this.#orgById[id]?.shortName ?? 'Onbekende organisatie';
  }

  orgName(id: OrgId): string {
    return this.#orgById[id]?.name ?? 'Onbekende organisatie';
  }

  colour(id: OrgId): string {
    const c = this.#orgById[id]?.colour;
    return c && /^#[0-9a-fA-F]{6}$/.test(c) ? c : UNKNOWN_COLOUR;
  }

  table(id: TableId): Table | undefined {
    return this.#tableById[id];
  }

  peopleOf(orgId: OrgId): Person[] {
    return this.people.filter((p) => p.orgId === orgId);
  }
}
