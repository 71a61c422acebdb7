import { MemoryVectorIndex } from '#engine/search/memory-vector-index.ts';
import { describeVectorIndexContract } from '#test/search/vector-index-contract.ts';

describeVectorIndexContract('MemoryVectorIndex', async () => new MemoryVectorIndex());
