import { Command } from 'commander';
import { CAPABILITIES } from '../runtime/capabilities.ts';
import { CONFIG_OPTIONS, loadConfig, MIGRATIONS } from '../runtime/assembled.ts';
import { startCommand } from './start.ts';

const program = new Command('aios')
  .description('AIOS: the operating layer for AI in industrial operations')
  .version('0.1.0')
  .showHelpAfterError();

program.addCommand(startCommand(CONFIG_OPTIONS, loadConfig));
// Each capability's commands, in the order of the capability list.
for (const c of CAPABILITIES) for (const cmd of c.cli?.({ loadConfig, migrations: MIGRATIONS }) ?? []) program.addCommand(cmd);

await program.parseAsync(process.argv);
