import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import type { InstanceStart, InstanceStarts } from './instance-starts.ts';

/** What `GET /api/v1/info` answers: this build, its capabilities, this process, and who else started here. */
export interface Info {
  readonly version: string;
  readonly capabilities: readonly string[];
  readonly instance: InstanceStart;
  readonly instances: readonly InstanceStart[];
}

/** This process's identity, and the record of its start. */
export class InstanceInfo {
  readonly #starts: InstanceStarts;
  readonly #capabilities: readonly string[];
  readonly instance: InstanceStart;

  constructor(opts: { starts: InstanceStarts; instance: InstanceStart; capabilities: readonly string[]; metrics: Registry }) {
    this.#starts = opts.starts;
    this.#capabilities = opts.capabilities;
    this.instance = opts.instance;
    const build = new Gauge({ name: 'aios_info', help: 'Always 1; its labels name the version and this instance', labelNames: ['version', 'instance'], registers: [opts.metrics] });
    build.set({ version: opts.instance.version, instance: opts.instance.name }, 1);
  }

  /** Written at start, after the migrations. */
  recordStart(): Promise<void> {
    return this.#starts.record(this.instance);
  }

  async read(opts: { instances: number }): Promise<Info> {
    return { version: this.instance.version, capabilities: this.#capabilities, instance: this.instance, instances: await this.#starts.latest(opts.instances) };
  }

  instanceById(id: string): Promise<InstanceStart> {
    return this.#starts.get(id);
  }
}
