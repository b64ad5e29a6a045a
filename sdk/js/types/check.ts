// Compiled by `npm run check:types` (tsc --noEmit): the declarations are consistent and a
// page written against them type-checks. Not shipped.

import { createClient, fileCache, memoryCache, LocalStorageStickyStore, type ClientAnswer, type Client } from "@splitlab/sdk";

const client: Client = createClient({
  url: "https://splitlab.example.com",
  sdkKey: "sdk-key",
  unitId: "user-1",
  attributes: { country: "US", beta: true, visits: 3 },
  defaults: { "exp-checkout": "control" },
  cache: memoryCache(),
  sticky: new LocalStorageStickyStore(),
  onError: (error: Error, where: string) => console.warn(where, error.message),
});

async function page(): Promise<string | null> {
  const status = await client.ready();
  const source: "config" | "cache" | "server" | "fallback" = status.source;
  const answer: ClientAnswer = client.getVariant("exp-checkout", { attributes: { plan: "pro" } });
  const queued: number = client.track("purchase", 49.5, { experimentId: "exp-checkout" });
  await client.flush();
  await client.close();
  void fileCache("/tmp/splitlab-cache.json");
  // the DOM's own EventSource class is accepted as the option (Node polyfills are alike)
  void createClient({ url: "https://splitlab.example.com", sdkKey: "sdk-key", EventSource });
  void source;
  void queued;
  return answer.variant;
}

void page;
