// The CodeSystems and ValueSets of a FHIR release, for the generators that
// turn required bindings into enums (gen-validators.js for R5,
// gen-r4-validators.js for R4): only value sets made of whole code systems
// and enumerated codes are expanded.
'use strict';

class Terminology {
  /** `resources`: CodeSystem and ValueSet resources (others are ignored). */
  constructor(resources) {
    this.codeSystems = new Map();
    this.valueSets = new Map();
    for (const resource of resources) {
      if (typeof resource.url !== 'string') continue;
      if (resource.resourceType === 'CodeSystem') this.codeSystems.set(resource.url, resource);
      if (resource.resourceType === 'ValueSet') this.valueSets.set(resource.url, resource);
    }
  }

  /** All the codes of a complete code system, nested ones included. */
  codeSystemCodes(system) {
    const codeSystem = this.codeSystems.get(system);
    if (!codeSystem || codeSystem.content !== 'complete') return undefined;
    const codes = [];
    const walk = (concepts) => {
      for (const concept of concepts ?? []) {
        codes.push(concept.code);
        walk(concept.concept);
      }
    };
    walk(codeSystem.concept);
    return codes;
  }

  /** The codes of a value set made of whole code systems and enumerated codes; undefined when it is more than that. */
  expand(canonical) {
    const valueSet = this.valueSets.get(canonical.split('|')[0]);
    const compose = valueSet?.compose;
    if (!compose || compose.exclude || !Array.isArray(compose.include)) return undefined;
    const codes = [];
    for (const include of compose.include) {
      if (include.filter || include.valueSet || typeof include.system !== 'string') return undefined;
      if (include.concept) {
        codes.push(...include.concept.map((concept) => concept.code));
      } else {
        const all = this.codeSystemCodes(include.system);
        if (!all) return undefined;
        codes.push(...all);
      }
    }
    return [...new Set(codes)];
  }
}

module.exports = { Terminology };
