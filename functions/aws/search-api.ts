import { createSearchApi, readSearchApiConfig } from './search-api-handler.ts';

/**
 * Search function (container image of the fast function, another handler): configuration, clients
 * and the model set are opened once per process; a stack without search settings fails at cold start.
 */
export const handler = await createSearchApi(readSearchApiConfig(process.env));
