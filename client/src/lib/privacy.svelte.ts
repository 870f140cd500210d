import type { AccessRecordView, PrivacyCaseView } from '../../../shared/protocol.js';
import type { Api } from './api.js';
import { errorText } from './errors.js';
import { accessQuery, type AccessFilters } from './privacy.js';

/** R-ACCESS: the access log as the privacy officer searches it, a page at a time, newest first. */
export class AccessLogSearch {
  cases = $state.raw<PrivacyCaseView[]>([]);
  records = $state.raw<AccessRecordView[]>([]);
  next = $state<string | null>(null);
  /** The filters of the records shown (what "meer laden" and the export go on from). */
  asked = $state.raw<AccessFilters | null>(null);
  busy = $state(false);
  error = $state<string | null>(null);

  constructor(private readonly api: Api) {}

  async loadCases(): Promise<void> {
    const res = await this.api.get<{ cases: PrivacyCaseView[] }>('/api/privacy/cases');
    if (res.ok) this.cases = res.data.cases;
    else this.error = errorText(res.error);
  }

  caseTitle(id: string | null): string {
    if (!id) return '';
    return this.cases.find((c) => c.id === id)?.title ?? id;
  }

  search(filters: AccessFilters): Promise<void> {
    return this.#page({ ...filters }, undefined);
  }

  more(): Promise<void> {
    if (!this.asked || !this.next) return Promise.resolve();
    return this.#page(this.asked, this.next);
  }

  /** The CSV of the selection shown, as a download (the server logs it as an export). */
  csvHref(): string | null {
    return this.asked ? `/api/privacy/access.csv?${accessQuery(this.asked)}` : null;
  }

  async #page(filters: AccessFilters, after: string | undefined): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.error = null;
    const res = await this.api.get<{ records: AccessRecordView[]; next: string | null }>(`/api/privacy/access?${accessQuery(filters, after)}`);
    this.busy = false;
    if (!res.ok) {
      this.error = errorText(res.error);
      return;
    }
    this.records = after ? [...this.records, ...res.data.records] : res.data.records;
    this.next = res.data.next;
    this.asked = filters;
  }
}
