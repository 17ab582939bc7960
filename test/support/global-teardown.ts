export default async function globalTeardown(): Promise<void> {
  const embedded = (globalThis as { __TESSERA_EMBEDDED__?: { stop(): Promise<void> } })
    .__TESSERA_EMBEDDED__;
  if (embedded) await embedded.stop();
}
