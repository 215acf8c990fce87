import { Command } from 'commander';
import { startCommand } from './start.ts';
import { topicsCommand } from './topics.ts';
import { eventsCommand } from './events.ts';
import { auditCommand } from './audit.ts';
import { secretsCommand } from './secrets.ts';
import { keysCommand, policiesCommand } from './keys.ts';
import { workflowsCommand } from './workflows.ts';
import { schedulesCommand } from './schedules.ts';

const program = new Command('aios')
  .description('AIOS: the operating layer for AI in industrial operations')
  .version('0.1.0')
  .showHelpAfterError();

program.addCommand(startCommand());
program.addCommand(topicsCommand());
program.addCommand(eventsCommand());
program.addCommand(workflowsCommand());
program.addCommand(schedulesCommand());
program.addCommand(auditCommand());
program.addCommand(secretsCommand());
program.addCommand(keysCommand());
program.addCommand(policiesCommand());

await program.parseAsync(process.argv);
