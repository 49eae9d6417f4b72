// SubscriptionTopic, read-only: the topics of subscription-topics.ts, served
// from memory (three resources), searched like any other type.
import type { FhirConfig } from '../config';
import { notFound } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import { defineSearch, searchParamDeclarations } from '../search';
import type { ResourceProvider } from './provider';
import type { ResourceRegistry } from './registry';
import { inMemorySource, searchAllOf, searchBundle } from './search-flow';
import { TOPICS, topicResource } from './subscription-topics';

export function createSubscriptionTopicResource(registry: ResourceRegistry, config: FhirConfig, date: string): ResourceProvider {
  const definition = defineSearch({
    resourceType: 'SubscriptionTopic',
    params: ['_id', 'url', 'status', 'title', 'resource'],
    defaultCount: config.defaultCount,
    maxCount: config.maxCount,
  });
  const topics: Resource[] = TOPICS.map((topic) => topicResource(topic, date));
  const source = () => inMemorySource(definition, async () => topics);
  return {
    type: 'SubscriptionTopic',
    interactions: ['read', 'search-type'],
    searchParams: searchParamDeclarations(definition),
    documentation: 'The topics a Subscription may name: ImagingStudy, Task and ServiceRequest events',
    async read(id) {
      const found = topics.find((topic) => topic.id === id);
      if (!found) throw notFound(`SubscriptionTopic/${id} is not known`);
      return found;
    },
    search: (request) => searchBundle(source(), request, registry),
    searchAll: (query, request, limit) => searchAllOf(source(), query, request, limit),
  };
}
