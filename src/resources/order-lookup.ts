// The order a study was made for, looked up in the search index by the keys
// the indexer gives every ServiceRequest (search-indexer.ts): by
// StudyInstanceUID, else by AccessionNumber. A few index reads, whatever
// the number of orders.
import type { Resource } from '../fhir/types';
import type { Store } from '../store/store';
import { ORDER_KEYS } from './search-indexer';

export async function orderOfStudy(
  store: Store,
  uid: string | undefined,
  accession: string | undefined,
  accept: (order: Resource) => boolean = () => true,
): Promise<Resource | undefined> {
  for (const [key, value] of [[ORDER_KEYS.studyUid, uid], [ORDER_KEYS.accession, accession]] as const) {
    if (!value) continue;
    for (const id of await store.lookup('ServiceRequest', key, [value])) {
      const order = (await store.current('ServiceRequest', id))?.resource;
      if (order && accept(order)) return order;
    }
  }
  return undefined;
}
