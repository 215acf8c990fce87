import { Command } from 'commander';
import { action, clientFrom, withRemote } from '../../cli-kit/index.ts';

/** `aios info`: the version, capabilities and instances of a running AIOS. */
export function infoCommand(): Command {
  return withRemote(new Command('info').description('show the version, capabilities and instances of a running AIOS')).action(
    action(async (o) => {
      const { body } = await clientFrom(o).request<Record<string, unknown>>('GET', '/api/v1/info');
      console.log(JSON.stringify(body, null, 2));
    }),
  );
}
