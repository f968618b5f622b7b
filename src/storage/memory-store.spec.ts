import { storeConformance } from '../../test/conformance/store-conformance.ts';
import { MemoryStore } from './memory-store.ts';

storeConformance('MemoryStore', async ({ maxBytes }) => new MemoryStore({ maxBytes }));
