// Types of index.js: the profile-emulator container image under Testcontainers for Node.js.
import { AbstractStartedContainer, GenericContainer, StartedTestContainer } from "testcontainers";

export declare const IMAGE: string;
export declare const PORT: number;
export declare const NAMESPACE_HEADER: string;

/** The control API refused a call: `status` and `body` say why. */
export declare class EmulatorError extends Error {
  constructor(method: string, path: string, status: number, body: unknown);
  readonly status: number;
  readonly body: unknown;
  readonly detail: string;
}

/** One container of the emulator's image; GenericContainer's builder methods all apply. */
export declare class EmulatorContainer extends GenericContainer {
  constructor(image?: string, options?: { token?: string });
  /** The control token the container is started with (a random one unless given). */
  readonly token: string;
  /** A folder laid out as the repository's fixtures/, mounted read-only on /fixtures. */
  withFixtures(folder: string): this;
  /** More `profile-emulator serve` options (--log-level, ...). */
  withServeArguments(...args: string[]): this;
  start(): Promise<StartedEmulatorContainer>;
}

export declare class StartedEmulatorContainer extends AbstractStartedContainer {
  constructor(started: StartedTestContainer, token: string);
  /** `http://HOST:PORT` of the emulator: the vendor APIs and /_emulator. */
  readonly baseUrl: string;
  readonly token: string;
  /** The namespace vendor calls without X-Emulator-Namespace reach. */
  readonly default: EmulatorNamespace;
  /** The control API of a namespace (a new one unless named). */
  namespace(name?: string): EmulatorNamespace;
  activate(scenario: string): Promise<void>;
  inject(rule: FaultRule): Promise<string>;
  requests(filters?: JournalFilters): Promise<JournalEntry[]>;
  reset(): Promise<void>;
}

/** A fault rule, as inject() takes it: what it does and which calls it matches. */
export interface FaultRule {
  /** A catalogue name, e.g. "loyalty.EMAIL_ALREADY_EXISTS" (GET /_emulator/errors). */
  error?: string;
  fault?: "connection_reset" | "empty_response" | "malformed_body" | "timeout";
  respond?: { status: number; headers?: Record<string, string>; body?: unknown };
  delayMs?: number;
  delay?: { uniform: [number, number] } | { lognormal: Record<string, number> };
  api?: string;
  operation?: string;
  pathParams?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Record<string, unknown>;
  /** The control API's own form of the five keys above. */
  match?: Record<string, unknown>;
  times?: number;
  after?: number;
  probability?: number;
  ttlSeconds?: number;
  id?: string;
  description?: string;
  stage?: "arrival" | "checked";
}

export interface JournalFilters {
  api?: string;
  operation?: string;
  status?: number;
  limit?: number;
  path?: string;
  body?: string;
  rule?: string;
  since?: string;
  until?: string;
  after?: number;
}

/** One journaled vendor call (GET /_emulator/requests; openapi/control.yaml's JournalEntry). */
export interface JournalEntry {
  id: number;
  api: string;
  operation: string | null;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: unknown;
  bodySize: number;
  bodyTruncated: boolean;
  /** null after a transport fault */
  status: number | null;
  rule: string | null;
  fault: "connection_reset" | "empty_response" | "malformed_body" | "timeout" | null;
  at: string;
  durationMs: number;
  response: {
    status: number;
    headers: Record<string, string>;
    body: unknown;
    size: number;
    truncated: boolean;
  } | null;
  actedBy: Record<string, unknown> | null;
}

/** The control API of one namespace: what emulator.client.Emulator is in Python. */
export declare class EmulatorNamespace {
  constructor(baseUrl: string, name: string, token: string);
  readonly baseUrl: string;
  readonly name: string;
  /** Headers for the code under test's own vendor calls: they put it in this namespace. */
  readonly headers: Record<string, string>;
  activate(scenario: string): Promise<void>;
  inject(rule: FaultRule): Promise<string>;
  requests(filters?: JournalFilters): Promise<JournalEntry[]>;
  reset(): Promise<void>;
}
