import type { Logger } from "../log.ts";
import { StoreUnavailableError } from "../store/guild-store.ts";
import {
  type AutocompleteContext,
  type Choice,
  type Command,
  type CommandContext,
  type CommandServices,
  InteractionExpiredError,
  type ModalContext,
} from "./context.ts";
import type { RateLimiter } from "./rate-limit.ts";
import { schedule as realSchedule, type Schedule } from "./timers.ts";

export const GENERIC_ERROR = "Something went wrong; the error was logged.";

/** Discord drops an interaction not answered within 3 s; a slow handler is deferred before that. */
const AUTO_DEFER_MS = 2_000;

export interface RouterOptions {
  readonly commands: readonly Command[];
  readonly services: CommandServices;
  readonly limiter: RateLimiter;
  readonly logger: Logger;
  readonly autoDeferMs?: number;
  readonly schedule?: Schedule;
}

export interface Router {
  command(ctx: CommandContext): Promise<void>;
  /** Never rejects: a failing autocomplete offers no choices. */
  autocomplete(ctx: AutocompleteContext): Promise<readonly Choice[]>;
  modal(ctx: ModalContext): Promise<void>;
}

/**
 * Sends each interaction to its command and guarantees an answer: a rate-limited, unknown,
 * failing or silent handler still gets an ephemeral message, and every failure is logged with
 * the guild, command and user.
 */
export function createRouter(options: RouterOptions): Router {
  const { services, limiter, logger } = options;
  const byName = new Map(options.commands.map((command) => [command.data.name, command]));
  const autoDeferMs = options.autoDeferMs ?? AUTO_DEFER_MS;
  const schedule = options.schedule ?? realSchedule;

  async function answer(ctx: CommandContext | ModalContext, content: string, context: object): Promise<void> {
    try {
      await ctx.reply({ content, ephemeral: true });
    } catch (error) {
      logger.warn({ ...context, err: error }, "could not answer the interaction");
    }
  }

  async function run(
    ctx: CommandContext | ModalContext,
    context: object,
    handler: () => Promise<void>,
  ): Promise<void> {
    const cancelAutoDefer = schedule(() => {
      if (ctx.state !== "none") return;
      logger.debug(context, "handler is slow; deferring the answer");
      ctx
        .defer({ ephemeral: true })
        .catch((error: unknown) => logger.warn({ ...context, err: error }, "could not defer"));
    }, autoDeferMs);
    try {
      await handler();
      if (ctx.state !== "replied") {
        logger.error(context, "handler finished without answering");
        await answer(ctx, GENERIC_ERROR, context);
      }
    } catch (error) {
      if (error instanceof InteractionExpiredError) {
        // One line, no stack: the member saw "The application did not respond"; retrying is theirs.
        logger.warn(
          { ...context, state: ctx.state },
          "the interaction expired before it was answered (Discord allows 3 s)",
        );
        return;
      }
      if (error instanceof StoreUnavailableError) {
        // The store logged the database failure; the member is told to retry.
        logger.warn(context, "command failed: the database is unavailable");
        await answer(ctx, error.message, context);
        return;
      }
      logger.error({ ...context, err: error }, "command failed");
      await answer(ctx, GENERIC_ERROR, context);
    } finally {
      cancelAutoDefer();
    }
  }

  return {
    async command(ctx) {
      const name =
        ctx.options.subcommand === null ? ctx.commandName : `${ctx.commandName} ${ctx.options.subcommand}`;
      const context = { guildId: ctx.guildId, command: name, userId: ctx.userId };
      const command = byName.get(ctx.commandName);
      if (command === undefined) {
        logger.warn(context, "unknown command");
        await answer(
          ctx,
          "I don't know this command; it may be left over from another version of me.",
          context,
        );
        return;
      }
      const verdict = limiter.take(ctx.guildId ?? `user:${ctx.userId}`);
      if (!verdict.ok) {
        logger.info(context, "command rate-limited");
        const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
        await answer(
          ctx,
          `Slow down: this server is sending me commands too fast. Try again in ${seconds} s.`,
          context,
        );
        return;
      }
      logger.debug(context, "command");
      await run(ctx, context, () => command.execute(ctx, services));
    },

    async autocomplete(ctx) {
      try {
        return byName.get(ctx.commandName)?.autocomplete?.(ctx, services) ?? [];
      } catch (error) {
        logger.warn(
          { guildId: ctx.guildId, command: ctx.commandName, userId: ctx.userId, err: error },
          "autocomplete failed",
        );
        return [];
      }
    },

    async modal(ctx) {
      const commandName = ctx.customId.split(":")[0] ?? "";
      const context = { guildId: ctx.guildId, command: commandName, modal: ctx.customId, userId: ctx.userId };
      const submit = byName.get(commandName)?.submitModal;
      if (submit === undefined) {
        logger.warn(context, "unknown modal");
        await answer(ctx, "This form is no longer handled; run the command again.", context);
        return;
      }
      await run(ctx, context, () => submit(ctx, services));
    },
  };
}
