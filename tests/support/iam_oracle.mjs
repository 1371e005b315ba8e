// An independent IAM evaluator for the tests: @cloud-copilot/iam-simulate as a persistent
// subprocess (driven by tests/support/iam_oracle.py, which documents the semantics we rely on).
//
// Protocol: JSON lines. On start it writes one line
//   {"ready": true, "iamSimulate": "<version>", "node": "<version>"}
// then, for every request line
//   {"id": n, "policy": {...}, "resources": ["arn:...", ...], "action": "execute-api:Invoke",
//    "engine": "unsafe" | "validated"}           (action and engine optional)
// it writes, in order,
//   {"id": n, "results": ["Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied", ...]}
// or {"id": n, "error": <message or validation errors>}.
//
// Each resource is one request by the IAM user arn:aws:iam::123456789012:user/caller, evaluated
// against the policy as its only identity policy: no resource policy, SCP, RCP, permission
// boundary or session policy, no context keys. The request's resource account is always the
// principal's account, so the decision is the identity policy's alone, whatever account the ARN
// names (API Gateway treats the ARN's fields as text to match, not as an account boundary).
//
// Engine "unsafe" (default): runUnsafeSimulation, the core engine without input validation.
//   The policy is validated first, once per distinct policy text, by runSimulation (the
//   validating entry point) against a fixed concrete ARN: an invalid policy is an error, as it
//   is for API Gateway. runSimulation itself cannot be the engine: it refuses the root ARN
//   ".../prod/GET/" (no.resource.types: iam-data's execute-api-general type needs a non-empty
//   path), and a "*" in the requested ARN switches it to wildcard mode (any overlap allows).
// Engine "validated": runSimulation per resource; a refusal is reported as "Error:<message>".
//   For tests that pin how the two entry points differ.

import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

const ACCOUNT = '123456789012'
const PRINCIPAL = `arn:aws:iam::${ACCOUNT}:user/caller`
const DEFAULT_ACTION = 'execute-api:Invoke'
const VALIDATION_ARN = `arn:aws:execute-api:eu-west-1:${ACCOUNT}:abcdef1234/prod/GET/oracle-validation`
const VALIDATION_CACHE_SIZE = 10000

function packageVersion() {
  let dir = dirname(fileURLToPath(import.meta.resolve('@cloud-copilot/iam-simulate')))
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
      if (manifest.name === '@cloud-copilot/iam-simulate') return manifest.version
    } catch {
      // no package.json at this level (dist/esm has one without a name): keep climbing
    }
    const parent = dirname(dir)
    if (parent === dir) return 'unknown'
    dir = parent
  }
}

function simulation(policy, action, resource) {
  return {
    identityPolicies: [{ name: 'authorizer-answer', policy }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action,
      principal: PRINCIPAL,
      resource: { resource, accountId: ACCOUNT },
      contextVariables: {}
    }
  }
}

// policy text -> null (valid) or the validation errors
const validations = new Map()

async function validationErrors(policy, action, key) {
  if (validations.has(key)) return validations.get(key)
  const response = await runSimulation(simulation(policy, action, VALIDATION_ARN), {})
  const errors = response.resultType === 'error' ? response.errors : null
  if (validations.size >= VALIDATION_CACHE_SIZE) validations.clear()
  validations.set(key, errors)
  return errors
}

async function handle(request) {
  const { id, policy, resources } = request
  const action = request.action ?? DEFAULT_ACTION
  const engine = request.engine ?? 'unsafe'
  if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string')) {
    return { id, error: 'resources must be a list of strings' }
  }
  if (engine === 'validated') {
    const results = []
    for (const resource of resources) {
      const response = await runSimulation(simulation(policy, action, resource), {})
      results.push(
        response.resultType === 'error' ? `Error:${response.errors.message}` : response.overallResult
      )
    }
    return { id, results }
  }
  if (engine !== 'unsafe') return { id, error: `unknown engine ${JSON.stringify(engine)}` }
  const errors = await validationErrors(policy, action, JSON.stringify([action, policy]))
  if (errors !== null) return { id, error: errors }
  return {
    id,
    results: resources.map((resource) =>
      runUnsafeSimulation(simulation(policy, action, resource), {})
    )
  }
}

function write(message) {
  process.stdout.write(JSON.stringify(message) + '\n')
}

write({ ready: true, iamSimulate: packageVersion(), node: process.version })
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === '') continue
  let request
  try {
    request = JSON.parse(line)
  } catch (error) {
    write({ id: null, error: `not JSON: ${error.message}` })
    continue
  }
  try {
    write(await handle(request))
  } catch (error) {
    write({ id: request?.id ?? null, error: `${error.name}: ${error.message}` })
  }
}
