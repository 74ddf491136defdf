// Resolves flags with OpenFeature's Node server SDK and its OFREP provider, and fetches the
// same users' variants with Amplitude's Node server SDK. Input (stdin): {baseUrl, key, users,
// flags: [{key, type, default}], extra: [{key, type, default, context, providerKey?}]}.
// Output (stdout): {rows: [{context, amplitude, openfeature}], extra: [details]}.
const { OpenFeature } = require('@openfeature/server-sdk');
const { OFREPProvider } = require('@openfeature/ofrep-provider');
const { Experiment } = require('@amplitude/experiment-node-server');

const getters = {
  boolean: 'getBooleanDetails', string: 'getStringDetails',
  number: 'getNumberDetails', object: 'getObjectDetails',
};

function shown(details) {
  return { value: details.value, reason: details.reason ?? null, variant: details.variant ?? null,
           errorCode: details.errorCode ?? null };
}

async function client(baseUrl, key, domain) {
  const provider = new OFREPProvider({ baseUrl, headers: [['Authorization', `Bearer ${key}`]] });
  await OpenFeature.setProviderAndWait(domain, provider);
  return OpenFeature.getClient(domain);
}

async function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const openfeature = await client(input.baseUrl, input.key, 'flagyard');
  const amplitude = Experiment.initializeRemote(input.key, { serverUrl: input.baseUrl });
  const rows = [];
  for (const context of input.users) {
    const user = { user_id: context.targetingKey, device_id: context.targetingKey };
    if (context.country) user.country = context.country;
    const variants = await amplitude.fetchV2(user);
    const resolved = {};
    for (const flag of input.flags) {
      resolved[flag.key] = shown(await openfeature[getters[flag.type]](flag.key, flag.default, context));
    }
    rows.push({ context, amplitude: variants, openfeature: resolved });
  }
  const extra = [];
  for (const [index, item] of input.extra.entries()) {
    const of = item.providerKey ? await client(input.baseUrl, item.providerKey, `extra-${index}`) : openfeature;
    extra.push(shown(await of[getters[item.type]](item.key, item.default, item.context)));
  }
  process.stdout.write(JSON.stringify({ rows, extra }));
  await OpenFeature.close();
}

main().catch((error) => { console.error(error); process.exit(1); });
