/**
 * Which login-name rules the stored keys were computed under, and how every adapter
 * recomputes them when the rules change: the same plan for SQLite and PostgreSQL, so that an
 * account ends up with the same key, skeleton and conflict on either.
 *
 * @module
 */
import { loginKey, loginSkeleton } from "../../protocol/mod.ts";

/**
 * Which rules computed the stored login_key and login_skeleton columns. When the rules or
 * their Unicode data change, opening the database recomputes both for every row.
 */
export const NAME_RULES_VERSION = "precis-8265/uts39-17.0.0/confusables-13.0.0/1";

/** A stored user as the refresh reads it. */
export interface NameRow {
  /** The row's id. */
  id: number;
  /** The login in display case. */
  login: string;
  /** The login_key stored now. */
  key: string;
}

/** What the refresh writes for one row. */
export interface NamePlan {
  id: number;
  /** The row's login_key: the new one, or its old one when another row holds the new one. */
  key: string;
  /** The row's login_skeleton, or null when it collides. */
  skeleton: string | null;
  /** The login of the account this one collides with, or null. */
  conflict: string | null;
}

/**
 * Plans the recomputation of every user's keys under the current rules, for rows given
 * oldest first. A row whose new key another row holds keeps its old key (nothing is lost;
 * the name now reaches the other account), so an account whose key does not change never
 * loses its name, and among changed ones the older wins. A row whose skeleton an older row
 * has gets no skeleton. Both record the other login as their conflict. Applied in order,
 * one row at a time, every step keeps login_key unique.
 *
 * @example
 * ```ts
 * import { planNameKeys } from "./name_rules.ts";
 * const plan = planNameKeys([
 *   { id: 1, login: "alice", key: "alice" },
 *   { id: 2, login: "aIice", key: "aiice" },
 * ]);
 * console.log(plan[1]!.conflict); // "alice": the same skeleton
 * ```
 */
export function planNameKeys(rows: readonly NameRow[]): NamePlan[] {
  const byKey = new Map<string, NameRow>();
  for (const row of rows) byKey.set(row.key, row);
  const bySkeleton = new Map<string, string>();
  const plan: NamePlan[] = [];
  for (const row of rows) {
    const key = loginKey(row.login);
    const holder = byKey.get(key);
    if (holder !== undefined && holder.id !== row.id) {
      plan.push({ id: row.id, key: row.key, skeleton: null, conflict: holder.login });
      continue;
    }
    if (row.key !== key) {
      byKey.delete(row.key);
      byKey.set(key, row);
    }
    const skeleton = loginSkeleton(row.login);
    const alike = bySkeleton.get(skeleton);
    if (alike !== undefined) {
      plan.push({ id: row.id, key, skeleton: null, conflict: alike });
    } else {
      bySkeleton.set(skeleton, row.login);
      plan.push({ id: row.id, key, skeleton, conflict: null });
    }
  }
  return plan;
}
