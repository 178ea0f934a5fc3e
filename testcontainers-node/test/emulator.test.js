// The module against the image built from container/ (tests/product/test_testcontainers.py
// runs this with a Docker-compatible socket in DOCKER_HOST; `npm test` does the same by hand).
// EMULATOR_IMAGE: the image (default localhost/profile-emulator:latest).
// EMULATOR_TEST_NETWORK_MODE: a network mode the host needs (the tests' podman: slirp4netns).
// EMULATOR_TEST_LABEL: key=value put on the container (the tests remove what carries theirs).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { EmulatorContainer, EmulatorError } from "../index.js";

const UPDATE = {
  firstName: "Ada",
  lastName: "Lovelace",
  dateOfBirth: "1985-12-10",
  gender: "F",
  email: "ada@example.com",
  postalZipCode: "H0H 0H0",
};
// The vendor's documented error for a taken email (seed 000, README's example).
const EMAIL_TAKEN = {
  statusCode: 400,
  errorCode: "EMAIL_ALREADY_EXISTS",
  errorMessage: "Sorry, that email address is already in use",
};

let emulator;

before(async () => {
  const container = new EmulatorContainer(process.env.EMULATOR_IMAGE || undefined);
  if (process.env.EMULATOR_TEST_NETWORK_MODE) {
    container.withNetworkMode(process.env.EMULATOR_TEST_NETWORK_MODE);
  }
  if (process.env.EMULATOR_TEST_LABEL) {
    const [key, value] = process.env.EMULATOR_TEST_LABEL.split("=");
    container.withLabels({ [key]: value });
  }
  emulator = await container.start();
});

after(async () => {
  await emulator?.stop();
});

function updateProfile(headers = {}) {
  return fetch(`${emulator.baseUrl}/client/users/seed-session-1/profile`, {
    method: "PUT",
    headers: { ...headers, "Content-Type": "application/json" },
    body: JSON.stringify(UPDATE),
  });
}

test("a fault injected in a new namespace: the vendor's error, then success, in the journal", async () => {
  const team = emulator.namespace();
  const id = await team.inject({
    error: "loyalty.EMAIL_ALREADY_EXISTS",
    operation: "updateProfile",
    times: 1,
  });
  const first = await updateProfile(team.headers);
  assert.equal(first.status, 400);
  assert.deepEqual(await first.json(), EMAIL_TAKEN);
  const second = await updateProfile(team.headers);
  assert.equal(second.status, 200);
  assert.deepEqual(await second.json(), { debugMessage: "Profile Updated" });

  const journal = await team.requests({ operation: "updateProfile" });
  assert.deepEqual(
    journal.map((call) => [call.status, call.rule]),
    [
      [400, id],
      [200, null],
    ],
  );
  assert.deepEqual(journal[1].body, UPDATE);

  await team.reset();
  assert.deepEqual(await team.requests(), []);
});

test("a scenario switched on in the default namespace, then reset", async () => {
  await emulator.activate("loyalty-flaky"); // the first two updates get 503 with Retry-After
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await updateProfile()).status);
  assert.deepEqual(statuses, [503, 503, 200]);
  assert.deepEqual(
    (await emulator.requests({ status: 503 })).map((call) => call.response.headers["retry-after"]),
    ["1", "1"],
  );
  await emulator.reset();
  assert.deepEqual(await emulator.requests(), []);
  assert.equal((await updateProfile()).status, 200);
  await emulator.reset();
});

test("namespaces keep their faults and journals apart", async () => {
  const one = emulator.namespace();
  const two = emulator.namespace();
  assert.notEqual(one.name, two.name);
  await one.inject({ fault: "connection_reset", operation: "updateProfile" });
  await assert.rejects(updateProfile(one.headers)); // the connection is reset: no answer
  assert.equal((await updateProfile(two.headers)).status, 200);
  assert.deepEqual((await one.requests()).map((call) => call.fault), ["connection_reset"]);
  assert.deepEqual((await two.requests()).map((call) => call.status), [200]);
});

test("the control API wants the container's token, and its refusals reject", async () => {
  const bare = await fetch(`${emulator.baseUrl}/_emulator/requests`);
  assert.equal(bare.status, 401);
  const health = await fetch(`${emulator.baseUrl}/_emulator/health`); // needs none
  assert.deepEqual(await health.json(), { status: "ok" });
  await assert.rejects(emulator.activate("no-such-scenario"), (error) => {
    assert.ok(error instanceof EmulatorError);
    assert.equal(error.status, 404);
    return true;
  });
});
