/**
 * A list of chat servers to try in turn: `a:7777,b:7777`, as `--host`, `JIM_HOST` and the
 * chat GUI's Server field take it. The nodes of a cluster serve the same accounts, so a
 * client that loses one goes on to the next.
 *
 * @module
 */
import { UsageError } from "../common/usage.ts";

/** One server of a list. */
export interface ServerAddress {
  /** Host name or IP address, IPv6 without brackets. */
  host: string;
  /** TCP port, 1 to 65535. */
  port: number;
}

/** The most servers one list may name. */
export const MAX_SERVERS = 32;
/** Longest host name (the DNS limit). */
const MAX_HOST_LENGTH = 253;
const NAME = /^[\p{L}\p{N}._-]+$/u;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/**
 * Parses a comma-separated server list. Each entry is `HOST`, `HOST:PORT`, `[IPV6]`,
 * `[IPV6]:PORT` or a bare IPv6 address (which cannot carry a port: use brackets for that);
 * an entry without a port takes `defaultPort`. Blanks around entries are ignored.
 *
 * @example
 * ```ts
 * import { parseServerList } from "./server_list.ts";
 * parseServerList("a.example:7777, [::1]:7778, b", 7000);
 * // [{ host: "a.example", port: 7777 }, { host: "::1", port: 7778 }, { host: "b", port: 7000 }]
 * ```
 * @throws {UsageError} for an empty entry, a malformed host or port, a server named twice,
 *   or more than {@linkcode MAX_SERVERS} entries; the message names the entry.
 */
export function parseServerList(
  text: string,
  defaultPort: number,
  source = "host",
): ServerAddress[] {
  const entries = text.split(",").map((e) => e.trim());
  if (entries.length > MAX_SERVERS) {
    throw new UsageError(
      `Invalid ${source}: at most ${MAX_SERVERS} servers, got ${entries.length}`,
    );
  }
  const servers: ServerAddress[] = [];
  const seen = new Map<string, string>();
  entries.forEach((entry, i) => {
    const shown = JSON.stringify(entry.length > 80 ? `${entry.slice(0, 80)}…` : entry);
    const bad = (why: string) =>
      new UsageError(
        entries.length === 1
          ? `Invalid ${source}: ${shown} ${why}`
          : `Invalid ${source}: server ${i + 1} of ${entries.length}, ${shown}, ${why}`,
      );
    if (entry === "") {
      throw new UsageError(
        entries.length === 1
          ? `Invalid ${source}: must not be empty`
          : `Invalid ${source}: server ${i + 1} of ${entries.length} is empty (a stray comma?)`,
      );
    }
    const server = parseEntry(entry, defaultPort, bad);
    const key = formatServer(server).toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) throw bad(`names ${first} a second time`);
    seen.set(key, formatServer(server));
    servers.push(server);
  });
  return servers;
}

function parseEntry(
  entry: string,
  defaultPort: number,
  bad: (why: string) => UsageError,
): ServerAddress {
  let host: string;
  let portText: string | undefined;
  if (entry.startsWith("[")) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
    if (!m) throw bad("is not [IPV6] or [IPV6]:PORT");
    host = m[1]!;
    portText = m[2];
    if (!IPV6.test(host) || !host.includes(":")) throw bad("is not an IPv6 address in brackets");
  } else {
    const colons = entry.split(":").length - 1;
    if (colons > 1) {
      // A bare IPv6 address: its last group cannot be told from a port.
      host = entry;
      if (!IPV6.test(host)) throw bad("is not HOST, HOST:PORT or [IPV6]:PORT");
    } else {
      [host, portText] = colons === 1 ? entry.split(":") as [string, string] : [entry, undefined];
      if (host === "" || host.length > MAX_HOST_LENGTH || !NAME.test(host)) {
        throw bad("is not a host name or an IP address");
      }
    }
  }
  let port = defaultPort;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
      throw bad("has a port that is not from 1 to 65535");
    }
  }
  return { host, port };
}

/**
 * `host:port`, with IPv6 addresses in brackets: the form {@linkcode parseServerList} reads.
 *
 * @example
 * ```ts
 * import { formatServer } from "./server_list.ts";
 * formatServer({ host: "::1", port: 7777 }); // "[::1]:7777"
 * ```
 */
export function formatServer(server: ServerAddress): string {
  return server.host.includes(":")
    ? `[${server.host}]:${server.port}`
    : `${server.host}:${server.port}`;
}

/**
 * The list as {@linkcode parseServerList} reads it back: `a:7777,[::1]:7778`.
 *
 * @example
 * ```ts
 * import { formatServerList } from "./server_list.ts";
 * formatServerList([{ host: "a", port: 1 }, { host: "b", port: 2 }]); // "a:1,b:2"
 * ```
 */
export function formatServerList(servers: readonly ServerAddress[]): string {
  return servers.map(formatServer).join(",");
}
