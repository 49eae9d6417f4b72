// The resource modules of this server, by type: the router serves them, and
// searches use them to resolve _include and _revinclude across types.
import { OperationOutcomeError } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { InteractionContext, ResourceProvider } from './provider';

export class ResourceRegistry {
  private readonly providers = new Map<string, ResourceProvider>();
  /** Types indexed from elsewhere (Orthanc's change log): whether their index is complete and caught up. */
  private readonly indexChecks = new Map<string, () => Promise<boolean>>();

  /** Says how to tell whether the index of `types` can be joined now (a chain or _has from another type). */
  setIndexCheck(types: readonly string[], current: () => Promise<boolean>): void {
    for (const type of types) this.indexChecks.set(type, current);
  }

  /** Whether the index of every one of `types` is current (waiting briefly for it to catch up, as its own searches do). */
  async indexesCurrent(types: readonly string[]): Promise<boolean> {
    const checks = new Set(types.flatMap((type) => this.indexChecks.get(type) ?? []));
    for (const check of checks) if (!(await check())) return false;
    return true;
  }

  add(provider: ResourceProvider): void {
    this.providers.set(provider.type, provider);
  }

  get(type: string): ResourceProvider | undefined {
    return this.providers.get(type);
  }

  all(): ResourceProvider[] {
    return [...this.providers.values()];
  }

  /** Reads the referenced resources that exist; a dangling reference is skipped. */
  async readAll(references: ReadonlyArray<{ type: string; id: string }>, context: InteractionContext): Promise<Resource[]> {
    const found = await Promise.all(
      references.map(async ({ type, id }) => {
        const provider = this.providers.get(type);
        if (!provider?.read) return undefined;
        try {
          return await provider.read(id, context);
        } catch (error) {
          if (error instanceof OperationOutcomeError && (error.status === 404 || error.status === 410)) return undefined;
          throw error;
        }
      }),
    );
    return found.filter((resource): resource is Resource => resource !== undefined);
  }

  async searchAll(type: string, query: Array<[string, string]>, context: InteractionContext): Promise<Resource[]> {
    const provider = this.providers.get(type);
    return provider?.searchAll ? provider.searchAll(query, { ...context, query }) : [];
  }
}
