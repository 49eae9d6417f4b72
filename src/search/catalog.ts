// The search definitions of every type the index holds, side by side: what
// a chain ('patient.identifier') or a _has ('_has:Task:based-on:status')
// needs to parse the other type's parameter, and what _include:iterate and
// _revinclude need to know which references can lead where.
import type { SearchDefinition } from './definitions';
import type { ResolvedSearchParam } from './types';

export class SearchCatalog {
  private readonly definitions = new Map<string, SearchDefinition>();

  constructor(definitions: Iterable<SearchDefinition>) {
    for (const definition of definitions) this.definitions.set(definition.resourceType, definition);
  }

  get(type: string): SearchDefinition | undefined {
    return this.definitions.get(type);
  }

  types(): string[] {
    return [...this.definitions.keys()];
  }

  /** The reference parameter `code` of `type`, if it declares one. */
  reference(type: string, code: string): ResolvedSearchParam | undefined {
    const param = this.definitions.get(type)?.params.get(code);
    return param?.type === 'reference' ? param : undefined;
  }

  /** Whether `param` can point to a resource of `type` (a parameter without declared targets can point anywhere). */
  static canTarget(param: ResolvedSearchParam, type: string): boolean {
    return param.target.length === 0 || param.target.includes(type);
  }

  /** 'Source:code' for every reference parameter, of any type here, that can point to `type`: its _revinclude values. */
  revIncludesOf(type: string): string[] {
    const values: string[] = [];
    for (const [source, definition] of this.definitions) {
      for (const param of definition.params.values()) {
        if (param.type === 'reference' && param.target.includes(type)) values.push(`${source}:${param.code}`);
      }
    }
    return values.sort();
  }
}

