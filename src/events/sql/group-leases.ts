import type { Kysely } from 'kysely';
import type { Topic } from '../topic.ts';
import type { EventsTables } from './tables.ts';

/**
 * Splits a consumer group's partitions among its live members, across processes: each member
 * heartbeats, counts the live members N, and holds about ceil(P / N) partition leases. A member
 * above its share releases the extra partitions; one below claims partitions whose lease
 * expired or was released. A member that dies stops heartbeating, and its leases expire after
 * `leaseMs`, so its partitions move to the others.
 *
 * The claim is one `insert ... on conflict do update ... where expires_at < now`: of two members
 * racing for a partition, exactly one row update wins, on SQLite and PostgreSQL alike.
 */
export class GroupLeases {
  constructor(
    private readonly db: Kysely<EventsTables>,
    private readonly topic: Topic,
    private readonly group: string,
    private readonly member: string,
    private readonly leaseMs: number,
  ) {}

  #key() {
    return { topic_id: this.topic.topicId, group_name: this.group };
  }

  /** Heartbeats, renews, releases or claims; returns the partitions this member now owns. */
  async rebalance(partitions: readonly number[], now: number): Promise<Set<number>> {
    const { topic_id, group_name } = this.#key();
    const expires = now + this.leaseMs;
    await this.db
      .insertInto('aios_group_members')
      .values({ topic_id, group_name, member_id: this.member, ns: this.topic.ns, heartbeat_at: now })
      .onConflict((oc) => oc.columns(['topic_id', 'group_name', 'member_id']).doUpdateSet({ heartbeat_at: now }))
      .execute();
    await this.db.deleteFrom('aios_group_members').where('topic_id', '=', topic_id).where('group_name', '=', group_name).where('heartbeat_at', '<', now - this.leaseMs).execute();
    const members = await this.db.selectFrom('aios_group_members').select('member_id').where('topic_id', '=', topic_id).where('group_name', '=', group_name).execute();
    const share = Math.ceil(partitions.length / Math.max(members.length, 1));

    await this.db
      .updateTable('aios_group_leases')
      .set({ expires_at: expires })
      .where('topic_id', '=', topic_id)
      .where('group_name', '=', group_name)
      .where('member_id', '=', this.member)
      .execute();
    const leases = await this.db.selectFrom('aios_group_leases').select(['partition', 'member_id', 'expires_at']).where('topic_id', '=', topic_id).where('group_name', '=', group_name).execute();
    const mine = leases.filter((l) => l.member_id === this.member).map((l) => Number(l.partition)).sort((a, b) => a - b);

    if (mine.length > share) {
      const extra = mine.slice(share);
      await this.db.deleteFrom('aios_group_leases').where('topic_id', '=', topic_id).where('group_name', '=', group_name).where('member_id', '=', this.member).where('partition', 'in', extra).execute();
      return new Set(mine.slice(0, share));
    }
    const owned = new Set(mine);
    const taken = new Set(leases.filter((l) => l.member_id !== this.member && Number(l.expires_at) >= now).map((l) => Number(l.partition)));
    for (const p of partitions) {
      if (owned.size >= share) break;
      if (owned.has(p) || taken.has(p)) continue;
      const won = await this.db
        .insertInto('aios_group_leases')
        .values({ topic_id, group_name, partition: p, ns: this.topic.ns, member_id: this.member, expires_at: expires })
        .onConflict((oc) =>
          oc
            .columns(['topic_id', 'group_name', 'partition'])
            .doUpdateSet({ member_id: this.member, expires_at: expires })
            .where('aios_group_leases.expires_at', '<', now),
        )
        .returning('partition')
        .executeTakeFirst();
      if (won) owned.add(p);
    }
    return owned;
  }

  /** Leaves the group: its partitions are free for the other members at once. */
  async leave(): Promise<void> {
    const { topic_id, group_name } = this.#key();
    await this.db.deleteFrom('aios_group_leases').where('topic_id', '=', topic_id).where('group_name', '=', group_name).where('member_id', '=', this.member).execute();
    await this.db.deleteFrom('aios_group_members').where('topic_id', '=', topic_id).where('group_name', '=', group_name).where('member_id', '=', this.member).execute();
  }
}
