import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { eventStream } from '../common/http-drain';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { ParentTokenEntity } from './parent-token.entity';
import { ChildClaims, ParentTokensService } from './parent-tokens.service';
import { RevocationIndexService } from '../revocation/revocation-index.service';
import { TokenLifecycleService } from './token-lifecycle.service';

const HEARTBEAT_MS = 15_000;

interface Watcher {
  raw: ServerResponse;
  close: () => void;
}

/**
 * `GET /tokens/stream`: Server-Sent Events per parent. New children arrive by NOTIFY from any
 * replica (so whichever replica minted them, every open stream hears of it); a `revoked` event
 * is sent, and the stream closed, when the parent's jti is revoked on any replica.
 */
@Injectable()
export class ChildTokenStream implements OnModuleInit, OnModuleDestroy {
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly parents: ParentTokensService,
    private readonly revocation: RevocationIndexService,
    private readonly lifecycle: TokenLifecycleService,
  ) {}

  onModuleInit(): void {
    this.unsubscribe.push(
      this.parents.onChild((event) => {
        const watchers = this.watchers.get(event.parentJti);
        if (!watchers?.size) return;
        const data = this.lifecycle.childView(event.claims);
        for (const watcher of watchers) send(watcher.raw, 'token', data);
      }),
      this.revocation.onJtiRevoked((jti) => {
        const watchers = this.watchers.get(jti);
        if (!watchers) return;
        for (const watcher of [...watchers]) {
          send(watcher.raw, 'revoked', { parent_jti: jti });
          watcher.close();
        }
      }),
    );
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribe) off();
    for (const watchers of this.watchers.values())
      for (const watcher of [...watchers]) watcher.close();
  }

  /** Takes over the response: headers now, the newest live child at once, then events. */
  open(parent: ParentTokenEntity, request: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    eventStream(reply); // ended on shutdown (onModuleDestroy): draining does not wait for it
    const raw = reply.raw;
    raw.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-store',
      Connection: 'keep-alive',
      // nginx would otherwise buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    raw.write('retry: 3000\n\n');
    const set = this.watchers.get(parent.jti) ?? new Set<Watcher>();
    this.watchers.set(parent.jti, set);
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const watcher: Watcher = {
      raw,
      close: () => {
        clearInterval(heartbeat);
        set.delete(watcher);
        if (set.size === 0 && this.watchers.get(parent.jti) === set)
          this.watchers.delete(parent.jti);
        if (!raw.writableEnded) raw.end();
      },
    };
    set.add(watcher);
    request.raw.on('close', watcher.close);
    const latest = parent.latestChild as ChildClaims | null;
    if (latest && latest.exp > Date.now() / 1000)
      send(raw, 'token', this.lifecycle.childView(latest));
  }
}

function send(raw: ServerResponse, event: string, data: unknown): void {
  if (!raw.writableEnded) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
