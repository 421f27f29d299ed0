/**
 * Cluster mode (issue 14), as `jim-server serve --cluster` and embedders start it: join a
 * NATS cluster as a named node and get the {@linkcode Hub} to pass to `JimServer.listen()`.
 * The NATS client is loaded only here, and only when a cluster is joined, so a single
 * server never loads it.
 *
 * @module
 */
import type { Hub } from "./hub/hub.ts";
import type { NatsHubOptions } from "./hub/nats_hub.ts";

export type { NatsHubOptions };

const NATS_HUB_MODULE: string = new URL("./hub/nats_hub.ts", import.meta.url).href;
type NatsHubModule = typeof import("./hub/nats_hub.ts");

export { NODE_NAME_PATTERN } from "./hub/_cluster_names.ts";

/** A cluster hub: a {@linkcode Hub} that knows its node and is closed by its owner. */
export type ClusterHub = Hub & { readonly node: string; readonly connected: boolean };

/**
 * Joins the cluster at `options.servers` as node `options.node`. Close the hub after the
 * server that uses it (`JimServer` does not close a hub it was given): that deletes the
 * node's leases, so its users are offline at once.
 *
 * @throws {Error} "Cannot join the cluster at URL: …".
 * @example
 * ```ts ignore
 * import { joinCluster, JimServer, openStorage } from "./mod.ts";
 * const storage = await openStorage("postgres://jim@db.example/jim");
 * const hub = await joinCluster({ servers: "nats://127.0.0.1:4222", node: "a" });
 * const server = await JimServer.listen({ storage, hub, port: 7777, reusePort: true });
 * await server.finished;
 * await hub.close();
 * await storage.close();
 * ```
 */
export async function joinCluster(options: NatsHubOptions): Promise<ClusterHub> {
  const { NatsHub }: NatsHubModule = await import(NATS_HUB_MODULE);
  return await NatsHub.connect(options);
}

/**
 * The node name `serve` uses without `--node-name`: this machine's host name and the chat
 * port, with the process id for port 0 (which is not known before listening).
 *
 * @example
 * ```ts
 * import { defaultNodeName } from "./cluster.ts";
 * defaultNodeName(7777); // e.g. "chat1:7777"
 * ```
 */
export function defaultNodeName(port: number): string {
  let host = "localhost";
  try {
    host = Deno.hostname();
  } catch {
    // No permission to read it: "localhost" then.
  }
  const name = `${host.replace(/[^\w.:@-]/g, "-").slice(0, 80)}:${
    port === 0 ? `0-${Deno.pid}` : port
  }`;
  return name;
}

/**
 * Parses `--cluster`: one or more `nats://HOST:PORT` URLs, comma-separated.
 *
 * @returns the URLs, or undefined with the reason they are not valid.
 * @example
 * ```ts
 * import { parseClusterUrls } from "./cluster.ts";
 * parseClusterUrls("nats://a:4222,nats://b:4222"); // { urls: ["nats://a:4222", "nats://b:4222"] }
 * ```
 */
export function parseClusterUrls(text: string): { urls: string[] } | { problem: string } {
  const urls = text.split(",").map((part) => part.trim());
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { problem: `not a URL: ${JSON.stringify(url)}` };
    }
    if (!["nats:", "tls:"].includes(parsed.protocol) || parsed.hostname === "") {
      return { problem: `expected nats://HOST:PORT, got ${JSON.stringify(url)}` };
    }
  }
  return { urls };
}
