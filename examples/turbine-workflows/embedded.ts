/**
 * AIOS as a library: this process runs AIOS (API, workers, scheduler) and registers its own
 * workflows. Run it with `npx tsx examples/turbine-workflows/embedded.ts`.
 */
import { createAios } from 'aios';
import { inspectTurbine } from './app.ts';

const aios = await createAios({ config: { dataDir: process.env.AIOS_DATA_DIR ?? './.aios-embedded', port: Number(process.env.AIOS_PORT ?? 8081) } });
aios.register(inspectTurbine);
await aios.start({ listen: true });
await aios.events.createTopic('default', { name: 'work-orders', keyField: 'turbine' });

// A confident alert goes straight to a work order.
const run = await aios.workflows.startRun('default', 'inspect-turbine', { turbine: 'T-17', score: 0.93 }, { id: 'alert-T-17-0001', createdBy: 'service:anomaly-model' });
for (let i = 0; i < 200 && (await aios.workflows.getRun('default', run.id))?.status !== 'completed'; i++) await new Promise((r) => setTimeout(r, 25));
console.log(JSON.stringify(await aios.workflows.getRun('default', run.id)));

process.once('SIGTERM', () => void aios.stop());
if (process.env.AIOS_EXAMPLE_EXIT === '1') await aios.stop();
