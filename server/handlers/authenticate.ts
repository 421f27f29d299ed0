/**
 * authenticate after login.
 *
 * @module
 */
import { JimError, Status } from "../../protocol/mod.ts";
import type { Handler } from "./context.ts";

/** A logged-in session cannot log in again: 409. (Before login, the login machine answers.) */
export const authenticate: Handler<"authenticate"> = () => {
  throw new JimError(Status.CONFLICT, "Already authenticated");
};
