import type { RemoteClients } from '#engine/models/remote-client.ts';

/**
 * The clients every entry point gives its registry for remote models (createEngine wires them).
 * Imported on first use: a deployment without remote models never loads the Bedrock SDK.
 */
export const remoteClients: RemoteClients = {
  openAiCompatible: async (spec, options) =>
    (await import('./openai-chat-client.ts')).openAiChatClient(spec, options),
  bedrock: async (spec) => (await import('./bedrock-converse-client.ts')).bedrockConverseClient(spec),
};
