import type { Organisation, Table, User } from '../../../shared/domain.js';
import type { OrgId, UserId } from '../../../shared/ids.js';
import type { z } from 'zod';
import type { OrgInputSchema, OrgUpdateSchema, SignatureSchema, TableInputSchema, UserInputSchema, UserUpdateSchema } from '../../../shared/schemas.js';
import type { Api } from './api.js';
import type { DirectoryStore } from './directory.svelte.js';
import { errorText, type Result } from './errors.js';

type AdminUser = Pick<User, 'id' | 'username' | 'displayName' | 'orgId' | 'roles' | 'active'>;

interface Overview {
  orgs: Organisation[];
  users: AdminUser[];
  tables: Table[];
}

const replaceById = <T extends { id: string }>(list: T[], next: T): T[] =>
  list.some((x) => x.id === next.id) ? list.map((x) => (x.id === next.id ? next : x)) : [...list, next];

/** The admin screen's data. Every change answers with the saved record, which replaces ours. */
export class AdminStore {
  orgs = $state.raw<Organisation[]>([]);
  users = $state.raw<AdminUser[]>([]);
  tables = $state.raw<Table[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);

  constructor(
    private readonly api: Api,
    private readonly directory: DirectoryStore,
  ) {}

  async load(): Promise<void> {
    const res = await this.api.get<Overview>('/api/admin/overview');
    if (!res.ok) {
      this.error = errorText(res.error);
      return;
    }
    this.orgs = res.data.orgs ?? [];
    this.users = res.data.users ?? [];
    this.tables = res.data.tables ?? [];
    this.error = null;
    this.loaded = true;
  }

  createOrg(input: z.output<typeof OrgInputSchema>): Promise<Result<unknown>> {
    return this.#org(this.api.post<{ org: Organisation }>('/api/admin/orgs', input));
  }

  updateOrg(id: OrgId, input: z.output<typeof OrgUpdateSchema>): Promise<Result<unknown>> {
    return this.#org(this.api.patch<{ org: Organisation }>(`/api/admin/orgs/${encodeURIComponent(id)}`, input));
  }

  /** R-PROTOCOL: record or revoke the organisation's signature of the privacy protocol. */
  setSignature(id: OrgId, input: z.output<typeof SignatureSchema>): Promise<Result<unknown>> {
    return this.#org(this.api.put<{ org: Organisation }>(`/api/admin/orgs/${encodeURIComponent(id)}/signature`, input));
  }

  async createUser(input: z.output<typeof UserInputSchema>): Promise<Result<unknown>> {
    return this.#user(this.api.post<{ user: AdminUser }>('/api/admin/users', input));
  }

  async updateUser(id: UserId, input: z.output<typeof UserUpdateSchema>): Promise<Result<unknown>> {
    return this.#user(this.api.patch<{ user: AdminUser }>(`/api/admin/users/${encodeURIComponent(id)}`, input));
  }

  async createTable(input: z.output<typeof TableInputSchema>): Promise<Result<unknown>> {
    const res = await this.api.post<{ table: Table }>('/api/admin/tables', input);
    if (res.ok) {
      this.tables = replaceById(this.tables, res.data.table);
      void this.directory.load();
    }
    return res;
  }

  async #org(request: Promise<Result<{ org: Organisation }>>): Promise<Result<unknown>> {
    const res = await request;
    if (res.ok) {
      this.orgs = replaceById(this.orgs, res.data.org);
      void this.directory.load();
    }
    return res;
  }

  async #user(request: Promise<Result<{ user: AdminUser }>>): Promise<Result<unknown>> {
    const res = await request;
    if (res.ok) {
      this.users = replaceById(this.users, res.data.user);
      void this.directory.load();
    }
    return res;
  }
}

export type { AdminUser };
