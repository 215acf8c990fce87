import { Command } from 'commander';
import { startCommand } from './start.ts';
import { topicsCommand } from './topics.ts';
import { eventsCommand } from './events.ts';

const program = new Command('aios')
  .description('AIOS: the operating layer for AI in industrial operations')
  .version('0.1.0')
  .showHelpAfterError();

program.addCommand(startCommand());
program.addCommand(topicsCommand());
program.addCommand(eventsCommand());

await program.parseAsync(process.argv);
