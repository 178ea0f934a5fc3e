// The profile-emulator container image under Testcontainers for Node.js: one emulator per test
// file or suite, started and removed by the test itself.
//
//   import { EmulatorContainer } from "profile-emulator-testcontainers";
//
//   const emulator = await new EmulatorContainer().start(); // localhost/profile-emulator:latest
//   const team = emulator.namespace();                       // a namespace of its own
//   await team.inject({ error: "loyalty.EMAIL_ALREADY_EXISTS", operation: "updateProfile", times: 1 });
//   await fetch(`${emulator.baseUrl}/client/users/seed-session-1/profile`,
//               { method: "PUT", headers: { ...team.headers, "Content-Type": "application/json" }, body });
//   (await team.requests({ operation: "updateProfile" })).map((call) => call.status); // [400]
//   await emulator.stop();
//
// The same API as the Python module (emulator/testcontainers.py): baseUrl, namespace(),
// activate(scenario), inject(rule), requests(filters) (the journal) and reset(), the last four
// on the "default" namespace. The image wants a control token once its port is published: a
// random one is made unless one is given, and every call made here sends it.

import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";

import { AbstractStartedContainer, GenericContainer, Wait } from "testcontainers";

export const IMAGE = "localhost/profile-emulator:latest"; // what container/build.sh tags
export const PORT = 8080; // the port the image listens on (its health check asks there)
export const NAMESPACE_HEADER = "X-Emulator-Namespace";

/** The control API refused a call: `status` and `body` say why. */
export class EmulatorError extends Error {
  constructor(method, path, status, body) {
    const detail = body && typeof body === "object" ? (body.detail ?? "") : String(body);
    super(`${method} ${path}: ${status} ${detail}`);
    this.name = "EmulatorError";
    this.status = status;
    this.body = body;
    this.detail = detail;
  }
}

/** One container of the emulator's image; GenericContainer's builder methods all apply. */
export class EmulatorContainer extends GenericContainer {
  constructor(image = IMAGE, { token } = {}) {
    super(image);
    this.token = token ?? randomBytes(16).toString("hex");
    this.withExposedPorts(PORT)
      .withEnvironment({ EMULATOR_CONTROL_TOKEN: this.token })
      .withWaitStrategy(Wait.forHttp("/_emulator/health", PORT).forStatusCode(200))
      .withStartupTimeout(60_000);
  }

  /** A folder laid out as the repository's fixtures/, mounted read-only on /fixtures. */
  withFixtures(folder) {
    return this.withBindMounts([{ source: path.resolve(folder), target: "/fixtures", mode: "ro" }]);
  }

  /** More `profile-emulator serve` options (--log-level, ...). */
  withServeArguments(...args) {
    return this.withCommand(args);
  }

  async start() {
    return new StartedEmulatorContainer(await super.start(), this.token);
  }
}

export class StartedEmulatorContainer extends AbstractStartedContainer {
  constructor(started, token) {
    super(started);
    this.token = token;
    this.baseUrl = `http://${this.getHost()}:${this.getMappedPort(PORT)}`;
    this.default = this.namespace("default");
  }

  /** The control API of a namespace (a new one unless named). */
  namespace(name) {
    return new EmulatorNamespace(this.baseUrl, name ?? `ns-${randomUUID()}`, this.token);
  }

  activate(scenario) {
    return this.default.activate(scenario);
  }

  inject(rule) {
    return this.default.inject(rule);
  }

  requests(filters) {
    return this.default.requests(filters);
  }

  reset() {
    return this.default.reset();
  }
}

// inject()'s keys that say which calls a rule matches (the rest say what it does).
const MATCH = ["api", "operation", "pathParams", "headers", "body"];

/** The control API of one namespace: what emulator.client.Emulator is in Python. */
export class EmulatorNamespace {
  constructor(baseUrl, name, token) {
    this.baseUrl = baseUrl;
    this.name = name;
    this.token = token;
  }

  /** Headers for the code under test's own vendor calls: they put it in this namespace. */
  get headers() {
    return { [NAMESPACE_HEADER]: this.name };
  }

  /** Switch a scenario of the fixtures on; its rules go in front of the others. */
  async activate(scenario) {
    await this.#call("PUT", `/scenarios/${encodeURIComponent(scenario)}`);
  }

  /**
   * Add a fault rule; resolve to its id. The action: `error` (a catalogue name), `fault`
   * (connection_reset, empty_response, malformed_body, timeout) or `respond`, and/or
   * `delayMs`/`delay`. Which calls: `api`, `operation`, `pathParams`, `headers`, `body`.
   * How often: `times`, `after`, `probability`, `ttlSeconds`. Also `id`, `description`,
   * `stage`. (The control API's own JSON, with `match`, is accepted as it is.)
   */
  async inject(rule = {}) {
    const match = { ...(rule.match ?? {}) };
    const rest = {};
    for (const [key, value] of Object.entries(rule)) {
      if (value === undefined || key === "match") continue;
      if (MATCH.includes(key)) match[key] = value;
      else rest[key] = value;
    }
    return (await this.#call("POST", "/faults", { ...rest, match })).id;
  }

  /**
   * The namespace's journal, oldest first. Filters: api, operation, status, limit, path,
   * body, rule, since, until, after (as GET /_emulator/requests takes them).
   */
  async requests(filters = {}) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) {
      if (value !== undefined && value !== null) query.set(key, String(value));
    }
    const suffix = query.size ? `?${query}` : "";
    return (await this.#call("GET", `/requests${suffix}`)).requests;
  }

  /** The namespace back to its fixtures: state, config, rules, scenarios, journal. */
  async reset() {
    await this.#call("POST", "/reset");
  }

  async #call(method, path, json) {
    const headers = { ...this.headers, Authorization: `Bearer ${this.token}` };
    const init = { method, headers };
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    const response = await fetch(`${this.baseUrl}/_emulator${path}`, init);
    const text = await response.text();
    let body = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: the text itself
    }
    if (response.status >= 400) {
      throw new EmulatorError(method, `/_emulator${path}`, response.status, body);
    }
    return body;
  }
}
